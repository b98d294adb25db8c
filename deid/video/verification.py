"""``deid verify`` for a video: the written video judged again, sighting by sighting, against its report.

The report (:class:`deid.video.VideoReport`) names the source and the written video with their
SHA-256, every sighting's box and verdict as written, and each track's reference frames. The
source is read again and every sighting's original cut at its reported box; the written video
is decoded and every sighting cut from it and judged by the run's rule
(:class:`deid.video.judging.Judge`: the same references, the same gap) and the run's bundled
adversary (named by the report's ``judged_by``), without the margin the run judged with
(:meth:`deid.adversary.Adversary.exact`). A sighting reported private that is matched now is
*contradicted*. A path the report gives is taken as given, else in the folder the run was
started in, found from the report's place (it lies beside the written video), and the written
video else beside the report; the file whose SHA-256 is the report's is taken.

A track reported private with frames between its first and last sighting that have none of its
own (a report of an earlier release) fails: nothing was judged there. What it cannot see: the
report itself is not signed. Verify checks the files against the report
(its tracks, boxes and references must hold together), not whether the report lists everyone:
the run's second look (``missed``) is what says a person was left out, and it is printed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from deid.adversary import Adversary
from deid.boxes import Box
from deid.environment import differences
from deid.video.follow import Sighting, unsighted
from deid.video.io import VIDEO_SUFFIXES, VideoError, VideoReader, cut_bytes
from deid.video.judging import Judge
from deid.video.resume import WORK_SUFFIX, working_on
from deid.video.run import FORMAT, TrackReport, VideoReport

#: What a sighting's verdict came to, as :meth:`VideoVerification.table` names it.
LABELS = {
    "verified": "sightings verified private",
    "not_private": "not private (as reported)",
    "contradicted": "contradicted (reported private, matched as written)",
    "private_now": "private now (reported matched)",
}


@dataclass
class VideoVerification:
    """What :func:`verify_video` found.

    Attributes:
        report: the report checked.
        output: the written video checked.
        problems: why the written video does not hold its report as a whole: missing, changed
            since the run (SHA-256), not decoding to the end, or its source unreadable or changed
            (nothing could be judged then).
        counts: sightings per outcome (:data:`LABELS`).
        contradicted: ``(track, frame)`` of each sighting reported private and matched now.
        tracks: tracks private in every frame now, and all tracks (a track the report calls
            matched can be private now: its sightings "private now" judged without the run's
            margin, so the count can exceed the report's).
        missed: people the run's second look found and the treatments left untreated (the report's).
        camera_moved: frames in which the camera moved, or the light changed (the report's).
        untreated: blobs of moving pixels outside every sighting (the report's).
        private: the report's verdict on the whole video (``success``).
        environment: what differs between the run's environment and this process's
            (:func:`deid.environment.differences`): where a verdict can have moved from.
    """

    report: Path
    output: Path
    problems: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LABELS, 0))
    contradicted: list[tuple[int, int]] = field(default_factory=list)
    tracks: tuple[int, int] = (0, 0)
    missed: int = 0
    camera_moved: int = 0
    untreated: int = 0
    private: bool = False
    environment: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 when the written video holds every verdict of its report, 1 otherwise."""
        return 1 if self.problems or self.contradicted else 0

    def table(self) -> str:
        """The counts as an aligned text table."""
        width = max(len(label) for label in LABELS.values())
        lines = [f"{LABELS[k]:{width}s} {n:6d}" for k, n in self.counts.items()]
        lines.append(
            f"{'tracks private in every frame, judged now':{width}s} {self.tracks[0]:6d} of {self.tracks[1]}"
        )
        lines.append(f"{'people the second look listed as missed':{width}s} {self.missed:6d}")
        if self.untreated:
            lines.append(f"{'moving pixels outside every sighting (blobs)':{width}s} {self.untreated:6d}")
        if self.camera_moved:
            lines.append(f"{'frames in which the camera moved':{width}s} {self.camera_moved:6d}")
        return "\n".join(lines)


def video_reports(report_or_folder: str | os.PathLike[str]) -> list[Path]:
    """The video reports a path names: the file itself when it is one; in a folder, every
    ``*.json`` that is one or whose name is a video's or a frame folder's beside it plus
    ``.json`` (so a damaged report is verified, and fails)."""
    path = Path(report_or_folder)
    if path.is_dir():
        return [p for p in sorted(path.glob("*.json")) if _is_video_report(p)]
    if path.suffix.lower() in VIDEO_SUFFIXES and path.with_name(path.name + ".json").exists():
        return [path.with_name(path.name + ".json")]  # the video named: its report beside it
    return [path] if path.suffix == ".json" and _is_video_report(path) else []


def unreported(folder: str | os.PathLike[str]) -> list[Path]:
    """The video files in ``folder`` with no report beside them (``NAME.json``). (A folder of
    frames without one is not told from a folder a run of images wrote.)"""
    return [
        path
        for path in sorted(Path(folder).iterdir())
        if path.suffix.lower() in VIDEO_SUFFIXES
        and not path.name.startswith(".")  # a run's temporary file
        and not path.with_name(path.name + ".json").exists()
    ]


def unfinished(folder: str | os.PathLike[str]) -> list[Path]:
    """The videos in ``folder`` whose run left its work (``.NAME.deid``,
    :func:`deid.video.resume.work_folder`) and wrote no report: killed, or still running."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    videos = [working_on(w) for w in sorted(folder.glob(f".*{WORK_SUFFIX}")) if w.is_dir()]
    return [v for v in videos if not v.with_name(v.name + ".json").exists()]


def _is_video_report(path: Path) -> bool:
    """Whether ``path`` is a video's report: its format says so, or (damaged) it lies beside the
    video or frame folder it is named for."""
    if path.name != "report.json" and path.with_suffix("").exists():
        return True
    try:
        return bool(json.loads(path.read_text(encoding="utf-8")).get("format") == FORMAT)
    except (OSError, ValueError, AttributeError):
        return False


def verify_video(
    report: str | os.PathLike[str], *, adversary: Adversary | None = None, device: str = "cpu"
) -> VideoVerification:
    """Judge a concealed video again against its JSON report (see the module's docstring).

    Args:
        report: the ``.json`` report :func:`deid.video.conceal_video` wrote.
        adversary: the adversary to judge with; by default the bundled one the report names.
        device: where the bundled adversary runs.

    Raises:
        VideoError: the report cannot be read, is not a video report of this version, does not
            hold together (a sighting outside its frame or the video, a reference that is not a
            frame of its track), or names an adversary this version does not bundle.

    Example:
        >>> result = verify_video("out/clip.mp4.json")  # doctest: +SKIP
        >>> result.exit_code, result.counts["contradicted"]  # doctest: +SKIP
        (0, 0)
    """
    path = Path(report)
    saved = VideoReport.read(path)
    _check_report(saved, path)
    problems: list[str] = _gaps(saved)
    folder = _run_folder(path, saved.output)
    outputs = [*_candidates(saved.output, folder), path.with_suffix("")]  # last: beside the report
    written = _located(saved.output, outputs, saved.fps, saved.output_sha256, "written video", problems)
    found = Path(written.info.path) if written is not None else None
    before = len(problems)
    sources = _candidates(saved.source, folder)
    source = _located(saved.source, sources, saved.fps, saved.source_sha256, "source", problems, not_=found)
    unjudged = len(problems) > before  # not the run's source: nothing to judge against
    output = found or Path(saved.output)
    result = VideoVerification(
        path,
        output,
        problems,
        tracks=(0, len(saved.tracks)),
        missed=len(saved.missed),
        camera_moved=len(saved.camera_moved),
        untreated=len(saved.untreated),
        private=saved.success,
        environment=differences(saved.environment),
    )
    if written is None or source is None or unjudged:
        return result
    judge = (adversary or _bundled(saved, path, device)).exact()  # without the run's margin
    verdicts = judged_again(saved, source, written, judge)
    if written.problem:  # (a source that stops decoding early did so for the run: its notes say so)
        problems.append(f"written video {written.info.path}: {written.problem}")
    for track, now in zip(saved.tracks, verdicts, strict=True):
        for sighting, private in zip(track.sightings, now, strict=True):
            if sighting[6]:
                outcome = "verified" if private else "contradicted"
            else:
                outcome = "private_now" if private else "not_private"
            result.counts[outcome] += 1
            if outcome == "contradicted":
                result.contradicted.append((track.track, sighting[0]))
    result.tracks = (sum(all(now) for now in verdicts), len(verdicts))
    return result


def _gaps(report: VideoReport) -> list[str]:
    """A problem for each track reported private with frames between its first and last
    sighting that have none of its own: nothing there was judged, and the person may be in the
    clear (reports of releases before frames were bridged, :func:`deid.video.recut.recut`)."""
    problems = []
    for t in report.tracks:
        missing = unsighted([s[0] for s in t.sightings])
        if t.private and missing:
            shown = ", ".join(map(str, missing[:10])) + (
                f" and {len(missing) - 10} more" if len(missing) > 10 else ""
            )
            problems.append(
                f"track {t.track} is reported private, but has no sighting on frames {shown} between "
                f"its first and last: the person may be in the clear there, unjudged"
            )
    return problems


def judged_again(
    report: VideoReport, source: VideoReader, written: VideoReader, adversary: Adversary
) -> list[list[bool]]:
    """Per track of ``report``, per sighting (in the report's order): private as cut from the
    ``written`` video, judged against the originals cut from ``source`` at the reported boxes,
    with the report's references and gap (a sighting whose frame was not written is not
    private)."""
    wanted: list[list[tuple[int, Box, str]]] = [[] for _ in range(report.frames_read)]
    for t in report.tracks:
        for frame, x, y, w, h, how, _ in t.sightings:
            wanted[frame].append((t.track, Box(x, y, w, h), how))
    by_frame: list[list[Sighting]] = [[] for _ in wanted]
    tracks: dict[int, list[Sighting]] = {t.track: [] for t in report.tracks}
    for frame in source:
        if frame.index >= len(wanted):
            break
        for number, box, how in wanted[frame.index]:
            silhouette = torch.ones(box.h, box.w, dtype=torch.bool)  # the judge looks at the box
            s = Sighting(frame.index, number, box, silhouette, None, how, cut_bytes(frame.pixels, box))
            by_frame[frame.index].append(s)
            tracks[number].append(s)
    cut = sum(map(len, by_frame))
    if cut < sum(map(len, wanted)):
        last = max(i for i, frame in enumerate(wanted) if frame)
        raise VideoError(
            f"source {source.info.path}: decodes {sum(1 for f in by_frame if f)} of the frames with "
            f"sightings, the report needs frames up to {last}"
        )
    references = [t.references for t in report.tracks]
    judge = Judge([tracks[t.track] for t in report.tracks], adversary, references=references, gap=report.gap)
    verdicts = judge.check_written(written, by_frame)
    at = [
        dict(zip((s.frame for s in tracks[t.track]), v, strict=True))
        for t, v in zip(report.tracks, verdicts, strict=True)
    ]
    return [[now[s[0]] for s in t.sightings] for t, now in zip(report.tracks, at, strict=True)]


def _check_report(report: VideoReport, path: Path) -> None:
    """Raise :class:`VideoError` unless ``report``'s tracks hold together (see :func:`verify_video`)."""
    header = {"fps": report.fps, "frames_read": report.frames_read, "gap": report.gap, "size": report.size}
    if not (
        isinstance(report.fps, (int, float))
        and report.fps > 0
        and isinstance(report.frames_read, int)
        and isinstance(report.gap, int)
        and report.gap >= 1
        and isinstance(report.size, list)
        and len(report.size) == 2
        and all(isinstance(v, int) and v > 0 for v in report.size)
    ):
        raise VideoError(
            f"report {path}: {header}: expected a frame rate > 0, frame counts and a [width, height]"
        )
    width, height = report.size
    numbers = [t.track for t in report.tracks]
    if len(set(numbers)) != len(numbers):
        raise VideoError(f"report {path}: track numbers repeat ({numbers})")
    for t in report.tracks:
        _check_track(t, width, height, report.frames_read, path)


def _check_track(t: TrackReport, width: int, height: int, frames: int, path: Path) -> None:
    where = f"report {path}, track {t.track}"
    if not t.sightings or not t.references:
        raise VideoError(f"{where}: no sightings or no references; expected at least one of each")
    seen: list[int] = []
    for sighting in t.sightings:
        if len(sighting) != 7 or not all(isinstance(v, int) for v in sighting[:5]):
            raise VideoError(f"{where}: sighting {sighting} is not [frame, x, y, w, h, how, private]")
        frame, x, y, w, h = sighting[:5]
        if not 0 <= frame < frames or (seen and frame <= seen[-1]):
            raise VideoError(
                f"{where}: sighting at frame {frame}: expected frames in increasing order within the "
                f"video's frames_read ({frames}), after frame {seen[-1] if seen else None}"
            )
        if not (min(w, h) >= 1 and 0 <= x <= width - w and 0 <= y <= height - h):
            raise VideoError(
                f"{where}, frame {frame}: box {[x, y, w, h]} is not inside the {width}x{height} frame"
            )
        seen.append(frame)
    outside = sorted(set(t.references) - set(seen))
    if outside:
        raise VideoError(f"{where}: references {outside} are not frames of the track")
    verdicts = [bool(s[6]) for s in t.sightings]
    if t.private_frames != sum(verdicts) or t.private != all(verdicts):
        raise VideoError(
            f"{where}: private_frames {t.private_frames} and private {t.private} are not its sightings' "
            f"({sum(verdicts)} of {len(verdicts)} private)"
        )


def _run_folder(report: Path, output: str) -> Path | None:
    """The folder the run was started in, which the paths it was given are relative to: the
    report's folder less the folders of ``output`` as given (the report lies beside it)."""
    if Path(output).is_absolute():
        return None
    given = Path(output).parent.parts
    folder = report.resolve().parent
    cut = len(folder.parts) - len(given)
    if given and folder.parts[cut:] != given:
        return None
    return Path(*folder.parts[:cut])


def _candidates(given: str, folder: Path | None) -> list[Path]:
    """Where a path the run was given may be: as given, and in the run's ``folder``."""
    return [Path(given)] + ([folder / given] if folder is not None else [])


def _located(
    given: str,
    candidates: list[Path],
    fps: float,
    sha256: str,
    what: str,
    problems: list[str],
    *,
    not_: Path | None = None,
) -> VideoReader | None:
    """A reader for the file the run read or wrote: the first of ``candidates`` (``given`` as
    given, then where the run's folder puts it, ...) whose SHA-256 is the report's, never the
    file ``not_``. When none is, a problem is said, and the reader of the first that reads is
    returned (changed since the run), or None (it cannot be read)."""
    tried: list[str] = []
    readers: list[VideoReader] = []
    for path in dict.fromkeys(candidates):
        if not_ is not None and path.exists() and path.resolve() == not_.resolve():
            continue
        try:
            reader = VideoReader.open(path, fps=fps)
        except VideoError as exc:
            tried.append(str(exc))
            continue
        digest = reader.sha256()
        if digest == sha256:
            return reader
        tried.append(f"{path} has SHA-256 {digest}")
        readers.append(reader)
    if readers:
        problems.append(
            f"{what}: changed since the run: the report's SHA-256 is {sha256}; " + "; ".join(tried)
        )
        return readers[0]
    problems.append(
        f"{what} {given}: cannot be read ({'; '.join(tried)}); the report gives paths as the run was "
        "given them: run deid verify from the folder the conceal run was started in"
    )
    return None


def _bundled(report: VideoReport, path: Path, device: str) -> Adversary:
    """The bundled adversary whose models are the report's ``judged_by``."""
    try:
        adversary = Adversary.default(fused="fused" in report.judged_by, device=device)
    except RuntimeError as exc:  # no such device here
        raise VideoError(f"--device {device}: the adversary cannot run there ({exc})") from exc
    if [m.arch for m in adversary.models] != report.judged_by:
        raise VideoError(
            f"report {path}: judged by models {report.judged_by}, which no adversary this version "
            "bundles is made of: verifying with another would not be the run's verdict"
        )
    return adversary

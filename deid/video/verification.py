"""``deid verify`` for a video: the written video judged again, sighting by sighting, against its report.

The report (:class:`deid.video.VideoReport`) names the source and the written video with their
SHA-256, every sighting's box and verdict as written, and each track's reference frames. The
source is read again and every sighting's original cut at its reported box; the written video
is decoded and every sighting cut from it and judged by the run's rule
(:class:`deid.video.judging.Judge`: the same references, the same gap) and the run's bundled
adversary (named by the report's ``judged_by``). A sighting reported private that is matched now
is *contradicted*. Paths are as the run was given them: verify from the folder it was started in
(a written video missing there is looked for beside the report, where the run puts it).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from deid.adversary import Adversary
from deid.boxes import Box
from deid.video.follow import Sighting
from deid.video.io import VideoError, VideoReader, cut_bytes
from deid.video.judging import Judge
from deid.video.run import FORMAT, VideoReport

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
            since the run (SHA-256), unreadable, or its source unreadable or changed (nothing
            could be judged then).
        counts: sightings per outcome (:data:`LABELS`).
        contradicted: ``(track, frame)`` of each sighting reported private and matched now.
        tracks: tracks private in every frame now, and all tracks.
    """

    report: Path
    output: Path
    problems: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LABELS, 0))
    contradicted: list[tuple[int, int]] = field(default_factory=list)
    tracks: tuple[int, int] = (0, 0)

    @property
    def exit_code(self) -> int:
        """0 when the written video holds every verdict of its report, 1 otherwise."""
        return 1 if self.problems or self.contradicted else 0

    def table(self) -> str:
        """The counts as an aligned text table."""
        width = max(len(label) for label in LABELS.values())
        lines = [f"{LABELS[k]:{width}s} {n:6d}" for k, n in self.counts.items()]
        return "\n".join(
            [*lines, f"{'tracks private in every frame':{width}s} {self.tracks[0]:6d} of {self.tracks[1]}"]
        )


def video_reports(report_or_folder: str | os.PathLike[str]) -> list[Path]:
    """The video reports a path names: the file itself when it is one; in a folder without a
    ``report.json`` (a folder run's), every ``*.json`` that is one (empty otherwise)."""
    path = Path(report_or_folder)
    if path.is_dir():
        return (
            []
            if (path / "report.json").exists()
            else [p for p in sorted(path.glob("*.json")) if _is_video_report(p)]
        )
    return [path] if path.suffix == ".json" and _is_video_report(path) else []


def _is_video_report(path: Path) -> bool:
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
        VideoError: the report cannot be read, is not a video report of this version, or names
            an adversary this version does not bundle.

    Example:
        >>> result = verify_video("out/clip.mp4.json")  # doctest: +SKIP
        >>> result.exit_code, result.counts["contradicted"]  # doctest: +SKIP
        (0, 0)
    """
    path = Path(report)
    saved = VideoReport.read(path)
    if any(not t.references for t in saved.tracks) or not saved.output_sha256:
        raise VideoError(
            f"report {path}: written by a version of deid that did not record the judge's references "
            "and the videos' SHA-256; conceal the video again to verify it"
        )
    output = Path(saved.output)
    if not output.exists() and path.name.endswith(".json") and path.with_suffix("").exists():
        output = path.with_suffix("")  # the run's output beside its report, verified from elsewhere
    result = VideoVerification(path, output, tracks=(0, len(saved.tracks)))
    written = _opened(output, saved.fps, saved.output_sha256, "written video", result.problems)
    problems = len(result.problems)
    source = _opened(Path(saved.source), saved.fps, saved.source_sha256, "source", result.problems)
    if written is None or source is None or len(result.problems) > problems:
        return result  # without the source the run read, nothing can be judged
    verdicts = judged_again(saved, source, written, adversary or _bundled(saved, path, device))
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


def judged_again(
    report: VideoReport, source: VideoReader, written: VideoReader, adversary: Adversary
) -> list[list[bool]]:
    """Per track of ``report``, per sighting: private as cut from the ``written`` video, judged
    against the originals cut from ``source`` at the reported boxes, with the report's
    references and gap (a sighting whose frame was not written is not private)."""
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
    if sum(map(len, by_frame)) < sum(map(len, wanted)):
        raise VideoError(f"source {report.source} holds fewer frames than the report's sightings")
    references = [t.references for t in report.tracks]
    judge = Judge([tracks[t.track] for t in report.tracks], adversary, references=references, gap=report.gap)
    return judge.check_written(written, by_frame)


def _opened(path: Path, fps: float, sha256: str, what: str, problems: list[str]) -> VideoReader | None:
    """A reader for ``path``, None (and a problem said) when it cannot be read; a problem is
    also said when it is not the file the run wrote or read (``sha256``)."""
    try:
        reader = VideoReader.open(path, fps=fps)
    except VideoError as exc:
        problems.append(f"{what}: {exc} (verify from the folder the run was started in)")
        return None
    if reader.sha256() != sha256:
        problems.append(f"{what} {path}: changed since the run (its SHA-256 is not the report's)")
    return reader


def _bundled(report: VideoReport, path: Path, device: str) -> Adversary:
    """The bundled adversary whose models are the report's ``judged_by``."""
    for fused in (True, False):
        adversary = Adversary.default(fused=fused, device=device)
        if [m.arch for m in adversary.models] == report.judged_by:
            return adversary
    raise VideoError(
        f"report {path}: judged by models {report.judged_by}, which no adversary this version bundles "
        "is made of: verifying with another would not be the run's verdict"
    )

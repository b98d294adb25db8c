"""A video concealed person by person: each track gets one treatment, rendered on every frame it
is seen in, and every person is judged again as cut from the video as written.

1. Follow (:func:`deid.video.follow_people`): sightings per frame, tied into tracks; pieces of
   one person's track joined again (:func:`deid.video.linking.link_tracks`); sightings cut
   again in hindsight (:func:`deid.video.recut.recut`: carried ones put between their posed
   neighbours, every posed one's box grown to hold the head).
2. Decide: the conceal loop runs once per track, on ``samples`` of its sightings spread over the
   track (its appearances); all tracks in one batched call.
3. Render: the track's treatment on every sighting, each cut to its steadied body
   (:func:`deid.video.smoothing.steady_bodies`), pasted into the frames and encoded.
4. Judge: the written video is decoded again; every sighting is cut from it and checked by the
   adversary against the track's original appearances. A track is private only if all of its
   frames are, as written.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Sequence
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from deid.adversary import Adversary, resolve_adversary
from deid.boxes import Box, box_pixels, held_pixels, paste_crops
from deid.environment import environment
from deid.finder import Person, second_look, uncovered
from deid.loop.bodies import Body, head_scaled
from deid.loop.config import ConcealConfig
from deid.loop.grouping import LINKS
from deid.loop.results import PersonResult
from deid.loop.search import conceal_people
from deid.loop.untreated import Outline, conceal_shapes, conceal_untreated, grown
from deid.video.boxing import box_matched, render_track, track_covers
from deid.video.follow import (
    THOROUGH,
    FollowConfig,
    Follower,
    Sighting,
    person_blobs,
    sightings_of,
    unsighted,
)
from deid.video.io import (
    QUALITY,
    Frame,
    VideoError,
    VideoReader,
    VideoWriter,
    as_float,
    check_quality,
    to_bytes,
    to_pixels,
    to_tensor,
)
from deid.video.judging import BATCH, Judge, batches, spread
from deid.video.linking import link_tracks
from deid.video.moving import moved_pixels, still_background
from deid.video.recut import recut
from deid.video.resume import Checkpoints, SavedFollower, source_key
from deid.video.smoothing import steady_bodies
from reid_model.io import write_bytes_atomic

#: The second look, every ``look_every``-th frame half-way between the follower's thorough looks,
#: with their settings.
LOOK = THOROUGH
#: ``look_every`` by default: on PETS S2.L1 a look takes about 1.2 s a frame, 23 s of the clip's
#: 541 s at every 40th frame.
LOOK_EVERY = 40
#: The ``format`` of a video's JSON report (a folder's is ``deid-conceal-report``).
FORMAT = "deid-video-report"
#: Tracks decided per call of the conceal loop (and per piece of saved work): on PETS S2.L1
#: the loop decided 64 tracks in 38 s as one call, in 48 s as four calls of 16 (median of three
#: each, alternated); a killed run loses at most one call's work.
CHUNK = 64
#: The form of the work a run saves (:class:`deid.video.resume.Checkpoints`): work saved in
#: another form (by an earlier release) is not taken up. 3: sightings' boxes reach below the
#: feet (:func:`deid.loop.feet.with_feet`); 4: and past them on either side, and the follower
#: looks again where it sees a person cut at their box's side
#: (:data:`deid.video.follow.WINDOW_WIDTH`); 5: a person concealed by box gets a stand-in figure
#: first (:class:`deid.operators.Figure`); 6: a track on its whole box already tries its
#: figure after its own colours (:func:`deid.video.boxing.box_palette`); 7: a person found within
#: their width of a side, unconfirmed before, is concealed back to that side
#: (:meth:`deid.video.follow.Follower._walked_in`); 8: the finder looks at the last frame, a
#: track whose person the pose model takes for another's is lost, not ended, and a track's
#: frames without a sighting are bridged
#: (:func:`deid.video.recut.recut`); 9: a person the pose model does not confirm is followed by
#: their look (``"matched"``), and a posed sighting whose head sags below its neighbours' is
#: concealed whole (:data:`deid.video.recut.SAGS`); 10: a box short for a whole person at its
#: place reaches down to their feet (:class:`deid.video.stature.Stature`); 11: the thorough look
#: drops tiles' windows far larger than the tile (:data:`deid.video.follow.THOROUGH`), and each
#: sighting takes in the moving pixels joined to its own (:mod:`deid.video.moving`); 12: a
#: track first seen at the video's start away from the frame's edges is extended back to its
#: first frame (:func:`deid.video.recut.recut`); 13: a lost track predicted out of the frame
#: at a side is concealed over the pixels that still move there
#: (:meth:`deid.video.follow.Follower._walking_out`); 14: a posed sighting as wide as two people
#: is concealed whole (:meth:`deid.video.stature.Stature.wide`).
WORK = 14
#: A sighting's concealed crop ``(3, h, w)`` uint8 and the pixels its treatment set ``(h, w)``
#: bool (:func:`deid.video.boxing.track_covers`).
Drawn = tuple[torch.Tensor, torch.Tensor]


@dataclass
class TrackReport:
    """One person of a video: where they are, what was done, and the verdict as written.

    Attributes:
        track: the track's number.
        frames: ``[first, last]`` frame indices.
        seen: sightings by how they were made (see :data:`deid.video.HOW`).
        treatment: the conceal loop's record for the person (see :meth:`PersonResult.summary`),
            decided on a few of their sightings: ``decided_private`` (the summary's ``success``)
            and ``stopped`` are the loop's verdict there, before every frame was drawn and
            judged; ``private`` and the sightings' verdicts are the track's, as written.
        private_frames: how many of the track's frames the adversary finds private as written.
        boxed: frames where the treatment left the person matched, so their whole box was
            concealed, and with what: how many frames took each treatment (``own``, a noisy copy
            ``own+noise K``, a colour of the fallback's palette) and how many are still matched
            (None: no frame needed it); "all N frames" when one was drawn on the whole track,
            for one look throughout (:func:`deid.video.boxing.box_matched`).
        pieces: how many pieces the tracker left that were joined into this person
            (:func:`deid.video.linking.link_tracks`).
        private: whether every frame of the track, from its first to its last, is private as
            written (a frame in between without a sighting of it is not).
        references: the frames of the track's original appearances each sighting was judged
            against (:class:`deid.video.judging.Judge`; ``deid verify`` judges with them again).
        sightings: per frame of the track, ``[frame, x, y, w, h, how, private]`` (the box in
            pixels; how it was seen, see :data:`deid.video.HOW`; the verdict as written).
    """

    track: int
    frames: list[int]
    seen: dict[str, int]
    treatment: dict[str, Any]
    private_frames: int
    boxed: str | None
    pieces: int
    private: bool
    references: list[int]
    sightings: list[list[Any]] = field(default_factory=list, repr=False)


@dataclass
class VideoReport:
    """The outcome of :func:`conceal_video`, as written to its JSON report.

    Attributes:
        source, output: the paths given.
        frames_read, frames_written: frames decoded from the source, and written.
        fps, size: the frame rate and ``[width, height]``.
        tracks: one :class:`TrackReport` per person followed.
        missed: ``[frame, x, y, w, h]`` of each person the second look (``look_every``) found
            whose silhouette the written frame's treatments hold less than
            :data:`deid.finder.COVERED` of (not the sightings' boxes: a box can hold a second
            person whom its treatment, in the first one's shape, leaves as they were):
            concealed in that frame in their silhouette and head as ``--head`` says (as an
            image's ``untreated``), and likely left in the clear near it.
        untreated: ``[frame, x, y, w, h]`` of each person-shaped blob of pixels that differ from
            the video's still background (:func:`deid.video.moving.moved_pixels`, blobs with
            their thin limbs, :func:`deid.video.follow.person_blobs` with ``limbs``) outside
            every sighting's box: a person moving in the clear with no sighting, or a part of
            one outside their box. Checked on every frame (the second look, on every
            ``look_every``-th): a new user's review found a man walking in full view for 7
            frames of a cut of PETS S2.L1 from frame 150, beside a box that shrank off him, and
            a man beside another on frame 0 of a cut from 620 whose track's box, extended back,
            sat on the other. Inside a box, the sighting's verdict speaks (and a person a second
            look finds there left untreated is ``missed``). Empty when the follower does not use
            motion.
        camera_moved: frames in which more than a fifth of the pixels differ from the video's
            still background (:func:`deid.video.moving.moved_pixels`): the camera moved, or the
            light changed. The steps that catch people the looks missed, by the pixels that
            move, are off there, and a new user's review of panning cuts of PETS S2.L1 found
            people in the clear with no sighting and no flag (a man for 30 of 70 frames): the
            video is not private. Empty when the follower does not use motion.
        frames_without_people: frames in which nobody was seen.
        frames_with_unposed: frames with a person concealed by their box because the pose model
            could not confirm them there (a lost track's predicted box, a bridged frame of a
            track, or an unsure proposal).
        notes: what the reader and the writer had to say (decoding stopped early, the encoder
            used, the audio copied or not).
        read_whole: False when the source stopped being read before its end (a frame that does
            not decode, or a file shorter than its header declares; the notes say where): the
            frames after are not in the output.
        seconds: time per stage (follow, decide, render, judge).
        judged_by: the architectures of the adversary's models, each of which must find a
            sighting private (the bundled strong adversary: ``stripe``, ``color_stripes`` and
            ``fused``, the network with LOMO + XQDA; the fast one leaves ``fused`` out).
        gap: frames between a sighting and the references it is judged against.
        source_sha256, output_sha256: the SHA-256 of the source and of the written video
            (:meth:`VideoReader.sha256`), for ``deid verify``.
        environment: the Python, packages and bundled weights the run used
            (:func:`deid.environment.environment`; empty in a report of an earlier version).
    """

    source: str
    output: str
    frames_read: int
    frames_written: int
    fps: float
    size: list[int]
    tracks: list[TrackReport]
    missed: list[list[int]]
    frames_without_people: int
    frames_with_unposed: list[int]
    judged_by: list[str]
    gap: int
    source_sha256: str
    output_sha256: str
    notes: list[str] = field(default_factory=list)
    camera_moved: list[int] = field(default_factory=list)
    untreated: list[list[int]] = field(default_factory=list)
    read_whole: bool = True
    seconds: dict[str, float] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)

    @property
    def success(self) -> bool:
        """Whether every tracked person is private as written, anyone was found at all, the
        second look found nobody left out, nobody moved in the clear, and the camera stood
        still."""
        return (
            bool(self.tracks)
            and all(t.private for t in self.tracks)
            and not self.missed
            and not self.untreated
            and not self.camera_moved
        )

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, **asdict(self), "success": self.success}

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> VideoReport:
        """A report :func:`conceal_video` wrote, read back.

        Raises:
            VideoError: ``path`` cannot be read as JSON, is not a video report, or lacks a field.
        """
        try:
            saved = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise VideoError(f"report {path}: cannot be read as JSON ({exc})") from exc
        if not isinstance(saved, dict) or saved.pop("format", None) != FORMAT:
            raise VideoError(f"report {path}: not a deid video report (no format {FORMAT!r})")
        saved.pop("success", None)
        _check_fields(cls, saved, f"report {path}")
        if not isinstance(saved["tracks"], list):
            raise VideoError(f"report {path}: 'tracks' must be a list, got {type(saved['tracks']).__name__}")
        for t, track in enumerate(saved["tracks"]):
            _check_fields(TrackReport, track, f"report {path}, track {t}")
        saved["tracks"] = [TrackReport(**track) for track in saved["tracks"]]
        return cls(**saved)


def _check_fields(kind: type, saved: Any, where: str) -> None:
    """Raise :class:`VideoError` unless ``saved`` is a dict with exactly the fields of ``kind``."""
    if not isinstance(saved, dict):
        raise VideoError(f"{where}: expected an object, got {type(saved).__name__}")
    known = {f.name: f for f in fields(kind)}
    required = [n for n, f in known.items() if f.default is MISSING and f.default_factory is MISSING]
    missing, unknown = [n for n in required if n not in saved], [n for n in saved if n not in known]
    if missing or unknown:
        raise VideoError(
            f"{where}: fields missing {missing}, unknown {unknown}: a report of another version of "
            "deid, or edited"
        )


def conceal_video(
    source: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    config: ConcealConfig | None = None,
    follow: FollowConfig | None = None,
    adversary: Adversary | None = None,
    samples: int = 4,
    link: str = "track",
    fps: float = 10.0,
    report: str | os.PathLike[str] | None = None,
    progress: bool = True,
    look_every: int = LOOK_EVERY,
    resume: bool = False,
    segment: int = 100,
    quality: int = QUALITY,
) -> VideoReport:
    """Conceal every person of a video (or a folder of frames) and write it to ``output``.

    Args:
        source: a video file, or a folder of numbered frames (played at ``fps``).
        output: the concealed video file (its suffix picks the container), or a folder for
            frames. Never the source.
        config: the conceal loop's settings (:class:`ConcealConfig`); its ``seed`` makes the
            run repeatable.
        follow: how people are followed (:class:`FollowConfig`).
        adversary: the re-id adversary (the bundled one when None).
        samples: appearances per track the loop decides the treatment on.
        link: ``"track"``: the pieces of one person's track the tracker left (after an
            occlusion, a crossing) are joined again (:func:`deid.video.linking.link_tracks`) and
            share one treatment, so the person stays linkable under a pseudonym; ``"none"``:
            each piece gets a treatment of its own (a person who walks behind a tree comes out
            in other clothes).
        report: where the JSON report goes (default ``output`` + ``.json``).
        progress: show progress bars (frames per second, time left).
        look_every: every this many frames (0: never; starting half-way between the
            follower's first two thorough looks, so never on one), a second look at the
            original frame (:data:`LOOK`, small tiles); a person it confirms whom the
            treatments leave untreated is listed in ``missed`` and the video is not private.
        resume: take up the work a killed run with the same source and settings saved beside
            ``output`` (:class:`deid.video.resume.Checkpoints`); otherwise start over.
        segment: the work is saved every this many frames followed (and every
            :data:`CHUNK` tracks decided).
        quality: H.264's constant rate factor for the written video (0-51, lower is closer to
            the rendered frames; see :data:`deid.video.io.QUALITY`).

    Raises:
        VideoError: the source cannot be read, has no frame that decodes, or the output cannot
            be written.
        ValueError: ``output`` is the source, ``samples`` < 1, ``look_every`` < 0 or
            ``quality`` outside [0, 51].

    Example:
        >>> report = conceal_video("clip.avi", "out/clip.avi")  # doctest: +SKIP
        >>> report.frames_written == report.frames_read  # doctest: +SKIP
        True
    """
    if samples < 1 or look_every < 0 or segment < 1:
        raise ValueError(
            f"samples and segment must be >= 1 and look_every >= 0, got {samples}, {segment} and {look_every}"
        )
    check_quality(quality)
    if link not in LINKS:
        raise ValueError(f"link must be one of {list(LINKS)}, got {link!r}")
    source, output = Path(source), Path(output)
    if output.resolve() == source.resolve():
        raise ValueError(f"output {output} is the source video; choose another path")
    config, follow = config or ConcealConfig(), follow or FollowConfig()
    adversary = resolve_adversary(adversary)
    reader = VideoReader.open(source, fps=fps)
    info = reader.info
    seconds: dict[str, float] = {}
    settings = {"config": asdict(config), "follow": asdict(follow), "link": link, "samples": samples}
    key = {"source": source_key(source), "fps": fps, "work": WORK, **settings}
    saved = Checkpoints(output, key, resume=resume)
    notes: list[str] = []

    start = time.perf_counter()
    by_frame = _follow(reader, follow, saved, segment, progress)
    notes += [reader.problem] if reader.problem else []
    if not by_frame:
        raise VideoError(
            f"video {source} has no frame that decodes" + (f" ({reader.problem})" if reader.problem else "")
        )
    seconds["follow"] = time.perf_counter() - start

    start = time.perf_counter()
    gap = max(1, round(float(info.fps)))
    if link == "track":
        by_frame, pieces = link_tracks(by_frame, adversary, max_gap=3 * gap, fps=float(info.fps))
    else:
        pieces = {s.track: 1 for frame in by_frame for s in frame}
    background = still_background(reader, len(by_frame)) if follow.motion else None
    by_frame = recut(by_frame, reader, config.head_scale, follow.padding, background, start=_start(follow))
    if reader.problem and reader.problem not in notes:  # read again: it may stop elsewhere
        notes.append(reader.problem)
    tracks = list(sightings_of(by_frame))
    judge = Judge(tracks, adversary, references=samples, gap=gap)
    results, concealed, boxed = _treat(tracks, judge, config, samples, saved)
    seconds["decide"] = time.perf_counter() - start

    start = time.perf_counter()
    names = reader.names or None
    times = _variable(reader.times(), len(by_frame))
    if times is not None:
        notes.append("variable frame rate: the source's time stamps kept")
    missed: list[list[int]] = []
    untreated: list[list[int]] = []
    camera_moved: list[int] = []
    offset = follow.thorough_every // 2 or look_every // 2
    with (
        _bar(len(by_frame), "write", progress) as bar,
        VideoWriter(output, info, names=names, times=times, quality=quality) as writer,
    ):
        for frame in reader:
            if frame.index >= len(by_frame):
                break
            written = _pasted(frame, by_frame[frame.index], concealed)
            if look_every and frame.index % look_every == offset % look_every:
                held = _held(frame, written, by_frame[frame.index], concealed)
                people = _missed(frame, held)
                missed += [[frame.index, *p.box[:4]] for p in people]
                written = _concealed_people(written, people, config.head)
            moved = moved_pixels(frame.pixels, background) if background is not None else None
            if background is not None and moved is None:
                camera_moved.append(frame.index)
            elif moved is not None:  # people moving outside every sighting
                outside = torch.from_numpy(moved) & ~box_pixels(
                    [s.box for s in by_frame[frame.index]], *moved.shape
                )
                blobs = person_blobs(outside, limbs=True)
                untreated += [[frame.index, *b[:4]] for b in blobs]
                written = _concealed_blobs(written, outside, blobs, config.head)
            writer.write(written)
            bar.update()
    notes += writer.notes
    seconds["render"] = time.perf_counter() - start

    start = time.perf_counter()
    private = judge.check_written(VideoReader.open(output, fps=fps), by_frame)
    seconds["judge"] = time.perf_counter() - start
    reported = [
        _track_report(track, result, verdicts, boxed[track[0].track], pieces[track[0].track], refs)
        for track, result, verdicts, refs in zip(tracks, results, private, judge.references, strict=True)
    ]
    for t in reported:
        if gaps := unsighted([s[0] for s in t.sightings]):
            notes.append(
                f"track {t.track}: no sighting on frames {gaps} between its first and last (the source "
                "read short when cut again?): not private"
            )
    if untreated:
        frames = sorted({u[0] for u in untreated})
        notes.append(
            f"{len(untreated)} blobs of moving pixels outside every sighting in {len(frames)} frames, from "
            f"frame {frames[0]} (a person in the clear, or part of one): not private"
        )
    if camera_moved:
        notes.append(
            f"the camera moved (or the light changed) in {len(camera_moved)} of {len(by_frame)} frames, "
            f"from frame {camera_moved[0]}: people the looks missed are not caught by their motion "
            "there: not private"
        )

    result_report = VideoReport(
        source=str(source),
        output=str(output),
        frames_read=len(by_frame),
        frames_written=writer.count,
        fps=float(info.fps),
        size=[info.width, info.height],
        tracks=reported,
        missed=missed,
        untreated=untreated,
        camera_moved=camera_moved,
        frames_without_people=sum(1 for frame in by_frame if not frame),
        frames_with_unposed=[
            i for i, frame in enumerate(by_frame) if any(s.keypoints is None for s in frame)
        ],
        notes=saved.notes + notes,
        read_whole=reader.problem is None,
        seconds={k: round(v, 2) for k, v in seconds.items()},
        judged_by=[model.arch for model in adversary.models],
        gap=gap,
        source_sha256=reader.sha256(),
        output_sha256=VideoReader.open(output, fps=fps).sha256(),
        environment=environment(),
    )
    report_path = Path(report) if report is not None else output.with_name(output.name + ".json")
    write_bytes_atomic(report_path, json.dumps(result_report.to_json(), indent=2).encode())
    saved.clear()
    return result_report


def _follow(
    reader: VideoReader, config: FollowConfig, saved: Checkpoints, segment: int, progress: bool
) -> list[list[Sighting]]:
    """Every frame's sightings; the follower is saved every ``segment`` frames and taken up again."""
    saves = SavedFollower(saved)
    follower = saves.load() or Follower(config, float(reader.info.fps))
    done = len(follower.by_frame)
    with _bar(reader.info.frames, "follow", progress) as bar:
        bar.update(done)

        def done_with(index: int) -> None:
            bar.update()
            if (index + 1) % segment == 0:
                saves.save(follower)

        follower.follow(itertools.islice(reader, done, None), done_with)
    if len(follower.by_frame) % segment:
        saves.save(follower)  # the last, shorter segment
    return follower.by_frame


def _treat(
    tracks: Sequence[Sequence[Sighting]],
    judge: Judge,
    config: ConcealConfig,
    samples: int,
    saved: Checkpoints,
) -> tuple[list[PersonResult], dict[int, dict[int, Drawn]], dict[int, str | None]]:
    """Each track's treatment and its concealed crops (uint8, as written) with the pixels the
    treatment set (:func:`deid.video.boxing.track_covers`), per track and frame, :data:`CHUNK`
    tracks at a time (each chunk saved once done, and taken up again on resume).

    The loop decides on ``samples`` sightings spread over the track; the treatment is rendered
    on all of them and each is judged (:meth:`Judge.check`). Sightings still matched have their
    whole box concealed (:func:`deid.video.boxing.box_matched`; ``boxed`` says how, per track,
    None when no sighting needed it). (Deciding again
    with the matched sightings added was tried: on the first 60 frames of PETS S2.L1 it left as
    many matched and took twice as long.)
    """
    adversary = judge.loop_adversary()
    results: list[PersonResult] = []
    by_frame: dict[int, dict[int, Drawn]] = {}
    boxed: dict[int, str | None] = {}
    for start in range(0, len(tracks), CHUNK):
        chunk = range(start, min(start + CHUNK, len(tracks)))
        done = saved.load(f"decided-{start // CHUNK}")
        if done is None:
            done = _treat_chunk(chunk, tracks, judge, adversary, config, samples)
            saved.save(f"decided-{start // CHUNK}", done)
        chunk_results, chunk_crops, chunk_boxed = done
        results += chunk_results
        for t, crops in zip(chunk, chunk_crops, strict=True):
            number = tracks[t][0].track
            by_frame[number] = {s.frame: c for s, c in zip(tracks[t], crops, strict=True)}
            boxed[number] = chunk_boxed[t - start]
    return results, by_frame, boxed


def _treat_chunk(
    chunk: range,
    tracks: Sequence[Sequence[Sighting]],
    judge: Judge,
    adversary: Adversary,
    config: ConcealConfig,
    samples: int,
) -> tuple[list[PersonResult], list[list[Drawn]], list[str | None]]:
    """The tracks ``chunk``'s treatments, their concealed crops as uint8 with the pixels the
    treatment set, and what was boxed."""
    bodies = {t: head_scaled(steady_bodies(tracks[t]), config.head_scale) for t in chunk}
    results = _decide([tracks[t] for t in chunk], [bodies[t] for t in chunk], samples, config, adversary)
    crops, boxed = [], []
    for group in batches([len(tracks[t]) for t in chunk], BATCH):  # judged a batch of tracks at once
        drawn = [
            (t, result, render_track(tracks[t], bodies[t], result, adversary, config.head))
            for t, result in zip(chunk[group], results[group], strict=True)
        ]
        verdicts = judge.check_many([(t, concealed, None) for t, _, concealed in drawn])
        for (t, result, concealed), private in zip(drawn, verdicts, strict=True):
            covers = track_covers(tracks[t], bodies[t], result, adversary, config.head)
            boxed.append(
                box_matched(
                    t,
                    tracks[t],
                    bodies[t],
                    result,
                    concealed,
                    private,
                    judge,
                    adversary,
                    config,
                    covers=covers,
                )
            )
            # as written
            crops.append([(to_bytes(c), cover) for c, cover in zip(concealed, covers, strict=True)])
    return results, crops, boxed


def _decide(
    tracks: Sequence[Sequence[Sighting]],
    bodies: Sequence[Sequence[Body]],
    samples: int,
    config: ConcealConfig,
    adversary: Adversary,
) -> list[PersonResult]:
    """The loop's treatment per track, decided on ``samples`` of its sightings spread over it,
    each with the steadied body it will be rendered with."""
    if not tracks:
        return []
    people, chosen_bodies = [], []
    for track, body in zip(tracks, bodies, strict=True):
        at = {s.frame: i for i, s in enumerate(track)}
        chosen = [at[s.frame] for s in spread(track, samples)]
        people.append([as_float(track[i].crop) for i in chosen])
        chosen_bodies.append([body[i] for i in chosen])
    # a track is judged again against its own references as written (deid.video.judging)
    return conceal_people(people, config=config, adversary=adversary, bodies=chosen_bodies, claimed=False)


def _missed(frame: Frame, held: torch.Tensor) -> list[Person]:
    """The people the second look (:data:`LOOK`) confirms in ``frame`` whose silhouettes the
    treatments' pixels ``held`` (:func:`_held`) cover less than :data:`deid.finder.COVERED` of.
    (A look at the written frame too, as an image's, listed 8 more on PETS S2.L1: bollards, a
    van, and two people already concealed whose silhouettes it drew past their boxes; no one
    in the clear. Not taken.)"""
    return uncovered(second_look(to_tensor(frame.pixels), config=LOOK), held)


def _concealed_people(frame: Frame, people: Sequence[Person], how: str) -> Frame:
    """``frame`` with each of ``people`` (the second look's, :func:`_missed`) concealed in their
    silhouette and head's ellipse as ``how`` says, as an image's untreated people are
    (:func:`deid.loop.untreated.conceal_untreated`): no verdict holds for them, they stay listed."""
    if not people or how == "keep":
        return frame
    image = conceal_untreated(to_tensor(frame.pixels), [Outline.of(p) for p in people], how)
    return replace(frame, pixels=to_pixels(image))


def _held(
    frame: Frame, written: Frame, sightings: Sequence[Sighting], concealed: dict[int, dict[int, Drawn]]
) -> torch.Tensor:
    """The pixels ``(H, W)`` the treatments set in ``written`` (``frame`` with ``sightings``
    concealed, :func:`_pasted`; :func:`deid.boxes.held_pixels`)."""
    covers = [concealed[s.track][frame.index][1] for s in sightings]
    before, after = (torch.from_numpy(f.pixels).permute(2, 0, 1) for f in (frame, written))
    return held_pixels(before, after, [s.box for s in sightings], covers)


def _concealed_blobs(frame: Frame, moved: torch.Tensor, blobs: Sequence[Box], how: str) -> Frame:
    """``frame`` with the ``moved (H, W)`` pixels of each of ``blobs`` (people moving outside
    every sighting), grown by :data:`deid.loop.untreated.GROW` pixels, concealed as the head is
    (``how``; ``"keep"`` leaves them), at the scale of the blob's width (a person moving in the
    clear, concealed as well as a blob can be; no verdict holds for them)."""
    if not blobs or how == "keep":
        return frame
    shapes = [(grown(moved & box_pixels([b], *moved.shape)), max(3.0, b.w / 2)) for b in blobs]
    return replace(frame, pixels=to_pixels(conceal_shapes(to_tensor(frame.pixels), shapes, how)))


def _pasted(frame: Frame, sightings: Sequence[Sighting], concealed: dict[int, dict[int, Drawn]]) -> Frame:
    """The frame with each sighting's concealed crop pasted in (the pixels its treatment set,
    the nearest person last)."""
    if not sightings:
        return frame
    image = to_tensor(frame.pixels)
    drawn = [concealed[s.track][frame.index] for s in sightings]
    pasted = paste_crops(
        image,
        [as_float(crop) for crop, _ in drawn],
        [s.box for s in sightings],
        nearest_last=True,
        covers=[cover for _, cover in drawn],
    )
    return replace(frame, pixels=to_pixels(pasted))


def _track_report(
    track: Sequence[Sighting],
    result: PersonResult,
    private: list[bool],
    boxed: str | None,
    pieces: int,
    references: Sequence[Sighting],
) -> TrackReport:
    seen: dict[str, int] = {}
    for s in track:
        seen[s.how] = seen.get(s.how, 0) + 1
    # the loop's verdict on the sightings it decided on, named so: it is not the track's
    treatment = result.summary()
    treatment["decided_private"] = treatment.pop("success")
    return TrackReport(
        track=track[0].track,
        frames=[track[0].frame, track[-1].frame],
        seen=seen,
        treatment=treatment,
        private_frames=sum(private),
        boxed=boxed,
        pieces=pieces,
        private=all(private) and not unsighted([s.frame for s in track]),
        references=[s.frame for s in references],
        sightings=[[s.frame, *s.box[:4], s.how, ok] for s, ok in zip(track, private, strict=True)],
    )


def _start(follow: FollowConfig) -> int:
    """The frames at a video's start in which a person in view from its first frame is found, if
    the follower finds them at all: its thorough look comes every ``thorough_every`` frames from
    the first (a person standing still behind an obstacle is found by the second), its full look
    every ``detect_every``."""
    return max(follow.thorough_every, follow.detect_every)


def _variable(times: list[int] | None, frames: int) -> list[int] | None:
    """``times`` when the frames are not evenly spaced (a variable frame rate), else None."""
    if times is None or len(times) < frames or len({b - a for a, b in itertools.pairwise(times)}) <= 1:
        return None
    return times


def _bar(total: int | None, desc: str, progress: bool) -> tqdm:
    return tqdm(total=total, unit="frame", desc=desc, disable=None if progress else True)

"""Two registry trackers tying the same sightings into tracks: motpy against Roboflow's ByteTrack.

    python -m benchmarks.trackers_compare [--video ../shared/data/video/pets09_s2l1.avi] [--frames 300]

The person finder and the pose model make one set of sightings per frame
(:func:`deid.video.follow_people`); each tracker then ties those same boxes into tracks. Printed
per tracker: tracks, median and mean frames per track, boxes left out of any track, tracks
started per 100 frames (fewer means fewer pieces of one person), and milliseconds per frame of
the association alone. PETS has no identity labels here, so fewer and longer tracks over the
same boxes is the measure. ByteTrack comes from the ``trackers`` package, which is not a
dependency (it requires ``opencv-python``, which clashes with the ``opencv-python-headless`` the
library uses and resolves to OpenCV 5, without HOG): install it with ``pip install --no-deps
trackers rich`` to run this comparison; it is skipped otherwise.
"""

from __future__ import annotations

import itertools
import statistics
import time

import numpy as np

from benchmarks._video import video_parser
from deid.video import VideoReader, follow_people
from deid.video.follow import KalmanTracks


def main() -> None:
    parser = video_parser(__doc__, frames=300)
    args = parser.parse_args()
    reader = VideoReader.open(args.video)
    fps = float(reader.info.fps)
    by_frame = follow_people(itertools.islice(reader, args.frames), fps=fps)
    boxes = [
        np.array([[s.box.x, s.box.y, s.box.x + s.box.w, s.box.y + s.box.h] for s in f], float).reshape(-1, 4)
        for f in by_frame
    ]
    print(f"{len(by_frame)} frames, {sum(len(b) for b in boxes)} sightings")
    print(
        "tracker | tracks | median / mean frames per track | boxes left out | starts per 100 frames | ms/frame"
    )
    _report("motpy (the library's)", _motpy(boxes, fps), len(by_frame))
    try:
        _report("ByteTrack (trackers)", _bytetrack(boxes, fps), len(by_frame))
    except ImportError as exc:
        print(f"ByteTrack (trackers): skipped, not installed ({exc})")


def _report(name: str, result: tuple[list[list[int | None]], float], frames: int) -> None:
    ids, seconds = result
    lengths: dict[int, int] = {}
    for frame in ids:
        for i in frame:
            if i is not None:
                lengths[i] = lengths.get(i, 0) + 1
    left = sum(i is None for frame in ids for i in frame)
    counts = list(lengths.values()) or [0]
    print(
        f"{name} | {len(lengths)} | {statistics.median(counts):.0f} / {statistics.mean(counts):.1f} | {left} | "
        f"{100 * len(lengths) / frames:.1f} | {1000 * seconds / frames:.2f}"
    )


def _motpy(boxes: list[np.ndarray], fps: float) -> tuple[list[list[int | None]], float]:
    """The library's own glue (:class:`deid.video.follow.KalmanTracks`): every box is taken."""
    tracks = KalmanTracks(fps, max_gap=10, min_iou=0.2)
    numbers: dict[str, int] = {}
    ids: list[list[int | None]] = []
    start = time.perf_counter()
    for frame in boxes:
        taken, _ = tracks.step(list(frame), [0.9] * len(frame))
        by_box = {d: key for key, d in taken.items()}
        ids.append(
            [numbers.setdefault(by_box[d], len(numbers)) if d in by_box else None for d in range(len(frame))]
        )
    return ids, time.perf_counter() - start


def _bytetrack(boxes: list[np.ndarray], fps: float) -> tuple[list[list[int | None]], float]:
    import supervision as sv
    from trackers import ByteTrackTracker

    tracker = ByteTrackTracker(frame_rate=fps, lost_track_buffer=10, minimum_consecutive_frames=1)
    ids: list[list[int | None]] = []
    start = time.perf_counter()
    for frame in boxes:
        detections = sv.Detections(xyxy=frame, confidence=np.full(len(frame), 0.9))
        out = tracker.update(detections)
        found: list[int | None] = [None] * len(frame)
        tracked = out.tracker_id if out.tracker_id is not None else np.full(len(out.xyxy), -1)
        for box, track in zip(out.xyxy, tracked, strict=True):
            if track is None or track < 0:
                continue
            d = int(np.abs(frame - box).sum(1).argmin()) if len(frame) else 0
            found[d] = int(track)
        ids.append(found)
    return ids, time.perf_counter() - start


if __name__ == "__main__":
    main()

"""The pose model's cost per window: one window at a time against a batch split between cores.

    python -m benchmarks.pose_speed [--video ../shared/data/video/pets09_s2l1.avi] [--frames 64]
        [--rounds 5]

The follower looks for every tracked person of a frame with the pose model (about 6,700 looks
on PETS 2009 S2.L1). Windows are cut from the video's frames (a 160 x 160 square around a point
of each frame's lower half, where the people walk, resized to the model's 256 x 256). Prints
milliseconds per window, the median of ``--rounds`` timings alternated: each window run alone
(one LiteRT interpreter on all of torch's threads, as before batching) and all of them in one
``PoseModel.run`` (the batch dealt out to one single-thread interpreter per thread, run side by
side), their ratio, and the largest difference between the two outputs.
"""

from __future__ import annotations

import itertools
import statistics
import time

import cv2
import numpy as np
import torch

from benchmarks._video import video_parser
from deid.finder import PoseModel, has_litert
from deid.video import VideoReader


def _windows(video: object, frames: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    cut = []
    for frame in itertools.islice(iter(VideoReader.open(video)), frames):  # type: ignore[arg-type]
        height, width = frame.pixels.shape[:2]
        x = int(rng.integers(0, width - 160))
        y = int(rng.integers(height // 2 - 80, height - 160))
        cut.append(cv2.resize(frame.pixels[y : y + 160, x : x + 160], (256, 256)))
    return np.stack(cut)


def main() -> None:
    parser = video_parser(__doc__, frames=64, help_frames="frames to cut a window from (one each)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if not has_litert():
        raise SystemExit("the split batch is LiteRT's: pip install ai-edge-litert")
    windows = _windows(args.video, args.frames)
    model = PoseModel(backend="litert")
    model.run(windows[:4])  # untimed: the side interpreters are made on the first batch
    print(f"{len(windows)} windows from {args.video.name}, {torch.get_num_threads()} threads")
    alone_ms, batch_ms = [], []
    for _ in range(args.rounds):
        start = time.perf_counter()
        alone = [model.run(windows[i : i + 1]) for i in range(len(windows))]
        alone_ms.append((time.perf_counter() - start) * 1000 / len(windows))
        start = time.perf_counter()
        batch = model.run(windows)
        batch_ms.append((time.perf_counter() - start) * 1000 / len(windows))
    one, split = statistics.median(alone_ms), statistics.median(batch_ms)
    difference = max(
        float(np.abs(np.concatenate([getattr(a, f) for a in alone]) - getattr(batch, f)).max())
        for f in ("presence", "landmarks", "segmentation")
    )
    print(f"one window at a time: {one:.2f} ms a window (median of {args.rounds})")
    print(f"one batch, split between {torch.get_num_threads()} interpreters: {split:.2f} ms a window")
    print(f"ratio {one / split:.2f}x; largest difference between the outputs {difference:.3g}")


if __name__ == "__main__":
    main()

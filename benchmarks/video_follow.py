"""Following people through a video alone, with the follower's speed settings against each other.

    python -m benchmarks.video_follow [--video ../shared/data/video/pets09_s2l1.avi] [--frames 200]

Prints, per setting, the sightings and tracks it makes and its speed (min / max of two rounds,
settings interleaved, in one run): the pose model on every frame, every other frame (the person
carried between), and the default (every other frame, and a thorough look every 40th frame).
"""

from __future__ import annotations

import itertools
import time

from benchmarks._video import video_parser
from deid.video import FollowConfig, VideoReader, follow_people


def main() -> None:
    parser = video_parser(__doc__, frames=200)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    frames = list(itertools.islice(iter(VideoReader.open(args.video)), args.frames))
    settings = {
        "pose model every frame, no thorough look": FollowConfig(pose_every=1, thorough_every=0),
        "pose model every other frame, no thorough look": FollowConfig(pose_every=2, thorough_every=0),
        "default: every other frame, thorough look every 40th": FollowConfig(),
    }
    seconds: dict[str, list[float]] = {name: [] for name in settings}
    for round_ in range(args.rounds):
        for name, config in settings.items():
            start = time.perf_counter()
            by_frame = follow_people(frames, fps=10, config=config)
            seconds[name].append(time.perf_counter() - start)
            if round_ == 0:
                tracks = len({s.track for frame in by_frame for s in frame})
                print(f"{name}: {sum(map(len, by_frame))} sightings, {tracks} tracks")
    for name, taken in seconds.items():
        mean = sum(taken) / len(taken)
        print(
            f"{name}: {min(taken):.1f} / {max(taken):.1f} s for {len(frames)} frames, {len(frames) / mean:.2f} frames/s"
        )


if __name__ == "__main__":
    main()

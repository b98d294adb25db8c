"""Following people through a video alone, with the follower's speed settings against each other.

    python -m benchmarks.video_follow [--video ../shared/data/video/pets09_s2l1.avi] [--frames 200]
        [--rounds 2] [--before CHECKOUT]

Prints, per setting, the sightings and tracks it makes and its speed (min / max of two rounds,
settings interleaved, in one run): the pose model on every frame, every other frame (the person
carried between), and the default (every other frame, and a thorough look every 40th frame).

With ``--before``, the default follower of this checkout against that of another (a worktree of
an earlier commit), each round a fresh process of each, alternated: seconds per round, their
medians and ratio, and whether the two made the very same sightings (a digest of every
sighting's frame, track, box, how it was seen, crop and silhouette).
"""

from __future__ import annotations

import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks._video import video_parser
from deid.video import FollowConfig, VideoReader, follow_people

#: One timed run of the default follower, in a process of its own: the checkout on PYTHONPATH is
#: the one timed (public API only, so an earlier checkout runs it too).
_WORKER = """
import hashlib, itertools, json, sys, time
from deid.video import FollowConfig, VideoReader, follow_people
frames = list(itertools.islice(iter(VideoReader.open(sys.argv[1])), int(sys.argv[2])))
start = time.perf_counter()
by_frame = follow_people(frames, fps=10, config=FollowConfig())
seconds = time.perf_counter() - start
rows = [(s.frame, s.track, tuple(s.box), s.how, s.crop.tolist(), s.silhouette.tolist()) for f in by_frame for s in f]
digest = hashlib.sha1(repr(rows).encode()).hexdigest()[:12]
print(json.dumps({"seconds": seconds, "sightings": len(rows), "digest": digest}))
"""


def _against(before: Path, video: Path, frames: int, rounds: int) -> None:
    here = Path(__file__).resolve().parents[1]
    times: dict[str, list[float]] = {"this checkout": [], f"{before}": []}
    digests: dict[str, set[str]] = {name: set() for name in times}
    for round_ in range(rounds):
        for name, checkout in zip(times, (here, before.resolve()), strict=True):
            env = {**os.environ, "PYTHONPATH": str(checkout)}
            done = subprocess.run(
                [sys.executable, "-c", _WORKER, str(video), str(frames)],
                env=env,
                cwd=checkout,  # python -c puts the working folder first on sys.path
                capture_output=True,
                text=True,
                check=True,
            )
            out = json.loads(done.stdout.strip().splitlines()[-1])
            times[name].append(out["seconds"])
            digests[name].add(out["digest"])
            print(f"round {round_ + 1}, {name}: {out['seconds']:.1f} s, {out['sightings']} sightings")
    (a, b) = (statistics.median(t) for t in times.values())
    print(f"median: this checkout {a:.1f} s, before {b:.1f} s, ratio before/this {b / a:.2f}x")
    same = len(digests["this checkout"] | digests[f"{before}"]) == 1
    print(f"the same sightings: {same}")


def main() -> None:
    parser = video_parser(__doc__, frames=200)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--before", type=Path, default=None, help="another checkout, timed beside this one")
    args = parser.parse_args()
    if args.before is not None:
        _against(args.before, args.video, args.frames, args.rounds)
        return
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

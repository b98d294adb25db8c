"""How well ``--group-by reid`` puts one person's crops together and keeps others apart.

    python -m benchmarks.reid_groups [--data ../shared/data/viper] [--adversary strong|fast]
        [--thresholds 0.8,0.9,0.95,0.97,0.99]
    python -m benchmarks.reid_groups --video ../shared/data/video/pets09_s2l1.avi
        [--frames 400] [--every 20]

On VIPeR (across cameras): for the validation and the test persons of the seed split (each seen
once by each camera), all crops of the part are grouped as ``deid conceal --group-by reid``
groups them (:func:`deid.batch.reid_groups.group_by_reid` on the files), at each threshold.
Prints, per part and threshold, over pairs of crops: pairs put in one group, precision (of
those, the same person), recall (of the part's same-person pairs, put together), the largest
group, and the seconds the grouping took (reading, embedding, linking).

With ``--video`` (one camera, the case ``--group-by reid`` is meant for): the people of the
clip's first ``--frames`` frames are followed (:func:`deid.video.follow_people`), and the crops
the pose model saw (found or followed, at least ``MIN_HEIGHT`` px tall) of every ``--every``-th frame are
written as files and grouped. There are no identity labels, so a pair is known the same person
when it comes from one track, known two people when their tracks share a frame (two people at
once), and unknown otherwise (a person the follower lost and found again under a new track,
or two people at different times); precision is over the known pairs, and recall over the
pairs of one track. A track that slid from one person to another would count a wrong pair as
right.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from collections import Counter
from pathlib import Path

from deid.adversary import Adversary
from deid.batch.inputs import InputFile
from deid.batch.reid_groups import REID_MIN_MATCH, group_by_reid
from deid.video import VideoReader, follow_people
from reid_model import default_metadata, load_viper, select
from reid_model.io import write_image

#: With ``--video``: the shortest crop grouped (PETS's people are 40-100 px tall).
MIN_HEIGHT = 40


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=Path("../shared/data/viper"))
    parser.add_argument("--adversary", choices=("strong", "fast"), default="strong")
    parser.add_argument("--thresholds", default=f"0.8,0.9,{REID_MIN_MATCH},0.97,0.99")
    parser.add_argument("--video", type=Path, default=None, help="One camera's clip instead of VIPeR.")
    parser.add_argument("--frames", type=int, default=400, help="With --video: the clip's first N frames.")
    parser.add_argument("--every", type=int, default=20, help="With --video: crops of every K-th frame.")
    args = parser.parse_args()
    adversary = Adversary.default(fused=args.adversary == "strong")
    thresholds = [float(t) for t in args.thresholds.split(",")]
    print(f"adversary: {args.adversary}; default threshold {REID_MIN_MATCH}")
    if args.video is not None:
        _one_camera(args.video, args.frames, args.every, adversary, thresholds)
    else:
        _viper(args.data, adversary, thresholds)


def _viper(root: Path, adversary: Adversary, thresholds: list[float]) -> None:
    samples = load_viper(root)
    split = default_metadata()["split"]
    print("| part | threshold | pairs grouped | precision | recall | largest group | seconds |")
    print("|---|---|---|---|---|---|---|")
    for part in ("val", "test"):
        chosen = select(samples, split[part])
        files = [InputFile(Path(s.path), Path(s.path).relative_to(root)) for s in chosen]
        person = {f.path: s.person_id for f, s in zip(files, chosen, strict=True)}
        true_pairs = sum(n * (n - 1) // 2 for n in Counter(person.values()).values())
        for threshold in thresholds:
            start = time.perf_counter()
            groups = group_by_reid(files, adversary, min_match=threshold)
            seconds = time.perf_counter() - start
            grouped = same = 0
            for members in groups.values():
                ids = [person[m.path] for m in members]
                grouped += len(ids) * (len(ids) - 1) // 2
                same += sum(n * (n - 1) // 2 for n in Counter(ids).values())
            largest = max(len(members) for members in groups.values())
            precision = same / grouped if grouped else float("nan")
            print(
                f"| {part} ({len(files)} crops) | {threshold} | {grouped} | {precision:.3f} | "
                f"{same / true_pairs:.3f} | {largest} | {seconds:.1f} |",
                flush=True,
            )


def _one_camera(video: Path, frames: int, every: int, adversary: Adversary, thresholds: list[float]) -> None:
    """``--group-by reid`` on one camera's crops, tracks standing in for identities."""
    by_frame = follow_people(itertools.islice(iter(VideoReader.open(video)), frames), fps=10)
    shown = [
        s
        for frame in by_frame[::every]
        for s in frame
        if s.how in ("found", "followed") and s.crop.shape[-2] >= MIN_HEIGHT
    ]
    together = {(a.track, b.track) for frame in by_frame for a in frame for b in frame if a.track != b.track}
    with tempfile.TemporaryDirectory() as folder:
        files = []
        for s in shown:
            name = f"t{s.track:04d}_f{s.frame:05d}.png"
            write_image(Path(folder) / name, s.crop.float() / 255)
            files.append(InputFile(Path(folder) / name, Path(name)))
        track = {f.path: s.track for f, s in zip(files, shown, strict=True)}
        one_track = sum(n * (n - 1) // 2 for n in Counter(track.values()).values())
        print(
            f"{video.name}, first {len(by_frame)} frames, every {every}th: {len(files)} crops of "
            f"{len(set(track.values()))} tracks; {one_track} pairs of one track"
        )
        print(
            "| threshold | pairs grouped | one track | two at once | unknown | precision (known) | recall | seconds |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for threshold in thresholds:
            start = time.perf_counter()
            groups = group_by_reid(files, adversary, min_match=threshold)
            seconds = time.perf_counter() - start
            same = apart = unknown = 0
            for members in groups.values():
                for a, b in itertools.combinations([track[m.path] for m in members], 2):
                    if a == b:
                        same += 1
                    elif (a, b) in together:
                        apart += 1
                    else:
                        unknown += 1
            known = same + apart
            precision = same / known if known else float("nan")
            recall = same / one_track if one_track else float("nan")
            print(
                f"| {threshold} | {same + apart + unknown} | {same} | {apart} | {unknown} | {precision:.3f} | "
                f"{recall:.3f} | {seconds:.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()

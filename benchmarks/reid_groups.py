"""How well ``--group-by reid`` puts one person's crops together and keeps others apart, on VIPeR.

    python -m benchmarks.reid_groups [--data ../shared/data/viper] [--adversary strong|fast]
        [--thresholds 0.8,0.9,0.95,0.97,0.99]

For the validation and the test persons of the seed split (each seen once by each camera), all
crops of the part are grouped as ``deid conceal --group-by reid`` groups them
(:func:`deid.batch.reid_groups.group_by_reid` on the files), at each threshold. Prints, per
part and threshold, over pairs of crops: pairs put in one group, precision (of those, the same
person), recall (of the part's same-person pairs, put together), the largest group, and the
seconds the grouping took (reading, embedding, linking).
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

from deid.adversary import Adversary
from deid.batch.inputs import InputFile
from deid.batch.reid_groups import REID_MIN_MATCH, group_by_reid
from reid_model import default_metadata, load_viper, select


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=Path("../shared/data/viper"))
    parser.add_argument("--adversary", choices=("strong", "fast"), default="strong")
    parser.add_argument("--thresholds", default=f"0.8,0.9,{REID_MIN_MATCH},0.97,0.99")
    args = parser.parse_args()
    adversary = Adversary.default(fused=args.adversary == "strong")
    samples = load_viper(args.data)
    split = default_metadata()["split"]
    print(f"adversary: {args.adversary}; default threshold {REID_MIN_MATCH}")
    print("| part | threshold | pairs grouped | precision | recall | largest group | seconds |")
    print("|---|---|---|---|---|---|---|")
    for part in ("val", "test"):
        chosen = select(samples, split[part])
        files = [InputFile(Path(s.path), Path(s.path).relative_to(args.data)) for s in chosen]
        person = {f.path: s.person_id for f, s in zip(files, chosen, strict=True)}
        true_pairs = sum(n * (n - 1) // 2 for n in Counter(person.values()).values())
        for threshold in (float(t) for t in args.thresholds.split(",")):
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


if __name__ == "__main__":
    main()

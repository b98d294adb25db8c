"""Person crops concealed per second in batch mode (``deid conceal``), and where the time goes.

    python benchmarks/conceal_speed.py --data ../shared/data/viper --persons 127 --batch-size 32

Copies the first N test persons of the bundled model's split (both cameras) into a temporary
folder, runs the batch runner on it and prints crops/s, then runs it again under cProfile for the share
of time spent in attribution, the operators, the adversary's embeddings (forward passes) and
verdicts, the person finder, and file I/O.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from deid.batch import BatchConfig, run_batch
from deid.loop import ConcealConfig
from reid_model import default_metadata, load_viper, select

#: Parts of the time, each the cumulative time of one function (file path fragment, name); they
#: do not nest in one another, so their shares add up to at most the whole.
PARTS = {
    "attribution": ("attribution/methods.py", "explain"),
    "operators": ("deid/operators/", "__call__"),
    "embeddings (forward)": ("reid_model/inference.py", "embed"),
    "adversary verdicts": ("deid/adversary.py", "_verdict"),
    "person finder": ("deid/finder/runtime.py", "run"),
    "read images": ("reid_model/io.py", "read_image"),
    "write images": ("reid_model/io.py", "write_image"),
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default="../shared/data/viper")
    parser.add_argument("--persons", type=int, default=40)
    parser.add_argument("--operator", default="fill")
    parser.add_argument("--shape", default=ConcealConfig.shape, help="the loop's mask shape")
    parser.add_argument("--head", default=ConcealConfig.head, help="what the loop does to heads")
    parser.add_argument("--batch-size", type=int, default=32, help="crops per conceal call")
    parser.add_argument("--no-profile", action="store_true", help="skip the profiled second run")
    args = parser.parse_args()
    ids = default_metadata()["split"]["test"][: args.persons]
    samples = select(load_viper(args.data), ids)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in"
        for s in samples:
            dest = src / ("cam_a" if s.camera_id == 0 else "cam_b") / Path(s.path).name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(s.path, dest)
        config = BatchConfig(
            inputs=(str(src),),
            output=str(Path(tmp) / "out"),
            loop=ConcealConfig(operator=args.operator, shape=args.shape, head=args.head),
            group_by="viper",
            batch_size=args.batch_size,
            progress=False,
        )
        start = time.perf_counter()
        summary = run_batch(config)
        elapsed = time.perf_counter() - start
        print(
            f"{len(samples)} crops ({args.persons} persons, operator {args.operator}, shape {args.shape}, "
            f"head {args.head}) in {elapsed:.1f} s: {len(samples) / elapsed:.2f} crops/s; counts {summary.counts}"
        )
        if args.no_profile:
            return
        # A second run under cProfile gives the shares (the profiler slows it, so not the rate).
        profile = cProfile.Profile()
        profile.enable()
        profiled_start = time.perf_counter()
        run_batch(replace(config, output=str(Path(tmp) / "out_profiled")))
        profiled = time.perf_counter() - profiled_start
        profile.disable()
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    for part, (fragment, function) in PARTS.items():
        seconds = sum(v[3] for k, v in stats.items() if fragment in k[0] and k[2] == function)
        print(f"  {part:22s} {seconds:7.1f} s  {seconds / profiled:6.1%} (of {profiled:.1f} s profiled)")


if __name__ == "__main__":
    main()

"""Crops concealed per second by the local engine and by Ray with 1 and 2 workers, on this machine.

    python -m benchmarks.batch_engines --data ../shared/data/viper --persons 60

Copies the first N test persons of the bundled model's split (both cameras) into a temporary
folder and conceals them (seeded) with ``--engine local`` (torch's threads: all CPUs, and one
thread), then ``--engine ray`` with 1 and 2 workers (one CPU each) on a local cluster started
for each run. Each Ray run is timed whole (cluster start, workers loading the models, the work)
and again on one person, whose time is the fixed cost; the per-crop cost is what the rest adds.
Prints every run's time and crops/s, the ratios, the fixed and per-crop costs, whether the
outputs are byte-identical to the local engine's, and how many records a second the driver's
report can journal (the ceiling however many workers there are).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from deid.batch import BatchConfig, run_batch
from deid.batch.report import Record, Report
from deid.loop import ConcealConfig
from reid_model import default_metadata, load_viper, select


def _copy_persons(data: str, persons: int, folder: Path) -> int:
    test = default_metadata()["split"]["test"][:persons]
    samples = select(load_viper(data), test)
    for sample in samples:
        target = folder / Path(sample.path).parent.name / Path(sample.path).name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(sample.path, target)
    return len(samples)


def _outputs(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*.bmp")}


def _journal_rate(folder: Path, n: int = 2000) -> float:
    """Records per second the driver's report takes (each journalled and synced to disk): the
    ceiling on crops per second however many workers there are."""
    report = Report(folder / "report.json", settings={}, interval=2.0)
    start = time.perf_counter()
    for i in range(n):
        report.add(Record(input=f"/x/{i:06d}.png", status="ok", output=f"/y/{i:06d}.png", sha256="0" * 64))
    report.close()
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default="../shared/data/viper")
    parser.add_argument("--persons", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=8, help="Crops per task (and per conceal call).")
    args = parser.parse_args()
    threads = torch.get_num_threads()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        crops = _copy_persons(args.data, args.persons, root / "in")
        _copy_persons(args.data, 1, root / "one")
        base = BatchConfig(
            inputs=(str(root / "in"),),
            output="",
            loop=ConcealConfig(seed=0),
            batch_size=args.batch_size,
            progress=False,
        )
        runs = {
            f"local, {threads} threads": replace(base, output=str(root / "local"), threads=threads),
            "local, 1 thread": replace(base, output=str(root / "local1"), threads=1),
            "ray, 1 worker": replace(base, output=str(root / "ray1"), engine="ray", workers=1),
            "ray, 2 workers": replace(base, output=str(root / "ray2"), engine="ray", workers=2),
        }
        seconds: dict[str, float] = {}
        for name, config in runs.items():
            start = time.perf_counter()
            summary = run_batch(config)
            seconds[name] = time.perf_counter() - start
            print(
                f"{name:22s} {seconds[name]:6.1f} s  {crops / seconds[name]:5.2f} crops/s  {summary.counts}",
                flush=True,
            )
            if config.engine == "ray":
                small = replace(config, inputs=(str(root / "one"),), output=config.output + "_one")
                start = time.perf_counter()
                run_batch(small)
                fixed = time.perf_counter() - start
                per_crop = (seconds[name] - fixed) / (crops - 2)
                print(f"{'':22s} fixed (one person) {fixed:.1f} s, then {per_crop:.3f} s a crop", flush=True)
        reference = _outputs(root / "local")
        for name, config in runs.items():
            same = _outputs(Path(config.output)) == reference
            print(f"outputs of '{name}' byte-identical to the local engine's: {same}")
        local = seconds[f"local, {threads} threads"]
        print(f"the driver journals {_journal_rate(root):.0f} records/s (each synced to disk)")
        print(
            f"ratios to the local engine ({threads} threads): "
            + ", ".join(f"{name} {local / s:.2f}x" for name, s in seconds.items())
        )


if __name__ == "__main__":
    main()

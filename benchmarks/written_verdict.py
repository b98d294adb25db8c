"""Does every written file hold its verdict? ``deid conceal`` then ``deid verify`` on VIPeR test persons.

    python benchmarks/written_verdict.py --data ../shared/data/viper --persons 127 --before /work/main

Copies the test persons of the bundled model's split (both cameras, cam_a/cam_b kept) into a
temporary folder, once as PNG and once as JPEG inputs (so the outputs are PNG and JPEG), runs
``deid conceal`` on each with a fixed ``--seed`` and then ``deid verify`` (this checkout's) on the
outputs. With ``--before CHECKOUT`` the same runs are made with that checkout's code on
``PYTHONPATH`` (for example the code before the verdict was taken on the written file), so the
tables show how many of its written files contradict their reported verdict. Both runs are
subprocesses timed from start to end (model loading included in both); crops/s is inputs over
that time. ``pushed`` counts persons whose final treatment differs between the two runs with
the same seed: more area, or a fallback the other run did not need.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2

from deid.batch import verify
from deid.batch.verification import OUTCOMES
from reid_model import default_metadata, load_viper, select

ROOT = Path(__file__).resolve().parents[1]


def _inputs(samples: list, folder: Path, suffix: str) -> int:
    for s in samples:
        dest = folder / ("cam_a" if s.camera_id == 0 else "cam_b") / (Path(s.path).stem + suffix)
        dest.parent.mkdir(parents=True, exist_ok=True)
        image = cv2.imread(str(s.path))
        if image is None or not cv2.imwrite(str(dest), image):
            raise OSError(f"cannot write {dest}")
    return len(samples)


def _conceal(code: Path, inputs: Path, output: Path, seed: int) -> float:
    env = dict(os.environ, PYTHONPATH=str(code))
    command = [sys.executable, "-m", "deid.cli", "conceal", str(inputs), "-o", str(output)]
    command += ["--group-by", "viper", "--seed", str(seed), "--no-progress"]
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=code, check=False)
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 3):  # 3: written, but the adversary still matches someone
        raise RuntimeError(f"deid conceal with {code} failed ({done.returncode}): {done.stderr[-2000:]}")
    return seconds


def _records(output: Path) -> dict[str, dict]:
    data = json.loads((output / "report.json").read_text())
    return {Path(r["input"]).name: r for r in data["records"]}


def _pushed(before: dict[str, dict], after: dict[str, dict]) -> tuple[int, int]:
    """(persons the new run concealed more of, or sent to the fallback alone; persons with less area)."""
    more = less = 0
    for name, new in after.items():
        old = before.get(name)
        if old is None or new.get("area") is None or old.get("area") is None:
            continue
        if new["area"] > old["area"] + 1e-9 or (new["fallback"] and not old["fallback"]):
            more += 1
        elif new["area"] < old["area"] - 1e-9:
            less += 1
    return more, less


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default="../shared/data/viper")
    parser.add_argument("--persons", type=int, default=127)
    parser.add_argument("--formats", default=".png,.jpg")
    parser.add_argument("--seed", type=int, default=0, help="the outfit draw's seed, the same for both runs")
    parser.add_argument("--before", type=Path, default=None, help="another checkout to compare with")
    args = parser.parse_args()
    ids = default_metadata()["split"]["test"][: args.persons]
    samples = select(load_viper(args.data), ids)
    runs = [("after", ROOT)] + ([("before", args.before.resolve())] if args.before else [])
    with tempfile.TemporaryDirectory() as tmp:
        for suffix in args.formats.split(","):
            inputs = Path(tmp) / f"in{suffix}"
            n = _inputs(samples, inputs, suffix)
            print(f"\n== {len(ids)} persons, {n} crops, {suffix} inputs and outputs ==")
            records = {}
            for name, code in runs:
                output = Path(tmp) / f"out-{name}{suffix}"
                seconds = _conceal(code, inputs, output, args.seed)
                result = verify(output)
                records[name] = _records(output)
                reported = sum(1 for r in records[name].values() if r.get("success") is True)
                print(
                    f"-- {name} ({code}): {n / seconds:.1f} crops/s ({seconds:.1f} s), {reported} reported private"
                )
                counts = result.counts()
                print(
                    "   "
                    + "  ".join(f"{k}={counts[k]}" for k in OUTCOMES)
                    + f"  unwritten={result.unwritten}"
                )
                print("   " + result.table().replace("\n", "\n   "))
                for failure in result.failures[:20]:
                    print(f"   {failure.outcome}: {Path(str(failure.output)).name}: {failure.detail}")
            if "before" in records:
                more, less = _pushed(records["before"], records["after"])
                print(f"-- pushed further by the written check: {more} crops (with less area: {less})")


if __name__ == "__main__":
    main()

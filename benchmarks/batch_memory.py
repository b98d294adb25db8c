"""Peak memory of ``deid conceal`` on phone-sized frames, with and without the queue's pixel budget.

    python benchmarks/batch_memory.py [--frames 32] [--megapixels 12] [--people 1] [--old ../main]

Makes FRAMES frames of MEGAPIXELS (4:3) in a temporary folder: a plain background with real
person crops (``examples/images``, enlarged 4x) pasted on it, and a ``--boxes`` file naming them,
so no detector runs and the conceal loop only sees a few crops. Then runs ``deid conceal`` on
them twice as a child process, once with the budget effectively unlimited
(``--queue-megapixels 1000000``: every frame waits until ``--batch-size`` crops are queued, the
old behaviour) and once with the default budget, and prints each run's peak resident memory (the
child's max RSS from ``wait4``), its wall and CPU time, and the ratio. ``--old CHECKOUT`` adds a
first run of another checkout of the project (one without the budget, say) on the same frames.
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
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CROPS = sorted((ROOT / "examples" / "images").glob("cam_*/*.bmp"))


def make_frames(folder: Path, *, frames: int, megapixels: float, people: int) -> Path:
    """Write the frames (JPEG) and their boxes file; returns the boxes file."""
    height = round((megapixels * 1e6 * 3 / 4) ** 0.5)
    width = round(height * 4 / 3)
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    boxes = {}
    for i in range(frames):
        frame = np.empty((height, width, 3), np.uint8)
        frame[:] = rng.integers(60, 200, 3, dtype=np.uint8)  # a plain background
        mine = []
        for j in range(people):
            source = CROPS[(i + j) % len(CROPS)]
            crop = cv2.imread(str(source))
            if crop is None:
                raise OSError(f"cannot read {source}")
            crop = cv2.resize(crop, (crop.shape[1] * 4, crop.shape[0] * 4), interpolation=cv2.INTER_CUBIC)
            h, w = crop.shape[:2]
            x = int(rng.integers(0, width - w))
            y = int(rng.integers(0, height - h))
            frame[y : y + h, x : x + w] = crop
            mine.append([x, y, w, h])
        cv2.imwrite(str(folder / f"photo_{i:03d}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
        boxes[f"photo_{i:03d}.jpg"] = mine
    path = folder.parent / "boxes.json"
    path.write_text(json.dumps(boxes))
    return path


def peak_of(command: list[str], *, code: Path = ROOT) -> tuple[float, float, float, int]:
    """Run ``command`` with ``code`` first on the path; returns its max RSS in MB, its wall and
    CPU seconds and its exit code."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    start = time.perf_counter()
    # run from the checkout: ``python -m`` puts the working folder first on the path
    child = subprocess.Popen(command, env=env, cwd=code, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        assert child.stderr is not None
        sys.stderr.write(child.stderr.read().decode(errors="replace"))
    cpu = usage.ru_utime + usage.ru_stime
    return usage.ru_maxrss / 1024, seconds, cpu, child.returncode  # ru_maxrss is in KB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--megapixels", type=float, default=12.0)
    parser.add_argument("--people", type=int, default=1, help="people per frame")
    parser.add_argument("--old", type=Path, default=None, help="another checkout to run first, as is")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        boxes = make_frames(
            Path(tmp) / "in", frames=args.frames, megapixels=args.megapixels, people=args.people
        )
        print(f"{args.frames} frames of {args.megapixels:g} MP, {args.people} person(s) each, --boxes")
        runs = {"before (budget unlimited)": ["--queue-megapixels", "1000000"], "after (default budget)": []}
        if args.old is not None:
            runs = {f"old code ({args.old})": [], **runs}
        peaks: dict[str, float] = {}
        for name, extra in runs.items():
            command = [
                sys.executable, "-m", "deid.cli", "conceal", str(Path(tmp) / "in"),
                "-o", str(Path(tmp) / f"out{len(peaks)}"), "--boxes", str(boxes), "--no-progress", *extra,
            ]  # fmt: skip
            checkout = args.old.resolve() if name.startswith("old") and args.old else ROOT
            peak, seconds, cpu, code = peak_of(command, code=checkout)
            peaks[name] = peak
            print(
                f"{name:28s} peak RSS {peak:7.0f} MB   wall {seconds:6.1f} s   CPU {cpu:6.1f} s   exit {code}"
            )
        before, after = peaks["before (budget unlimited)"], peaks["after (default budget)"]
        print(f"peak memory after / before: {after / before:.2f}")


if __name__ == "__main__":
    main()

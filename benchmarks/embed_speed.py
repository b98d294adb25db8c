"""What one crop costs the adversary: embedding time per crop under each of its models, on VIPeR.

    python -m benchmarks.embed_speed [--viper ../shared/data/viper] [--crops 512] [--rounds 5]
        [--before CHECKOUT]

The judge of a video embeds every sighting (twice: as rendered, and as cut from the written
video), so the adversary's cost per crop sets much of ``deid conceal VIDEO``'s speed. Prints,
per model of the bundled adversary (the network, the colour-stripe matcher, the network fused
with LOMO + XQDA) and for the LOMO descriptors alone (plain and Retinex-balanced, each averaged
with the mirror image's, as the fused model describes a crop): milliseconds per crop, the median
of ``--rounds`` timings of all ``--crops`` crops. With ``--before``, the LOMO descriptors of that
checkout's ``reid_model/lomo.py`` are timed too, each round beside this one's, with their ratio
and the largest difference between the two descriptors.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import ModuleType

import torch

import reid_model.lomo as lomo
from benchmarks._video import DATA
from deid.adversary import Adversary
from reid_model import INPUT_SIZE, embed, load_viper
from reid_model.io import read_image, resize


def _lomo_module(checkout: Path) -> ModuleType:
    """``reid_model/lomo.py`` of another checkout, loaded beside this one's."""
    path = checkout / "reid_model" / "lomo.py"
    spec = importlib.util.spec_from_file_location("lomo_before", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"--before {checkout}: no reid_model/lomo.py there")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _descriptors(lomo: ModuleType, crops: torch.Tensor) -> torch.Tensor:
    return torch.cat([lomo.lomo_features(crops, use_retinex=r, flip=True) for r in (False, True)], 1)


def _ms_per_crop(step: Callable[[], object], crops: int, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1000 / crops)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--viper", type=Path, default=DATA / "viper")
    parser.add_argument("--crops", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--before", type=Path, default=None, help="another checkout whose LOMO is timed beside"
    )
    args = parser.parse_args()
    samples = load_viper(args.viper)[: args.crops]
    crops = torch.cat([resize(read_image(s.path)[None], INPUT_SIZE) for s in samples])
    print(f"{len(crops)} VIPeR crops, {torch.get_num_threads()} threads, median of {args.rounds} rounds")
    adversary = Adversary.default()
    names = ["network", "colour stripes", "fused (network + LOMO + XQDA)"]
    total = 0.0
    for name, model in zip(names, adversary.models, strict=True):
        embed(model, crops[:32])  # untimed: first call
        ms = statistics.median(_ms_per_crop(partial(embed, model, crops), len(crops), args.rounds))
        total += ms
        print(f"  {name:32s} {ms:6.2f} ms/crop")
    print(f"  {'all three (one judge of a crop)':32s} {total:6.2f} ms/crop")
    before = _lomo_module(args.before) if args.before else None
    _descriptors(lomo, crops[:32])
    times: dict[str, list[float]] = {"this checkout": [], "before": []}
    for _ in range(args.rounds):
        times["this checkout"] += _ms_per_crop(lambda: _descriptors(lomo, crops), len(crops), 1)
        if before is not None:
            times["before"] += _ms_per_crop(lambda: _descriptors(before, crops), len(crops), 1)
    ms_now = statistics.median(times["this checkout"])
    print(f"  {'LOMO descriptors alone':32s} {ms_now:6.2f} ms/crop")
    if before is not None:
        ms_before = statistics.median(times["before"])
        diff = (_descriptors(lomo, crops) - _descriptors(before, crops)).abs().max()
        print(
            f"  {'LOMO descriptors, --before':32s} {ms_before:6.2f} ms/crop: this checkout "
            f"{ms_before / ms_now:.2f}x as fast; largest difference {float(diff):.2e}"
        )


if __name__ == "__main__":
    main()

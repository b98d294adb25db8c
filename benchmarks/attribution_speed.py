"""Attributions per second for each method on 48x128 VIPeR crops, batched vs one at a time.

    OMP_NUM_THREADS=1 python benchmarks/attribution_speed.py --data ../shared/data/viper

Uses the bundled model (or --weights) and its split's test persons: each view is explained
against the other view of the same person (DistanceScore). Prints, per method, images per
second batched and one image at a time; Integrated Gradients' accuracy (Captum's convergence
delta relative to score(x) - score(baseline)) against its number of steps; and the time to
explain the whole test set (every person, both views) with the default settings.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial

import torch

from attribution import INTERNAL_BATCH_SIZE, METHODS, DistanceScore, explain, paired_views
from reid_model import (
    Embedder,
    default_metadata,
    embed,
    load_checkpoint,
    load_default,
    load_images,
    load_viper,
)


def _test_views(data: str, weights: str | None) -> tuple[Embedder, torch.Tensor, torch.Tensor]:
    model = load_checkpoint(weights) if weights else load_default()
    meta = getattr(model, "metadata", None) or default_metadata()
    ids = meta["split"]["test"]
    _, a, b = paired_views(load_viper(data), ids)
    views = load_images([s.path for s in a + b])
    embeddings = embed(model, views)
    count = len(a)
    return model, views, torch.cat([embeddings[count:], embeddings[:count]])


def _batched(model: Embedder, x: torch.Tensor, ref: torch.Tensor, method: str, batch: int) -> None:
    explain(model, x, reference=ref, method=method, internal_batch_size=batch)


def _one_by_one(model: Embedder, x: torch.Tensor, ref: torch.Tensor, method: str) -> None:
    for i in range(len(x)):
        explain(model, x[i : i + 1], reference=ref[i : i + 1], method=method)


def _rate(fn: Callable[[], object], images: int) -> float:
    start = time.perf_counter()
    fn()
    return images / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default="../shared/data/viper")
    parser.add_argument("--weights", default=None)
    parser.add_argument("--images", type=int, default=16, help="Images per method measurement.")
    parser.add_argument("--threads", type=int, default=0, help="Torch threads (0: default).")
    parser.add_argument("--batch", type=int, default=INTERNAL_BATCH_SIZE, help="internal_batch_size.")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model, views, reference = _test_views(args.data, args.weights)
    print(
        f"model: {getattr(model, 'arch', type(model).__name__)}, "
        f"torch threads: {torch.get_num_threads()}, "
        f"internal_batch_size {args.batch}, {len(views)} test images "
        f"({len(views) // 2} persons x 2 views)"
    )
    x, ref = views[: args.images], reference[: args.images]

    print(f"\n{'method':22s} {'batched img/s':>14s} {'one-by-one img/s':>17s} {'speed-up':>9s}")
    for method in METHODS:
        explain(model, x[:2], reference=ref[:2], method=method)  # warm-up
        batched = _rate(partial(_batched, model, x, ref, method, args.batch), len(x))
        single = _rate(partial(_one_by_one, model, x, ref, method), len(x))
        print(f"{method:22s} {batched:14.1f} {single:17.1f} {batched / single:8.2f}x")

    print(f"\n{'IG n_steps':>10s} {'img/s':>8s} {'|delta| / |score(x)-score(b)|':>30s}")
    score = DistanceScore(model, ref)
    with torch.no_grad():
        baseline = x.mean(dim=(2, 3), keepdim=True).expand_as(x)  # explain's default
        gain = (score(x) - score(baseline)).abs()
    for steps in (4, 8, 16, 32, 64):
        start = time.perf_counter()
        _, delta = explain(
            model,
            x,
            reference=ref,
            n_steps=steps,
            internal_batch_size=args.batch,
            return_delta=True,
        )
        rate = len(x) / (time.perf_counter() - start)
        assert delta is not None
        print(f"{steps:10d} {rate:8.1f} {float((delta.abs() / gain).mean()):29.2%}")

    start = time.perf_counter()
    explain(model, views, reference=reference, internal_batch_size=args.batch)
    seconds = time.perf_counter() - start
    print(
        f"\nwhole test set with integrated_gradients (defaults): {len(views)} images "
        f"in {seconds:.1f} s "
        f"({len(views) / seconds:.1f} img/s)"
    )


if __name__ == "__main__":
    main()

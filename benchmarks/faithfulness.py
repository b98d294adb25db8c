"""Faithfulness of each attribution method: deletion curves on real VIPeR test persons.

    OMP_NUM_THREADS=1 python benchmarks/faithfulness.py --data ../shared/data/viper [--persons 32]

Each view of a test person is explained against the other view (DistanceScore); then its pixels
are deleted (filled with the image's mean colour, or blurred with --fill blur) in attribution
order and in random order. The table gives the normalized area under both deletion curves
(1 = the score does not fall until the end, 0 = it falls at once; lower is faster), their gap,
how often attribution order beats random order, and the method's speed. The last line names
the method that is both faithful (within 80 % of the best gap) and the cheapest of those.
"""

from __future__ import annotations

import argparse
import time

import torch

from attribution import METHODS, DistanceScore, deletion_curves, explain, paired_views
from reid_model import (
    default_metadata,
    embed,
    load_checkpoint,
    load_default,
    load_images,
    load_viper,
)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default="../shared/data/viper")
    parser.add_argument("--weights", default=None)
    parser.add_argument("--persons", type=int, default=32, help="Test persons (both views of each).")
    parser.add_argument("--steps", type=int, default=16, help="Deletion steps.")
    parser.add_argument("--repeats", type=int, default=3, help="Random orders averaged.")
    parser.add_argument("--fill", choices=["mean", "blur"], default="mean")
    parser.add_argument("--methods", nargs="*", default=list(METHODS))
    parser.add_argument(
        "--ig-baselines",
        nargs="*",
        default=["black", "blur"],
        help="Extra Integrated Gradients rows with these baselines (its default is the mean).",
    )
    args = parser.parse_args()

    model = load_checkpoint(args.weights) if args.weights else load_default()
    meta = getattr(model, "metadata", None) or default_metadata()
    _, a, b = paired_views(load_viper(args.data), meta["split"]["test"][: args.persons])
    views = load_images([s.path for s in a + b])
    embeddings = embed(model, views)
    count = len(a)
    score = DistanceScore(model, torch.cat([embeddings[count:], embeddings[:count]]))
    print(
        f"model: {getattr(model, 'arch', '?')}, {len(views)} images "
        f"({count} test persons x 2 views), "
        f"fill {args.fill}, {args.steps} steps, {args.repeats} random orders, "
        f"threads {torch.get_num_threads()}"
    )
    print(f"{'method':28s} {'AUC attr':>9s} {'AUC rand':>9s} {'gap':>7s} {'beats rand':>10s} {'img/s':>8s}")
    variants: list[tuple[str, str, str | None]] = [(m, m, None) for m in args.methods]
    variants += [(f"integrated_gradients[{b}]", "integrated_gradients", b) for b in args.ig_baselines]
    rows = []
    for label, method, baseline in variants:
        start = time.perf_counter()
        attributions = explain(score, views, method=method, baseline=baseline)
        rate = len(views) / (time.perf_counter() - start)
        curves = deletion_curves(
            score, views, attributions, steps=args.steps, repeats=args.repeats, fill=args.fill
        )
        auc_attr, auc_rand = curves.auc()
        keep = auc_attr.isfinite() & auc_rand.isfinite()
        gap = float((auc_rand - auc_attr)[keep].mean())
        beats = float((auc_attr < auc_rand)[keep].float().mean())
        rows.append((label, gap, rate))
        print(
            f"{label:28s} {float(auc_attr[keep].mean()):9.3f} {float(auc_rand[keep].mean()):9.3f} "
            f"{gap:7.3f} {beats:10.0%} {rate:8.1f}"
        )
    best = max(gap for _, gap, _ in rows)
    faithful = [row for row in rows if row[1] >= 0.8 * best]
    method, gap, rate = max(faithful, key=lambda row: row[2])
    print(f"\nfaithful and cheapest: {method} (gap {gap:.3f}, best gap {best:.3f}, {rate:.1f} img/s)")


if __name__ == "__main__":
    main()

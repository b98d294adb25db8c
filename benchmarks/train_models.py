"""Train the candidate adversaries on VIPeR's seed split and print their errors side by side.

    python benchmarks/train_models.py --data ../shared/data/viper --runs runs/models [NAME ...]

Each NAME is one of CONFIGS; the seed's network is always among the defaults. Results are
written per run (checkpoints, split, history, metrics) and summarized as a table.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from reid_model import TrainConfig, train

CONFIGS = {
    # The seed's network, loss and sampling (random negatives), with the usual augmentation.
    "seed_softmax": TrainConfig(arch="triplet", loss="softmax", mining="random", lr=5e-4),
    # The seed's network the seed's way (the bundled `seed`): 8 random negatives per anchor, no
    # augmentation, no weight decay, the last epoch kept (run it with --epochs 40).
    "seed": TrainConfig(
        arch="triplet",
        loss="softmax",
        mining="random",
        negatives=8,
        augment=False,
        weight_decay=0.0,
        select="last",
    ),
    # The seed's network with a margin loss on batch-hard triplets.
    "seed_margin": TrainConfig(arch="triplet", loss="margin", mining="hard", lr=5e-4),
    # The seed's network with the seed's loss on batch-hard triplets.
    "seed_softmax_hard": TrainConfig(arch="triplet", loss="softmax", mining="hard", lr=5e-4),
    # A stronger CPU-friendly embedder: residual stages, stripe pooling, margin + identity loss.
    "stripe": TrainConfig(arch="stripe", loss="margin", mining="hard", id_loss=1.0, lr=1e-3),
    # An independent attacker for the privacy audit: same architecture, another seed and loss.
    "stripe_independent": TrainConfig(
        arch="stripe", loss="softmax", mining="hard", id_loss=1.0, lr=1e-3, seed=1
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("names", nargs="*", default=["seed_softmax", "seed_margin", "stripe"])
    parser.add_argument("--data", default="../shared/data/viper")
    parser.add_argument("--runs", default="runs/models")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    rows = []
    for name in args.names:
        config = replace(
            CONFIGS[name],
            data=args.data,
            epochs=args.epochs,
            threads=args.threads,
            out=str(Path(args.runs) / name),
        )
        metrics = train(config, progress=False)
        rows.append((name, metrics))
        print(f"{name}: {json.dumps(metrics)}", flush=True)
    header = f"{'run':20s} {'train err':>9s} {'val err':>8s} {'test err':>8s} {'rank1':>6s} {'rank5':>6s} {'mAP':>6s} {'img/s':>6s}"
    print(header)
    for name, m in rows:
        print(
            f"{name:20s} {m['train']['seed_error']:9.2%} {m['val']['seed_error']:8.2%} {m['test']['seed_error']:8.2%} "
            f"{m['test']['rank1']:6.1%} {m['test']['rank5']:6.1%} {m['test']['mAP']:6.1%} {m['train_images_per_second']:6.1f}"
        )


if __name__ == "__main__":
    main()

"""VIPeR's standard 316/316 protocol: train on 316 persons, test on the other 316 (query cam_a,
gallery cam_b), over seeded random trials; prints rank-1/5/10/20 and mAP per trial and their mean.

    python benchmarks/viper_protocol.py --data ../shared/data/viper --trials 10 --arch stripe

The training recipe is the bundled model's (benchmarks/train_models.py CONFIGS); splits are saved
in each trial's run folder.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks.train_models import CONFIGS
from reid_model import train

KEYS = ("rank1", "rank5", "rank10", "rank20", "mAP")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default="../shared/data/viper")
    parser.add_argument("--config", default="stripe", choices=sorted(CONFIGS))
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--runs", default="runs/viper316")
    args = parser.parse_args()
    rows = []
    for trial in range(args.trials):
        config = replace(
            CONFIGS[args.config],
            data=args.data,
            split="viper316",
            trial=trial,
            epochs=args.epochs,
            out=str(Path(args.runs) / args.config / f"trial{trial}"),
        )
        test = train(config, progress=False)["test"]
        rows.append([test[k] for k in KEYS])
        print(f"trial {trial}: " + " ".join(f"{k} {test[k]:.1%}" for k in KEYS), flush=True)
    mean = np.mean(rows, axis=0)
    print(
        f"mean of {len(rows)} trials ({args.config}, {args.epochs} epochs): "
        + " ".join(f"{k} {v:.1%}" for k, v in zip(KEYS, mean, strict=True))
    )
    Path(args.runs).mkdir(parents=True, exist_ok=True)
    (Path(args.runs) / f"{args.config}_summary.json").write_text(
        json.dumps(
            {
                "config": args.config,
                "epochs": args.epochs,
                "trials": rows,
                "mean": dict(zip(KEYS, mean.tolist(), strict=True)),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()

"""VIPeR's standard 316/316 protocol: train on 316 persons, test on the other 316 (query cam_a,
gallery cam_b), over seeded random trials; prints rank-1/5/10/20 and mAP per trial in torchreid's
format, their mean and range, and the whole run's time.

    python -m benchmarks.viper_protocol --data ../shared/data/viper --trials 10 --config stripe
    python -m benchmarks.viper_protocol --trials 10 --fuse      # + LOMO + XQDA and the fused model

The network's recipe is one of benchmarks/train_models.py CONFIGS; each trial's run folder keeps
its split. With ``--fuse``, each trial also fits LOMO + XQDA (``reid_model.LomoEmbedder``:
plain and Retinex descriptors, mirror-averaged) on the trial's training persons and fuses it with
the trial's network (``reid_model.FusedEmbedder``, the network's weight ``--weight``, chosen on the
seed split's validation persons; each part's distances normalized over the trial's gallery
images, which an attacker holds, without their labels).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from benchmarks.train_models import CONFIGS
from reid_model import (
    FusedEmbedder,
    LomoEmbedder,
    embed,
    load_checkpoint,
    load_images,
    load_viper,
    lomo_descriptors,
    person_ids,
    retrieval_metrics,
    select,
    train,
    viper_protocol_splits,
)

KEYS = ("rank1", "rank5", "rank10", "rank20", "mAP")


def torchreid_block(name: str, trial: int, metrics: dict[str, float]) -> str:
    """One trial's result as torchreid prints it (``** Results **``, mAP, then the CMC curve)."""
    lines = [f"** Results ** {name}, trial {trial}", f"mAP: {metrics['mAP']:.1%}", "CMC curve"]
    lines += [f"Rank-{k:<3d}: {metrics[f'rank{k}']:.1%}" for k in (1, 5, 10, 20)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default="../shared/data/viper")
    parser.add_argument("--config", default="stripe", choices=sorted(CONFIGS))
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--fuse", action="store_true", help="Also LOMO + XQDA and the fused model.")
    parser.add_argument("--weight", type=float, default=0.3, help="The network's share of the fusion.")
    parser.add_argument("--runs", default="runs/viper316")
    args = parser.parse_args()
    started = time.perf_counter()
    samples = load_viper(args.data)
    index = {s: i for i, s in enumerate(samples)}
    labels = torch.tensor([s.person_id for s in samples])
    images = load_images([s.path for s in samples]) if args.fuse else None
    descriptors = lomo_descriptors(images) if images is not None else None
    if descriptors is not None:
        print(f"LOMO descriptors of {len(samples)} images: {time.perf_counter() - started:.0f} s", flush=True)
    models = ["network", "lomo_xqda", "fused"] if args.fuse else ["network"]
    rows: dict[str, list[list[float]]] = {name: [] for name in models}
    splits = viper_protocol_splits(person_ids(samples), trials=args.trials, seed=0)
    for trial, split in enumerate(splits):
        out = Path(args.runs) / args.config / f"trial{trial}"
        config = replace(
            CONFIGS[args.config],
            data=args.data,
            split="viper316",
            trial=trial,
            epochs=args.epochs,
            out=str(out),
        )
        results = {"network": train(config, progress=False)["test"]}
        if images is not None and descriptors is not None:
            test = select(samples, split.test)
            test_idx = [index[s] for s in test]
            train_idx = [index[s] for s in select(samples, split.train)]
            gallery = images[[index[s] for s in test if s.camera_id != 0]]
            fitted = LomoEmbedder.from_descriptors(descriptors[train_idx], labels[train_idx])
            network = load_checkpoint(out / "best.safetensors")
            fused = FusedEmbedder.fuse([network, fitted], gallery, weights=[args.weight, 1 - args.weight])
            pids, cams = [s.person_id for s in test], [s.camera_id for s in test]
            results["lomo_xqda"] = retrieval_metrics(fitted.embed_features(descriptors[test_idx]), pids, cams)
            results["fused"] = retrieval_metrics(embed(fused, images[test_idx]), pids, cams)
        for name in models:
            rows[name].append([results[name][k] for k in KEYS])
            print(torchreid_block(name, trial, results[name]), flush=True)
    elapsed = time.perf_counter() - started
    summary = {}
    for name in models:
        table = np.array(rows[name])
        summary[name] = {
            k: {"mean": float(m), "min": float(lo), "max": float(hi)}
            for k, m, lo, hi in zip(KEYS, table.mean(0), table.min(0), table.max(0), strict=True)
        }
        print(
            f"{name}: mean of {len(table)} trials ({args.config}, {args.epochs} epochs): "
            + " ".join(
                f"{k} {v['mean']:.1%} ({v['min']:.1%}-{v['max']:.1%})" for k, v in summary[name].items()
            )
        )
    print(f"whole protocol: {elapsed / 60:.1f} min ({args.trials} trials, {torch.get_num_threads()} threads)")
    Path(args.runs).mkdir(parents=True, exist_ok=True)
    (Path(args.runs) / f"{args.config}_summary.json").write_text(
        json.dumps(
            {
                "config": args.config,
                "epochs": args.epochs,
                "weight": args.weight if args.fuse else None,
                "seconds": elapsed,
                "trials": rows,
                "summary": summary,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()

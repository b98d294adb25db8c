"""``deid train`` and ``deid evaluate``: the re-identification model's commands."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import click

from deid.cli.options import data_option, dataset_option, device_option, seed_option, weights_option
from reid_model import (
    CheckpointError,
    DatasetError,
    Sample,
    Split,
    TrainConfig,
    evaluate,
    load_checkpoint,
    load_dataset,
    load_default,
    make_split,
    person_ids,
    train,
    viper_protocol_splits,
)
from reid_model.io import write_bytes_atomic

_DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(TrainConfig) if f.name != "arch_config"}


@click.command("train")
@data_option(default=_DEFAULTS["data"])
@dataset_option()
@click.option("--split", type=click.Choice(["seed", "viper316"]), default=_DEFAULTS["split"])
@click.option("--split-seed", type=int, default=_DEFAULTS["split_seed"])
@click.option("--trial", type=int, default=_DEFAULTS["trial"], help="Trial of the viper316 protocol.")
@click.option("--arch", type=click.Choice(["triplet", "stripe"]), default=_DEFAULTS["arch"])
@click.option("--loss", type=click.Choice(["softmax", "margin"]), default=_DEFAULTS["loss"])
@click.option("--margin", type=float, default=_DEFAULTS["margin"])
@click.option("--mining", type=click.Choice(["random", "hard"]), default=_DEFAULTS["mining"])
@click.option("--id-loss", type=float, default=_DEFAULTS["id_loss"], help="Weight of the identity loss.")
@click.option("--epochs", type=click.IntRange(min=1), default=_DEFAULTS["epochs"])
@click.option("--persons-per-batch", type=click.IntRange(min=2), default=_DEFAULTS["persons_per_batch"])
@click.option("--lr", type=float, default=_DEFAULTS["lr"])
@click.option("--weight-decay", type=float, default=_DEFAULTS["weight_decay"])
@click.option("--warmup-epochs", type=int, default=_DEFAULTS["warmup_epochs"])
@click.option("--augment/--no-augment", default=_DEFAULTS["augment"])
@seed_option(default=_DEFAULTS["seed"])
@click.option("--threads", type=int, default=_DEFAULTS["threads"], help="Torch threads (0: default).")
@device_option(default=_DEFAULTS["device"])
@click.option("--out", type=click.Path(file_okay=False), default=_DEFAULTS["out"], help="Run folder.")
@click.option("--resume/--no-resume", default=True, help="Continue a run found in --out.")
def train_command(resume: bool, **options: Any) -> None:
    """Train an embedder; checkpoints, split and metrics go to --out."""
    try:
        config = TrainConfig(**options)
        metrics = train(config, resume=resume)
    except (DatasetError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(_metrics_table(metrics))
    click.echo(f"best checkpoint: {Path(config.out) / 'best.safetensors'}")


def _metrics_table(metrics: dict[str, Any]) -> str:
    lines = [
        f"{'part':6s} {'persons':>7s} {'seed err':>8s} {'rank1':>6s} {'rank5':>6s} {'rank10':>6s} {'rank20':>6s} {'mAP':>6s}"
    ]
    for part in ("train", "val", "test"):
        if part in metrics:
            m = metrics[part]
            lines.append(
                f"{part:6s} {int(m['num_persons']):7d} {m['seed_error']:8.2%} {m['rank1']:6.1%} "
                f"{m['rank5']:6.1%} {m['rank10']:6.1%} {m['rank20']:6.1%} {m['mAP']:6.1%}"
            )
    return "\n".join(lines)


@click.command("evaluate")
@data_option(deprecated=("--viper",))
@dataset_option()
@weights_option()
@click.option(
    "--split",
    type=click.Choice(["seed", "viper316"]),
    default="seed",
    help="seed: the checkpoint's own split; viper316: test persons of the 316/316 protocol.",
)
@click.option(
    "--json", "json_out", type=click.Path(dir_okay=False), default=None, help="Write the metrics here."
)
def evaluate_command(data: str, dataset: str, weights: str | None, split: str, json_out: str | None) -> None:
    """Evaluate an embedder: the seed's error on train/val/test, CMC rank-1/5/10/20 and mAP."""
    try:
        model = load_checkpoint(weights) if weights else load_default()
        samples = load_dataset(data, kind=dataset)
    except (CheckpointError, DatasetError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from exc
    meta = getattr(model, "metadata", {})
    split_obj = _checkpoint_split(meta, samples, split)
    seen = set(meta.get("split", {}).get("train", ())) & set(split_obj.test)
    if seen:
        raise click.ClickException(
            f"the checkpoint was trained on {len(seen)} of the {len(split_obj.test)} test persons of split "
            f"{split_obj.name!r}; evaluate it on its own split (--split seed) or train one per trial "
            "(benchmarks/viper_protocol.py)"
        )
    metrics = evaluate(model, samples, split_obj)
    result = {
        "weights": str(weights or "bundled default"),
        "arch": meta.get("arch"),
        "split": {"name": split_obj.name, "seed": split_obj.seed, "trial": split_obj.trial},
        "seed_error_definition": "fraction of triplets (x, x+, x-) for which condition C (d+ < d-) fails",
        "parts": metrics,
    }
    click.echo(_metrics_table(metrics))
    if json_out:
        write_bytes_atomic(json_out, json.dumps(result, indent=1).encode())
        click.echo(f"wrote {json_out}")


def _checkpoint_split(meta: dict[str, Any], samples: list[Sample], split: str) -> Split:
    if split == "seed" and "split" in meta:
        return Split.from_dict(meta["split"])
    if split == "seed":
        return make_split(TrainConfig(), samples)
    return viper_protocol_splits(person_ids(samples), trials=1)[0]

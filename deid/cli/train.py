"""``deid train`` and ``deid evaluate``: the re-identification model's commands."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import click

from deid.cli.options import data_option, dataset_option, device_option, seed_option, weights_option
from reid_model import (
    BUNDLED_MODELS,
    MARKET1501_PROTOCOL,
    PROTOCOL_DEFINITIONS,
    CheckpointError,
    DatasetError,
    DistributedTrainingError,
    ProtocolError,
    Sample,
    Split,
    TrainConfig,
    dataset_kind,
    evaluate,
    evaluate_market1501,
    evaluation_split,
    load_bundled,
    load_checkpoint,
    load_dataset,
    resolve_protocol,
    split_matches,
    train_on_processes,
)
from reid_model.distributed import current_world, leave
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
@click.option(
    "--negatives",
    type=click.IntRange(min=1),
    default=_DEFAULTS["negatives"],
    help="Random negatives per anchor, each its own triplet (--mining random).",
)
@click.option("--id-loss", type=float, default=_DEFAULTS["id_loss"], help="Weight of the identity loss.")
@click.option("--epochs", type=click.IntRange(min=1), default=_DEFAULTS["epochs"])
@click.option("--persons-per-batch", type=click.IntRange(min=2), default=_DEFAULTS["persons_per_batch"])
@click.option("--lr", type=float, default=_DEFAULTS["lr"])
@click.option("--weight-decay", type=float, default=_DEFAULTS["weight_decay"])
@click.option("--warmup-epochs", type=int, default=_DEFAULTS["warmup_epochs"])
@click.option("--augment/--no-augment", default=_DEFAULTS["augment"])
@click.option(
    "--select",
    type=click.Choice(["mAP", "error", "last"]),
    default=_DEFAULTS["select"],
    show_default=True,
    help="What picks best.safetensors: the best validation mAP, the lowest validation seed's error, "
    "or the last epoch.",
)
@seed_option(default=_DEFAULTS["seed"])
@click.option(
    "--threads", type=click.IntRange(min=0), default=_DEFAULTS["threads"], help="Torch threads (0: default)."
)
@device_option(default=_DEFAULTS["device"])
@click.option("--out", type=click.Path(file_okay=False), default=_DEFAULTS["out"], help="Run folder.")
@click.option("--resume/--no-resume", default=True, help="Continue a run found in --out.")
@click.option(
    "--nproc",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Train on this many processes of this machine (torchrun, gloo): each embeds its share of "
    "every batch; the same model as one process, within floating-point rounding. On several "
    "machines, start `torchrun ... -m deid.cli train ...` yourself.",
)
def train_command(resume: bool, nproc: int, **options: Any) -> None:
    """Train an embedder; checkpoints, split and metrics go to --out."""
    try:
        config = TrainConfig(**options)
        metrics = train_on_processes(config, nproc, resume=resume)
    except (DatasetError, ValueError, DistributedTrainingError) as exc:
        raise click.ClickException(str(exc)) from exc
    main_process = current_world().main
    leave()  # under torchrun: this process's part is done
    if not main_process:  # the first process reports
        return
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
    "--model",
    type=click.Choice(sorted(BUNDLED_MODELS)),
    default=None,
    help="A bundled model instead of --weights: default (the adversary's network), seed (the seed's "
    "network trained the seed's way), fused (the default fused with LOMO + XQDA, the strongest).",
)
@click.option(
    "--split",
    type=click.Choice(["auto", *PROTOCOL_DEFINITIONS]),
    default="auto",
    show_default=True,
    help="auto: the dataset's own protocol (seed for VIPeR and folders, market1501 for Market-1501); "
    + "; ".join(f"{name}: {text}" for name, text in PROTOCOL_DEFINITIONS.items())
    + ". A split is applied only to the dataset it was made for.",
)
@click.option(
    "--json", "json_out", type=click.Path(dir_okay=False), default=None, help="Write the metrics here."
)
def evaluate_command(
    data: str, dataset: str, weights: str | None, model: str | None, split: str, json_out: str | None
) -> None:
    """Evaluate an embedder with the dataset's protocol: VIPeR and folders on a split (the seed's
    error, CMC rank-1/5/10/20 and mAP per part), Market-1501 on query/ against bounding_box_test/
    (CMC, mAP and mINP)."""
    if weights and model:
        raise click.UsageError(f"give --weights or --model, not both (got {weights} and {model})")
    try:
        embedder = load_checkpoint(weights) if weights else load_bundled(model or "default")
        kind = dataset_kind(data, dataset)
        protocol = resolve_protocol(kind, split)
        meta = getattr(embedder, "metadata", {})
        result: dict[str, Any] = {
            "weights": str(weights or f"bundled {model or 'default'}"),
            "arch": meta.get("arch"),
            "dataset": kind,
            "protocol": protocol,
        }
        if protocol == "market1501":
            metrics = {"test": evaluate_market1501(embedder, data)}
            result["protocol_definition"] = MARKET1501_PROTOCOL
            table = _query_gallery_table(metrics)
        else:
            samples = load_dataset(data, kind=kind)
            split_obj = evaluation_split(meta, samples, dataset=kind, protocol=protocol)
            _refuse_trained_persons(meta, samples, split_obj)
            metrics = evaluate(embedder, samples, split_obj)
            result["protocol_definition"] = PROTOCOL_DEFINITIONS[protocol]
            result["split"] = {"name": split_obj.name, "seed": split_obj.seed, "trial": split_obj.trial}
            result["seed_error_definition"] = (
                "fraction of triplets (x, x+, x-) for which condition C (d+ < d-) fails"
            )
            table = _metrics_table(metrics)
    except ProtocolError as exc:
        raise click.BadParameter(str(exc), param_hint="'--split'") from exc
    except (CheckpointError, DatasetError, FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    result["parts"] = metrics
    click.echo(table)
    if json_out:
        write_bytes_atomic(json_out, json.dumps(result, indent=1).encode())
        click.echo(f"wrote {json_out}")


def _refuse_trained_persons(meta: dict[str, Any], samples: list[Sample], split: Split) -> None:
    """Refuse test persons the checkpoint trained on (its own split must be one of this dataset)."""
    if "split" not in meta:
        return
    own = Split.from_dict(meta["split"])
    seen = set(own.train) & set(split.test) if split_matches(own, samples) else set()
    if seen:
        raise click.ClickException(
            f"the checkpoint was trained on {len(seen)} of the {len(split.test)} test persons of split "
            f"{split.name!r}; evaluate it on its own split (--split seed) or train one per trial "
            "(benchmarks/viper_protocol.py)"
        )


def _query_gallery_table(metrics: dict[str, Any]) -> str:
    lines = [
        f"{'part':6s} {'persons':>7s} {'queries':>7s} {'gallery':>7s} {'skipped':>7s} {'rank1':>6s} "
        f"{'rank5':>6s} {'rank10':>6s} {'rank20':>6s} {'mAP':>6s} {'mINP':>6s}"
    ]
    for part, m in metrics.items():
        lines.append(
            f"{part:6s} {int(m['num_persons']):7d} {int(m['num_queries']):7d} {int(m['num_gallery']):7d} "
            f"{int(m['num_skipped']):7d} {m['rank1']:6.1%} {m['rank5']:6.1%} {m['rank10']:6.1%} "
            f"{m['rank20']:6.1%} {m['mAP']:6.1%} {m['mINP']:6.1%}"
        )
    return "\n".join(lines)

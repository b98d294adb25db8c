"""``deid embed-plot``: the seed's qualitative figure, one PNG per split part."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click
import torch

from deid.cli.options import data_option, dataset_option, device_option, weights_option
from reid_model import (
    PROTOCOL_DEFINITIONS,
    PROTOCOLS,
    CheckpointError,
    DatasetError,
    Embedder,
    ImageReadError,
    ProtocolError,
    Sample,
    dataset_kind,
    embed,
    evaluation_split,
    load_checkpoint,
    load_dataset,
    load_default,
    load_images,
    plot_embeddings,
    select,
    write_image,
)

PARTS = ("train", "val", "test")
#: The protocols that divide a dataset's persons into parts (:data:`reid_model.PROTOCOLS`).
SPLITS = ("seed", "viper316")
#: Pixels of background between the two panels of ``--compare``.
_GAP = 24


@click.command("embed-plot", context_settings={"show_default": True})
@data_option()
@dataset_option()
@weights_option()
@click.option(
    "--compare",
    type=click.Path(dir_okay=False),
    default=None,
    help="A second checkpoint, drawn in a panel beside the first (each PCA'd on its own).",
)
@click.option(
    "--split",
    type=click.Choice(SPLITS),
    default="seed",
    help="seed: the --weights checkpoint's own split; viper316: the 316/316 protocol's first trial.",
)
@click.option(
    "--part",
    "parts",
    type=click.Choice(PARTS),
    multiple=True,
    default=PARTS,
    help="Split parts to draw (repeat the flag); a part with no persons is left out.",
)
@click.option("--size", type=click.IntRange(min=400), default=2400, help="Side of each square panel, pixels.")
@click.option(
    "--thumb-height",
    type=click.IntRange(min=4),
    default=None,
    help="Thumbnail height in pixels [default: from --size and the number of images].",
)
@device_option()
@click.option("--out", type=click.Path(file_okay=False), required=True, help="Folder for embed_PART.png.")
def embed_plot_command(
    data: str,
    dataset: str,
    weights: str | None,
    compare: str | None,
    split: str,
    parts: tuple[str, ...],
    size: int,
    thumb_height: int | None,
    device: str,
    out: str,
) -> None:
    """Draw each person's crops at their embeddings' first two principal components.

    Writes OUT/embed_train.png, embed_val.png and embed_test.png: the crops of that part's
    persons at their PCA points (PCA of that part alone), a line joining each person's views,
    the title naming the model, the part, the persons and the variance explained.
    """
    if thumb_height is not None and thumb_height > size // 4:
        raise click.BadParameter(
            f"must be at most a quarter of --size ({size // 4}), got {thumb_height}",
            param_hint="--thumb-height",
        )
    if Path(out).resolve().is_relative_to(Path(data).resolve()):
        raise click.BadParameter(
            f"the output folder {out} must not be inside the dataset {data}", param_hint="--out"
        )
    try:
        kind = dataset_kind(data, dataset)
    except (DatasetError, ValueError) as exc:
        raise click.BadParameter(str(exc), param_hint="--data") from exc
    allowed = [p for p in PROTOCOLS[kind] if p in SPLITS]
    if not allowed:
        raise click.BadParameter(
            f"a {kind} dataset has no split of persons to draw (it is evaluated as "
            f"{PROTOCOL_DEFINITIONS[PROTOCOLS[kind][0]]}); give VIPeR or a person/camera folder tree",
            param_hint="--data",
        )
    if split not in allowed:
        raise click.BadParameter(
            f"split {split!r} is not one for a {kind} dataset, which allows {allowed}", param_hint="--split"
        )
    try:
        samples = load_dataset(data, kind=kind)
    except (DatasetError, FileNotFoundError) as exc:
        raise click.BadParameter(str(exc), param_hint="--data") from exc
    models = [_load(weights, "--weights", device)]
    if compare:
        models.append(_load(compare, "--compare", device))
    try:
        split_obj = evaluation_split(
            getattr(models[0][1], "metadata", {}), samples, dataset=kind, protocol=split
        )
    except ProtocolError as exc:
        raise click.BadParameter(str(exc), param_hint="--split") from exc
    _check_writable(out)
    camera_names = ("cam_a", "cam_b") if kind == "viper" else ()
    if compare and split == "seed" and _split_ids(models[1][1]) not in (None, _split_ids(models[0][1])):
        click.echo(
            f"note: {compare} was trained on another split than the first model; both panels show "
            "the persons of the first model's split",
            err=True,
        )
    for part in parts:
        chosen = select(samples, getattr(split_obj, part))
        if len({s.person_id for s in chosen}) < 2:
            click.echo(f"{part}: fewer than 2 persons in split {split_obj.name!r}, left out", err=True)
            continue
        try:
            images = load_images([s.path for s in chosen])
        except ImageReadError as exc:
            raise click.ClickException(str(exc)) from exc
        panels = [
            _panel(model, name, part, chosen, images, camera_names, size, thumb_height)
            for name, model in models
        ]
        target = Path(out) / f"embed_{part}.png"
        try:
            write_image(target, _side_by_side(panels))
        except OSError as exc:
            raise click.ClickException(f"cannot write {target}: {exc}") from exc
        click.echo(f"wrote {target}")


def _load(weights: str | None, flag: str, device: str) -> tuple[str, Embedder]:
    """The model and its name for titles: ``bundled default (stripe)`` or ``FILE.safetensors (arch)``."""
    try:
        model = load_checkpoint(weights, device=device) if weights else load_default(device=device)
    except (CheckpointError, FileNotFoundError) as exc:
        raise click.BadParameter(str(exc), param_hint=flag) from exc
    name = Path(weights).name if weights else "bundled default"
    return f"{name} ({model.arch})", model


def _split_ids(model: Embedder) -> tuple[Any, ...] | None:
    split = getattr(model, "metadata", {}).get("split")
    return None if split is None else tuple(tuple(split.get(p, ())) for p in PARTS)


def _check_writable(out: str) -> None:
    """Create ``out`` and check that files can be written in it, before any work is done."""
    try:
        Path(out).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.BadParameter(f"cannot create the output folder {out}: {exc}", param_hint="--out") from exc
    if not os.access(out, os.W_OK | os.X_OK):
        raise click.BadParameter(f"the output folder {out} is not writable", param_hint="--out")


def _panel(
    model: Embedder,
    name: str,
    part: str,
    samples: list[Sample],
    images: torch.Tensor,
    camera_names: tuple[str, ...],
    size: int,
    thumb_height: int | None,
) -> torch.Tensor:
    embeddings = embed(model, images)
    return plot_embeddings(
        embeddings,
        images,
        [s.person_id for s in samples],
        cameras=[s.camera_id for s in samples],
        camera_names=camera_names,
        title=f"{name}: {part} persons",
        size=size,
        thumb_height=thumb_height,
    )


def _side_by_side(panels: list[torch.Tensor]) -> torch.Tensor:
    if len(panels) == 1:
        return panels[0]
    gap = torch.full((3, panels[0].shape[1], _GAP), 0.75)
    return torch.cat([panels[0], gap, *panels[1:]], dim=2)

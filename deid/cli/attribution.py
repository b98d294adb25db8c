"""``deid explain`` (heatmaps for image pairs or dataset persons) and ``deid analyze`` (the
soft-biometric analysis): thin click layers over the ``attribution`` package."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import click
import numpy as np
import torch
import torch.nn.functional as F

from attribution import (
    METHODS,
    AnalysisConfig,
    analyze,
    explain,
    load_attributes,
    save_pair_heatmap,
    write_report,
)
from deid.cli.options import data_option, dataset_option, seed_option, weights_option
from deid.detection import is_person_crop
from deid.finder import crop_body_regions
from deid.pairs import ImagePair, PairsError, image_pairs, person_pairs
from reid_model import (
    INPUT_SIZE,
    CheckpointError,
    DatasetError,
    Embedder,
    ImageReadError,
    dataset_kind,
    default_gallery,
    default_metadata,
    embed,
    load_checkpoint,
    load_dataset,
    load_default,
    load_gallery,
    read_image,
)

_ANALYSIS: dict[str, Any] = {f.name: f.default for f in fields(AnalysisConfig)}


#: The fewest pixels a side of an image ``deid explain`` explains (squashed to the model's
#: 48x128, a 1x1 image is one colour, and its panel too small to read).
MIN_SIDE = 16


def _at_height(image: torch.Tensor, height: int) -> torch.Tensor:
    """``image (C, H, W)`` shown ``height`` pixels high, its width in proportion (the panels of a
    pair of other sizes side by side, readable). Not ``reid_model.resize``: it takes RGB images
    only and clamps to [0, 1], and attributions are signed."""
    if image.shape[-2] == height:
        return image
    width = max(1, round(image.shape[-1] * height / image.shape[-2]))
    return F.interpolate(image[None].float(), size=(height, width), mode="bilinear", antialias=True)[0]


def _load_model(weights: str | None) -> Embedder:
    try:
        return load_checkpoint(weights) if weights else load_default()
    except (CheckpointError, FileNotFoundError) as exc:
        raise click.BadParameter(str(exc), param_hint="--weights") from exc


def _gallery_pairs(weights: str | None, width: int) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Distances ``(same, different)`` between the embeddings of the model's gallery (the bundled
    one's, or ``--weights``' gallery beside it) of one person and of two, or None without one."""
    try:
        if weights is None:
            embeddings, labels = default_gallery()
        else:
            path = Path(weights)
            embeddings, labels = load_gallery(path.with_name(path.stem + "_gallery.safetensors"), width=width)
    except (CheckpointError, FileNotFoundError, OSError):
        return None
    distances = torch.cdist(embeddings.float(), embeddings.float())
    same = labels[:, None] == labels[None, :]
    pairs = torch.triu(torch.ones_like(same), diagonal=1)
    if not bool((same & pairs).any()) or not bool((~same & pairs).any()):
        return None
    return distances[same & pairs], distances[~same & pairs]


def _beside(distance: float, gallery: tuple[torch.Tensor, torch.Tensor]) -> list[str]:
    """Where ``distance`` stands among the gallery's pairs, in two caption lines."""
    same, different = gallery
    closer = float((different > distance).float().mean())
    further = float((same > distance).float().mean())
    return [
        f"closer than {closer:.0%} of different-person pairs",
        f"and {further:.0%} of same-person pairs (the model's gallery)",
    ]


def _pairs(
    paths: tuple[str, ...], data: str | None, dataset: str, persons: tuple[int, ...]
) -> list[ImagePair]:
    """The pairs from PROBE GALLERY arguments, or from --data (read as --dataset) with --person."""
    if data is None:
        try:
            return image_pairs(paths)
        except PairsError as exc:
            raise click.BadParameter(str(exc), param_hint="PROBE GALLERY") from exc
    if not persons:
        raise click.BadParameter(
            "give the persons to explain with --person ID (repeatable)", param_hint="--person"
        )
    try:
        kind = dataset_kind(data, dataset)
        samples = load_dataset(data, kind=kind)
        if kind == "folder":  # any folder tree reads as one: say how this one was read
            read = f"{len({s.person_id for s in samples})} person folder(s), {len(samples)} image(s)"
            click.echo(
                f"--data {data}: read as person/camera folders ({read}); --dataset names another layout",
                err=True,
            )
        return person_pairs(samples, persons, source=data)
    except PairsError as exc:
        raise click.BadParameter(str(exc), param_hint="--person") from exc
    except (DatasetError, ValueError) as exc:
        raise click.BadParameter(str(exc), param_hint="--data/--person") from exc


@click.command("explain", context_settings={"show_default": True})
@click.argument("paths", nargs=-1, metavar="[PROBE GALLERY]...")
@data_option(
    default=None, help="A dataset root (VIPeR, Market-1501, person/camera folders) instead of pairs."
)
@click.option(
    "--person",
    "persons",
    type=int,
    multiple=True,
    help="With --data: a person id to explain (repeatable).",
)
@dataset_option()
@click.option("--method", type=click.Choice(METHODS), default="integrated_gradients")
@seed_option(help="Seeds the random draws of gradient_shap (the other methods draw none).")
@weights_option()
@click.option(
    "--smooth",
    type=click.FloatRange(min=0),
    default=0.02,
    help="Blur the maps by this fraction of the image height (0: raw pixels).",
)
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder for the heatmap PNGs.")
def explain_command(
    paths: tuple[str, ...],
    data: str | None,
    persons: tuple[int, ...],
    dataset: str,
    method: str,
    seed: int,
    weights: str | None,
    smooth: float,
    out: str,
) -> None:
    """Write heatmaps of why the model matches PROBE and GALLERY (files, folders or globs;
    quote a glob, or the shell pairs the files it expands to two by two).

    Each PNG shows the probe, its attribution against the gallery, the gallery's attribution
    against the probe and the gallery, each 128 pixels high (the model sees 48x128). An image
    that is not shaped like a person crop (a street frame) is squashed to 48x128 like any
    other: the PNG and stderr say so. The exit code is 1 when any pair failed.
    """
    if bool(paths) == bool(data):
        raise click.UsageError("give either PROBE GALLERY pairs or --data with --person, not both or neither")
    pairs = _pairs(paths, data, dataset, persons)
    out_dir = _output_folder(out)
    model = _load_model(weights)
    gallery_pairs = _gallery_pairs(weights, model.embedding_dim)
    inputs = {p.resolve() for pair in pairs for p in (pair.probe, pair.gallery)}
    if any(out_dir.resolve() == p.parent for p in inputs):
        raise click.BadParameter(
            f"{out} holds input images; write the heatmaps to a folder of their own", param_hint="--out"
        )
    failed, replaced = 0, 0
    for pair in pairs:
        target = out_dir / f"{pair.name}.png"
        if target.resolve() in inputs:
            raise click.BadParameter(f"{target} would overwrite an input image", param_hint="--out")
        try:
            probe, gallery = read_image(pair.probe)[None], read_image(pair.gallery)[None]
        except ImageReadError as exc:
            click.echo(f"failed: {exc}", err=True)
            failed += 1
            continue
        small = [
            f"{path}: {image.shape[-1]}x{image.shape[-2]}"
            for path, image in ((pair.probe, probe), (pair.gallery, gallery))
            if min(image.shape[-2:]) < MIN_SIDE
        ]
        if small:
            click.echo(f"failed: {', '.join(small)} pixels: a crop needs {MIN_SIDE} a side or more", err=True)
            failed += 1
            continue
        squashed = [
            f"{path.name} {image.shape[-1]}x{image.shape[-2]}"
            for path, image in ((pair.probe, probe), (pair.gallery, gallery))
            if not is_person_crop(image[0])
        ]
        if squashed:
            click.echo(
                f"warning: {pair.name}: {', '.join(squashed)} not shaped like a person crop (a frame?): "
                "squashed to 48x128 as it is; cut the person out first (deid detect)",
                err=True,
            )
        torch.manual_seed(seed)  # gradient_shap's draws (Captum's from NumPy too): the same map each run
        np.random.seed(seed)
        probe_attr = explain(model, probe, reference=gallery, method=method)
        gallery_attr = explain(model, gallery, reference=probe, method=method)
        distance = float((embed(model, probe) - embed(model, gallery)).norm())
        caption = [
            f"distance {distance:.3f}, {method}",
            SIGNS.get(method, SIGNS["signed"]),
            "each panel to its own scale",
        ]
        if gallery_pairs is not None:
            caption[1:1] = _beside(distance, gallery_pairs)
        if squashed:
            caption.append(f"squashed to 48x128: {', '.join(squashed)}")
        shown = [_at_height(x[0], INPUT_SIZE[0]) for x in (probe, probe_attr, gallery, gallery_attr)]
        existed = target.exists()
        try:
            save_pair_heatmap(target, *shown, caption=caption, smooth=smooth)
        except OSError as exc:
            click.echo(f"failed: {target}: {exc.strerror or exc}", err=True)
            failed += 1
            continue
        replaced += existed
        click.echo(f"{target}  (distance {distance:.3f})")
    if replaced:
        click.echo(f"warning: {replaced} heatmap(s) in {out} replaced", err=True)
    if failed:
        raise click.ClickException(f"{failed} of {len(pairs)} pairs failed")


#: What the colours of a map mean, by method: saliency is ``|d score / d pixel|``, unsigned.
SIGNS = {
    "signed": "red: for the match, blue: against it",
    "saliency": "red: where the match is most sensitive (no sign)",
}


def _output_folder(out: str) -> Path:
    """``--out`` made (with its parents) before any work, or a clear error."""
    folder = Path(out)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.BadParameter(
            f"cannot make the folder {out}: {exc.strerror or exc}", param_hint="--out"
        ) from exc
    return folder


@click.command("analyze", context_settings={"show_default": True})
@data_option()
@dataset_option()
@click.option(
    "--attributes",
    "attributes_csv",
    type=click.Path(dir_okay=False),
    default="../shared/data/viper_attributes.csv",
    help="CSV of 0/1 attributes per person_id.",
)
@weights_option()
@click.option(
    "--persons",
    type=click.Choice(["test", "all"]),
    default="test",
    help="test: the model's split's test persons; all: every person of the dataset.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=0,
    help="Analyze only the first N persons (0: all).",
)
@click.option("--method", type=click.Choice(METHODS), default=_ANALYSIS["method"])
@click.option(
    "--baseline",
    type=click.Choice(["black", "mean", "blur"]),
    default=_ANALYSIS["baseline"],
    help="The attribution baseline: black, each image's mean colour, or its blur.",
)
@click.option(
    "--fill",
    type=click.Choice(["mean", "blur"]),
    default=_ANALYSIS["fill"],
    help="How a concealed region is filled: the image's mean colour or a strong blur.",
)
@click.option("--attribute", "attributes", multiple=True, help="Only these attribute columns (repeatable).")
@click.option(
    "--min-positives",
    type=click.IntRange(min=1),
    default=_ANALYSIS["min_positives"],
    help="Analyzed persons with (and without) an attribute needed to split by it.",
)
@click.option(
    "--probe-persons",
    type=click.Choice(["all", "analyzed"]),
    default=_ANALYSIS["probe_persons"],
    help="Persons whose embeddings the linear probe uses: all labelled ones or the analyzed ones.",
)
@click.option("--probe-min-positives", type=click.IntRange(min=2), default=_ANALYSIS["probe_min_positives"])
@click.option("--folds", type=click.IntRange(min=2), default=_ANALYSIS["folds"])
@click.option(
    "--permutations",
    type=click.IntRange(min=0),
    default=_ANALYSIS["permutations"],
    help="Shuffled-label probes that measure the chance level.",
)
@click.option(
    "--examples",
    type=click.IntRange(min=1),
    default=_ANALYSIS["examples"],
    help="Persons in heatmaps.png.",
)
@click.option("--internal-batch-size", type=click.IntRange(min=1), default=_ANALYSIS["internal_batch_size"])
@click.option(
    "--regions",
    type=click.Choice(["pose", "bands"]),
    default="pose",
    help="Body regions: 'pose' follows each crop's own pose and silhouette (head, torso, arms, "
    "legs, feet, background; bands where the finder finds no pose); 'bands' cuts every crop "
    "into the same horizontal bands.",
)
@seed_option(default=_ANALYSIS["seed"])
@click.option("--out", type=click.Path(file_okay=False), default="runs/analysis", help="Output folder.")
def analyze_command(
    data: str,
    dataset: str,
    attributes_csv: str,
    weights: str | None,
    persons: str,
    limit: int,
    out: str,
    attributes: tuple[str, ...],
    regions: str,
    **options: Any,
) -> None:
    """Which body regions and soft-biometric attributes drive the model's matches.

    Writes CSV/JSON tables, PNG plots and findings.txt to --out: attribution share per body
    region (overall and by attribute), a linear probe per attribute, and rank-1 / seed error
    before and after concealing each region, with attributes ranked by impact. Regions follow
    each crop's pose by default (``--regions``).
    """
    model = _load_model(weights)
    try:
        samples = load_dataset(data, kind=dataset)
    except (DatasetError, ValueError) as exc:
        raise click.BadParameter(str(exc), param_hint="--data") from exc
    try:
        table = load_attributes(attributes_csv, columns=attributes or None)
    except FileNotFoundError as exc:
        raise click.BadParameter(str(exc), param_hint="--attributes") from exc
    except ValueError as exc:
        raise click.BadParameter(
            str(exc), param_hint="--attribute" if attributes else "--attributes"
        ) from exc
    meta = getattr(model, "metadata", None) or (default_metadata() if weights is None else {})
    if persons == "test":
        if "split" not in meta:
            raise click.BadParameter(
                "the checkpoint records no split; use --persons all", param_hint="--persons"
            )
        ids = list(meta["split"]["test"])
    else:
        ids = sorted({s.person_id for s in samples})
    if limit == 1:
        raise click.BadParameter("1: a match needs at least 2 persons (0: all of them)", param_hint="--limit")
    ids = ids[:limit] if limit else ids
    try:
        table.for_persons(ids)
    except ValueError as exc:  # a CSV of another dataset: say which file
        raise click.BadParameter(f"{attributes_csv}: {exc}", param_hint="--attributes") from exc
    config = AnalysisConfig(attributes=tuple(attributes), **options)
    try:
        result = analyze(
            model,
            samples,
            table,
            ids,
            config=config,
            regions=crop_body_regions if regions == "pose" else None,
        )
    except (DatasetError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    written = write_report(result, out)
    for line in result.findings:
        click.echo(line)
    click.echo(f"wrote {len(written)} files to {out}")

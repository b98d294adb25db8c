"""``deid explain`` (heatmaps for image pairs or dataset persons) and ``deid analyze`` (the
soft-biometric analysis): thin click layers over the ``attribution`` package."""

from __future__ import annotations

import glob
from dataclasses import fields
from pathlib import Path
from typing import Any

import click

from attribution import (
    METHODS,
    AnalysisConfig,
    analyze,
    explain,
    load_attributes,
    paired_views,
    save_pair_heatmap,
    write_report,
)
from deid.cli.options import dataset_option, weights_option
from reid_model import (
    CheckpointError,
    DatasetError,
    Embedder,
    ImageReadError,
    default_metadata,
    embed,
    is_image_file,
    load_checkpoint,
    load_dataset,
    load_default,
    read_image,
)

_ANALYSIS = {f.name: f.default for f in fields(AnalysisConfig)}


def _load_model(weights: str | None) -> Embedder:
    try:
        return load_checkpoint(weights) if weights else load_default()
    except (CheckpointError, FileNotFoundError) as exc:
        raise click.BadParameter(str(exc), param_hint="--weights") from exc


def _expand(argument: str) -> list[Path]:
    """A file, a folder (its image files) or a glob, as a sorted list of image files."""
    path = Path(argument)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and is_image_file(p))
    elif path.exists():
        files = [path]
    elif glob.has_magic(argument):
        files = sorted(Path(p) for p in glob.glob(argument) if is_image_file(p))
    else:
        raise click.BadParameter(f"{argument} does not exist", param_hint="PROBE GALLERY")
    if not files:
        raise click.BadParameter(f"{argument} holds no image files", param_hint="PROBE GALLERY")
    return files


def _pairs(paths: tuple[str, ...]) -> list[tuple[Path, Path, str]]:
    if len(paths) % 2:
        raise click.BadParameter(
            f"expected PROBE GALLERY pairs (an even number of paths), got {len(paths)} paths",
            param_hint="PROBE GALLERY",
        )
    pairs: list[tuple[Path, Path, str]] = []
    for probe_arg, gallery_arg in zip(paths[::2], paths[1::2], strict=True):
        probes, galleries = _expand(probe_arg), _expand(gallery_arg)
        if len(probes) != len(galleries):
            raise click.BadParameter(
                f"{probe_arg} gives {len(probes)} images and {gallery_arg} gives {len(galleries)}; "
                "a probe and its gallery must give the same number (paired in sorted order)",
                param_hint="PROBE GALLERY",
            )
        pairs.extend((p, g, f"{p.stem}__{g.stem}") for p, g in zip(probes, galleries, strict=True))
    return pairs


def _dataset_pairs(data: str, persons: tuple[int, ...]) -> list[tuple[Path, Path, str]]:
    if not persons:
        raise click.BadParameter(
            "give the persons to explain with --person ID (repeatable)", param_hint="--person"
        )
    try:
        ids, views_a, views_b = paired_views(load_dataset(data), persons, minimum=0)
    except DatasetError as exc:
        raise click.BadParameter(str(exc), param_hint="--data/--person") from exc
    missing = sorted(set(persons) - set(ids))
    if missing:
        raise click.BadParameter(
            f"persons {missing} are not in {data} with two camera views", param_hint="--person"
        )
    return [
        (Path(a.path), Path(b.path), f"person_{pid}") for pid, a, b in zip(ids, views_a, views_b, strict=True)
    ]


@click.command("explain", context_settings={"show_default": True})
@click.argument("paths", nargs=-1, metavar="[PROBE GALLERY]...")
@click.option(
    "--data",
    type=click.Path(file_okay=False),
    default=None,
    help="A dataset root (VIPeR, Market-1501, person/camera folders) instead of pairs.",
)
@click.option(
    "--person",
    "persons",
    type=int,
    multiple=True,
    help="With --data: a person id to explain (repeatable).",
)
@click.option("--method", type=click.Choice(METHODS), default="integrated_gradients")
@weights_option
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
    method: str,
    weights: str | None,
    smooth: float,
    out: str,
) -> None:
    """Write heatmaps of why the model matches PROBE and GALLERY (files, folders or globs).

    Each PNG shows the probe, its attribution against the gallery, the gallery's attribution
    against the probe and the gallery, at the images' own resolution. The exit code is 1 when
    any pair failed.
    """
    if bool(paths) == bool(data):
        raise click.UsageError("give either PROBE GALLERY pairs or --data with --person, not both or neither")
    pairs = _dataset_pairs(data, persons) if data else _pairs(paths)
    model = _load_model(weights)
    out_dir = Path(out)
    inputs = {p.resolve() for pair in pairs for p in pair[:2]}
    failed = 0
    used: set[str] = set()
    for probe_path, gallery_path, name in pairs:
        stem, n = name, 1
        while stem in used:
            n, stem = n + 1, f"{name}_{n + 1}"
        used.add(stem)
        target = out_dir / f"{stem}.png"
        if target.resolve() in inputs:
            raise click.BadParameter(f"{target} would overwrite an input image", param_hint="--out")
        try:
            probe, gallery = read_image(probe_path)[None], read_image(gallery_path)[None]
        except ImageReadError as exc:
            click.echo(f"failed: {exc}", err=True)
            failed += 1
            continue
        probe_attr = explain(model, probe, reference=gallery, method=method)
        gallery_attr = explain(model, gallery, reference=probe, method=method)
        distance = float((embed(model, probe) - embed(model, gallery)).norm())
        save_pair_heatmap(target, probe[0], probe_attr[0], gallery[0], gallery_attr[0], smooth=smooth)
        click.echo(f"{target}  (distance {distance:.3f})")
    if failed:
        raise click.ClickException(f"{failed} of {len(pairs)} pairs failed")


@click.command("analyze", context_settings={"show_default": True})
@click.option(
    "--data", type=click.Path(file_okay=False), default="../shared/data/viper", help="Dataset root."
)
@dataset_option
@click.option(
    "--attributes",
    "attributes_csv",
    type=click.Path(dir_okay=False),
    default="../shared/data/viper_attributes.csv",
    help="CSV of 0/1 attributes per person_id.",
)
@weights_option
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
@click.option("--seed", type=int, default=_ANALYSIS["seed"])
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
    **options: Any,
) -> None:
    """Which body regions and soft-biometric attributes drive the model's matches.

    Writes CSV/JSON tables, PNG plots and findings.txt to --out: attribution share per body
    region (overall and by attribute), a linear probe per attribute, and rank-1 / seed error
    before and after concealing each region, with attributes ranked by impact.
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
    ids = ids[:limit] if limit else ids
    config = AnalysisConfig(attributes=tuple(attributes), **options)
    try:
        result = analyze(model, samples, table, ids, config=config)
    except (DatasetError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    written = write_report(result, out)
    for line in result.findings:
        click.echo(line)
    click.echo(f"wrote {len(written)} files to {out}")

"""``deid detect INPUT... --json OUT.json [--masks DIR]``: the person finder on files, as JSON and masks."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
import cv2
import numpy as np

from deid.batch.inputs import collect_inputs
from deid.cli.options import finder_option
from deid.finder import (
    MODEL_PATH,
    FinderConfig,
    FrameTooSmallError,
    ModelFileError,
    Person,
    PoseModel,
    find_people,
    named_finder,
)
from reid_model.io import ImageReadError, read_image, write_bytes_atomic

_DEFAULTS = FinderConfig()


def person_record(person: Person) -> dict[str, Any]:
    """One person as JSON: integer box ``[x, y, w, h]``, score, 33 ``[x, y, visibility]``, uncertain."""
    box = person.box
    return {
        "box": [int(box.x), int(box.y), int(box.w), int(box.h)],
        "score": round(float(person.score), 4),
        "uncertain": bool(person.uncertain),
        "keypoints": [
            [round(float(x), 2), round(float(y), 2), round(float(v), 3)]
            for x, y, v in person.keypoints.tolist()
        ],
    }


def label_mask(people: list[Person], height: int, width: int) -> np.ndarray:
    """``(height, width)`` labels: 0 background, ``i`` where the i-th person (1-based) is; uint8,
    or uint16 beyond 255 persons. Where masks overlap (uncertain boxes) the earlier person wins."""
    labels = np.zeros((height, width), dtype=np.uint8 if len(people) < 256 else np.uint16)
    for i, person in reversed(list(enumerate(people, start=1))):
        labels[person.mask.numpy()] = i
    return labels


@click.command("detect", context_settings={"show_default": True})
@click.argument("inputs", nargs=-1, required=True)
@click.option(
    "--json", "json_out", required=True, type=click.Path(dir_okay=False), help="The JSON file written."
)
@click.option(
    "--masks",
    type=click.Path(file_okay=False),
    default=None,
    help="Write a PNG per image here (mirroring the inputs): 0 background, i the i-th person of the JSON list.",
)
@click.option(
    "--uncertain/--no-uncertain",
    default=True,
    help='List proposals the finder could neither confirm nor reject (with "uncertain": true).',
)
@finder_option()
@click.option(
    "--hit-threshold",
    type=float,
    default=None,
    help=f"HOG's proposal threshold [default: the finder's own, {_DEFAULTS.hit_threshold}].",
)
@click.option(
    "--confirm",
    type=click.FloatRange(0, 1),
    default=_DEFAULTS.confirm,
    help="Presence that confirms a person.",
)
@click.option(
    "--model",
    "model_path",
    type=click.Path(dir_okay=False),
    default=str(MODEL_PATH),
    help="The pose landmark model file (checked against its sha256).",
)
def detect_command(
    inputs: tuple[str, ...],
    json_out: str,
    masks: str | None,
    uncertain: bool,
    finder: str,
    hit_threshold: float | None,
    confirm: float,
    model_path: str,
) -> None:
    """Find the people in images: box, score, 33 keypoints (MediaPipe's order) and silhouette masks.

    The JSON maps each image (its path relative to the inputs' common folder) to its persons,
    confirmed best first, then uncertain ones; it can be given back to ``deid conceal --boxes``.
    An image that cannot be read or is too small for the finder is reported and the command
    exits with status 1 (the others are still written).
    """
    named = named_finder(finder)
    try:
        config = replace(
            named,
            confirm=confirm,
            reject=min(_DEFAULTS.reject, confirm),
            hit_threshold=named.hit_threshold if hit_threshold is None else hit_threshold,
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--confirm") from exc
    try:
        model = PoseModel(model_path)
    except ModelFileError as exc:
        raise click.ClickException(str(exc)) from exc
    out = Path(json_out)
    found = collect_inputs(inputs, output=Path(masks) if masks else out)
    failed = [f"{p.path}: {p.error}" for p in found.problems]
    input_paths = {os.path.realpath(f.path) for f in found.files}
    if os.path.realpath(out) in input_paths:
        raise click.BadParameter(f"{out} is one of the inputs; it would be overwritten", param_hint="--json")
    records: dict[str, list[dict[str, Any]]] = {}
    for file in found.files:
        key = file.relative.as_posix()
        try:
            image = read_image(file.path)
            people = find_people(image, config=config, model=model)
        except (ImageReadError, FrameTooSmallError) as exc:
            failed.append(f"{file.path}: {exc}")
            continue
        if not uncertain:
            people = [p for p in people if not p.uncertain]
        records[key] = [person_record(p) for p in people]
        if not people:
            click.echo(f"{file.path}: no person found", err=True)
        if masks:
            target = (Path(masks) / file.relative).with_suffix(".png")
            if os.path.realpath(target) in input_paths:
                failed.append(f"{file.path}: its mask {target} would overwrite an input; not written")
                continue
            ok, encoded = cv2.imencode(".png", label_mask(people, *image.shape[-2:]))
            if not ok:  # pragma: no cover - PNG encoding of a label image does not fail
                raise click.ClickException(f"cannot encode the mask for {file.path}")
            write_bytes_atomic(target, encoded.tobytes())
    write_bytes_atomic(out, (json.dumps(records, indent=1) + "\n").encode("utf-8"))
    persons = sum(len(v) for v in records.values())
    click.echo(f"{len(records)} image(s), {persons} person(s) -> {out}", err=True)
    if not found.files and not failed:
        failed.append("no image found in the inputs")
    if failed:
        for line in failed:
            click.echo(f"error: {line}", err=True)
        raise SystemExit(1)

"""Issue 9: bad image values get an error naming the argument, at every public entry point."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

import deid
from attribution import explain
from deid.operators import blur
from reid_model import TripletEmbedder, embed, read_image
from reid_model.checks import RANGE_TOLERANCE, check_images

CROP = Path(__file__).parents[2] / "examples" / "images" / "cam_a" / "001_45.bmp"


def _bad(kind: str) -> torch.Tensor:
    image = read_image(CROP)[None]
    if kind == "uint8_scale":
        return image * 255.0
    if kind == "negative":
        return image - 0.5
    if kind == "nan":
        image[0, 0, 5, 5] = float("nan")
        return image
    if kind == "inf":
        image[0, 1, 5, 5] = float("inf")
        return image
    raise AssertionError(kind)


BAD = {
    "uint8_scale": r"must have values in \[0, 1\].*got values in \[0, 255\]",
    "negative": r"must have values in \[0, 1\].*got values in \[-0.5",
    "nan": "must have values that are all finite, got 1 NaN",
    "inf": "must have values that are all finite, got 1 NaN or infinite",
}


def test_round_off_within_tolerance_is_accepted() -> None:
    image = read_image(CROP)[None]
    image[0, 0, 0, 0] = 1 + RANGE_TOLERANCE / 2
    image[0, 0, 0, 1] = -RANGE_TOLERANCE / 2
    assert check_images(image) is image


@pytest.mark.parametrize("shape", [(1, 3, 0, 48), (1, 3, 128, 0), (3, 0, 0)])
def test_empty_images_are_refused(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=r"probe must .*empty tensor of shape"):
        check_images(torch.zeros(shape), "probe", batched=len(shape) == 4)


def _model() -> TripletEmbedder:
    torch.manual_seed(0)
    return TripletEmbedder().eval()


ENTRY_POINTS: dict[str, tuple[str, Callable[[torch.Tensor], object]]] = {
    "embed": ("images", lambda x: embed(_model(), x)),
    "blur": ("images", lambda x: blur(x, torch.ones(1, 1, 128, 48))),
    "explain": (
        "images",
        lambda x: explain(_model(), x, reference=read_image(CROP)[None], method="saliency"),
    ),
    "conceal": ("image", lambda x: deid.conceal(x[0])),
    "conceal_person": (r"people\[0\]\[0\]", lambda x: deid.conceal_person(x)),
}


@pytest.mark.parametrize("kind", sorted(BAD))
@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_public_entry_points_refuse_bad_values(entry: str, kind: str) -> None:
    name, call = ENTRY_POINTS[entry]
    with pytest.raises(ValueError, match=f"{name} {BAD[kind]}"):
        call(_bad(kind))

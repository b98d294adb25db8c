"""Colour shift: hue rotation and desaturation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from deid.operators import _filters
from deid.operators.base import Operator, blend, checked


def color_shift(
    images: torch.Tensor, mask: torch.Tensor, *, hue: float = 0.0, saturation: float = 0.0
) -> torch.Tensor:
    """Rotate hue by ``hue`` degrees and scale saturation by ``saturation`` inside the mask.

    ``saturation=0`` removes colour (each pixel becomes its luma), which hides the clothing
    colours re-identification relies on; ``hue`` rotates colours about the grey axis.

    Args:
        images: ``(B, 3, H, W)`` float RGB in [0, 1].
        mask: ``(B, 1, H, W)`` or ``(1, 1, H, W)`` in [0, 1], 1 = conceal.
        hue: the hue rotation in degrees.
        saturation: the saturation factor in [0, 1].

    Example:
        >>> grey = color_shift(torch.rand(1, 3, 8, 4), torch.ones(1, 1, 8, 4))
        >>> bool(torch.allclose(grey[:, 0], grey[:, 1], atol=1e-6))
        True
    """
    images, mask = checked(images, mask)
    if not 0 <= saturation <= 1:
        raise ValueError(f"saturation must be in [0, 1], got {saturation}")
    matrix = _filters.hue_saturation_matrix(hue, saturation, dtype=images.dtype, device=images.device)
    return blend(images, mask, _filters.color_transform(images, matrix))


@dataclass(frozen=True)
class ColorShift(Operator):
    """Hue rotation by ``hue`` degrees and saturation scaled by ``saturation`` (0 = grey).

    Example:
        >>> ColorShift(saturation=0.0)(torch.rand(1, 3, 8, 4), torch.ones(1, 1, 8, 4)).shape
        torch.Size([1, 3, 8, 4])
    """

    hue: float = 0.0
    saturation: float = 0.0
    name: ClassVar[str] = "color_shift"

    def __post_init__(self) -> None:
        if not 0 <= self.saturation <= 1:
            raise ValueError(f"saturation must be in [0, 1], got {self.saturation}")

    def transform(self, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        matrix = _filters.hue_saturation_matrix(
            self.hue, self.saturation, dtype=images.dtype, device=images.device
        )
        return _filters.color_transform(images, matrix)

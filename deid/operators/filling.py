"""Flat fill with a colour (or the image's mean) at an opacity."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from deid.operators.base import Color, Operator, blend, checked
from reid_model.checks import check_choice


def _fill_color(images: torch.Tensor, color: Color) -> torch.Tensor:
    if isinstance(color, str):
        check_choice("color", color, {"mean"})
        return images.mean(dim=(2, 3), keepdim=True)
    values = (float(color),) * 3 if isinstance(color, int | float) else tuple(float(c) for c in color)
    if len(values) != 3 or not all(0.0 <= v <= 1.0 for v in values):
        raise ValueError(f"color must be a value or an (r, g, b) triple in [0, 1] or 'mean', got {color!r}")
    return torch.tensor(values, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)


def fill(
    images: torch.Tensor, mask: torch.Tensor, *, color: Color = 0.5, opacity: float = 1.0
) -> torch.Tensor:
    """Paint a solid colour over the mask.

    Args:
        images: ``(B, 3, H, W)`` float RGB in [0, 1].
        mask: ``(B, 1, H, W)`` or ``(1, 1, H, W)`` in [0, 1], 1 = conceal.
        color: a grey level, an ``(r, g, b)`` triple in [0, 1], or ``"mean"`` for each image's
            mean colour.
        opacity: how much of the colour covers the image, in (0, 1].

    Example:
        >>> fill(torch.rand(1, 3, 8, 4), torch.ones(1, 1, 8, 4)).unique()
        tensor([0.5000])
    """
    images, mask = checked(images, mask)
    if not 0 < opacity <= 1:
        raise ValueError(f"opacity must be in (0, 1], got {opacity}")
    effect = torch.lerp(images, _fill_color(images, color).expand_as(images), opacity)
    return blend(images, mask, effect)


@dataclass(frozen=True)
class Fill(Operator):
    """Solid colour: a grey level, an ``(r, g, b)`` triple or ``"mean"``, at ``opacity``.

    Example:
        >>> Fill(color=(0.0, 0.0, 0.0))(torch.rand(1, 3, 8, 4), torch.ones(1, 1, 8, 4)).max()
        tensor(0.)
    """

    color: Color = 0.5
    opacity: float = 1.0
    name: ClassVar[str] = "fill"

    def __post_init__(self) -> None:
        if not 0 < self.opacity <= 1:
            raise ValueError(f"opacity must be in (0, 1], got {self.opacity}")
        _fill_color(torch.zeros(1, 3, 1, 1), self.color)  # validates the colour

    def transform(self, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.lerp(images, _fill_color(images, self.color).expand_as(images), self.opacity)

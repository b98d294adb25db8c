"""Redress: the garment's colour replaced, its brightness remapped, only soft shading kept.

Where the mask is 1, each pixel becomes the new colour times a shading factor: the image's
luminance, blurred to its low frequencies (a Gaussian of ``sigma`` times the width), divided by
its mean over the masked pixels of the same half of the crop (top and bottom, where an outfit's
two colours meet), with its contrast scaled by ``contrast``. So the outline, limbs and folds
survive as gentle shading, while the colour, brightness, texture and logos do not. At
``contrast=0`` this is a flat fill.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from deid.operators.base import Color, Operator
from deid.operators.filling import _fill_color
from reid_model.filters import gaussian_blur

#: Rec. 601 luma weights.
_LUMA = (0.299, 0.587, 0.114)
#: The shading factor is kept within these bounds (a black or white garment stays in range).
_BOUNDS = (0.4, 1.6)


def shading(
    images: torch.Tensor, mask: torch.Tensor, *, contrast: float, sigma: float, split: float
) -> torch.Tensor:
    """``(B, 1, H, W)`` the redress shading factor of ``images`` under ``mask`` (see the module).

    Args:
        images: ``(B, 3, H, W)`` in [0, 1].
        mask: ``(B, 1, H, W)`` or ``(1, 1, H, W)``, 1 = redressed.
        contrast: how much of the shading's contrast survives, in [0, 1].
        sigma: the low-pass Gaussian's sigma, as a fraction of the width.
        split: rows above ``split`` of the height are normalized apart from those below.
    """
    weights = torch.tensor(_LUMA, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    luma = (images * weights).sum(1, keepdim=True)
    low = gaussian_blur(luma, max(0.5, sigma * images.shape[-1]))
    mask = mask.expand(len(images), 1, *images.shape[-2:]).to(images.dtype)
    rows = torch.arange(images.shape[-2], device=images.device)[None, None, :, None] < round(
        split * images.shape[-2]
    )
    factor = torch.ones_like(low)
    for half in (rows, ~rows):
        part = mask * half
        mean = (low * part).sum((1, 2, 3), keepdim=True) / part.sum((1, 2, 3), keepdim=True).clamp(min=1e-6)
        ratio = low / mean.clamp(min=1e-3)
        factor = torch.where(half, ratio, factor)
    return (1 + contrast * (factor - 1)).clamp(*_BOUNDS)


@dataclass(frozen=True)
class Redress(Operator):
    """One colour for the whole garment (a grey level, an ``(r, g, b)`` triple or ``"mean"``),
    shaded by the image's low-frequency luminance at ``contrast``.

    In the conceal loop with ``colors="outfit"`` (the default) each person is redressed in their
    drawn two-tone outfit instead (:class:`deid.operators.outfit.OutfitFill` with ``contrast``).

    Example:
        >>> images = torch.rand(1, 3, 32, 16)
        >>> flat = Redress(color=0.5, contrast=0.0)(images, torch.ones(1, 1, 32, 16))
        >>> flat.unique().tolist()
        [0.5]
    """

    color: Color = 0.5
    contrast: float = 0.5
    sigma: float = 0.06
    name: ClassVar[str] = "redress"

    def __post_init__(self) -> None:
        if not 0.0 <= self.contrast <= 1.0:
            raise ValueError(f"contrast must be in [0, 1], got {self.contrast}")
        if not self.sigma > 0:
            raise ValueError(f"sigma must be > 0, got {self.sigma}")
        _fill_color(torch.zeros(1, 3, 1, 1), self.color)  # validates the colour

    def transform(self, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        factor = shading(images, mask, contrast=self.contrast, sigma=self.sigma, split=0.5)
        return _fill_color(images, self.color) * factor

"""Concealing pixels for measurements (deletion curves, region concealment): mean fill or blur.

These are measurement tools of this package, not ``deid``'s operators (``attribution`` must not
depend on ``deid``).
"""

from __future__ import annotations

import torch

from reid_model.filters import gaussian_blur

#: How concealed pixels are replaced.
FILLS = ("blur", "mean")


def blurred(images: torch.Tensor, *, sigma: float = 6.0) -> torch.Tensor:
    """A Gaussian blur of ``images (B, C, H, W)`` (reflect padding, radius ``round(3 sigma)``), strong by default."""
    radius = max(1, round(3 * sigma))
    return gaussian_blur(images, sigma, radius=radius, padding="reflect", rows_first=True)


def filler(images: torch.Tensor, fill: str) -> torch.Tensor:
    """What concealed pixels become: each image's mean colour (``"mean"``) or blur (``"blur"``)."""
    if fill == "mean":
        return images.mean(dim=(2, 3), keepdim=True).expand_as(images)
    if fill == "blur":
        return blurred(images)
    raise ValueError(f"fill must be one of {list(FILLS)}, got {fill!r}")


def fill_masked(images: torch.Tensor, mask: torch.Tensor, *, fill: str = "mean") -> torch.Tensor:
    """Replace the pixels of ``images (B, 3, H, W)`` under ``mask (B|1, 1, H, W)`` (1 = hidden)."""
    mask = mask.to(images.dtype)
    return images * (1 - mask) + filler(images, fill) * mask

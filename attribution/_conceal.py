"""Concealing pixels for measurements (deletion curves, region concealment): mean fill or blur.

These are measurement tools of this package, not ``deid``'s operators (``attribution`` must not
depend on ``deid``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

#: How concealed pixels are replaced.
FILLS = ("blur", "mean")


def _gaussian_kernel(sigma: float, like: torch.Tensor) -> torch.Tensor:
    radius = max(1, round(3 * sigma))
    x = torch.arange(-radius, radius + 1, device=like.device, dtype=like.dtype)
    kernel = torch.exp(-0.5 * (x / sigma) ** 2)
    return kernel / kernel.sum()


def blurred(images: torch.Tensor, *, sigma: float = 6.0) -> torch.Tensor:
    """A separable Gaussian blur of ``images (B, C, H, W)`` (reflect padding), strong by default."""
    kernel = _gaussian_kernel(sigma, images)
    radius = len(kernel) // 2
    channels = images.shape[1]
    out = images
    for dim in (2, 3):
        pad = min(radius, images.shape[dim] - 1)
        k = kernel[radius - pad : radius + pad + 1]
        k = (k / k.sum()).view(1, 1, -1).expand(channels, 1, -1)
        weight = k[..., None] if dim == 2 else k[:, :, None, :]
        padding = (0, 0, pad, pad) if dim == 2 else (pad, pad, 0, 0)
        out = F.conv2d(F.pad(out, padding, mode="reflect"), weight, groups=channels)
    return out


def filler(images: torch.Tensor, fill: str) -> torch.Tensor:
    """What concealed pixels become: each image's mean colour (``"mean"``) or blur (``"blur"``)."""
    if fill == "mean":
        return images.mean(dim=(2, 3), keepdim=True).expand_as(images)
    if fill == "blur":
        return blurred(images)
    raise ValueError(f"fill must be one of {list(FILLS)}, got {fill!r}")


def conceal(images: torch.Tensor, mask: torch.Tensor, *, fill: str = "mean") -> torch.Tensor:
    """Replace the pixels of ``images (B, 3, H, W)`` under ``mask (B|1, 1, H, W)`` (1 = hidden)."""
    mask = mask.to(images.dtype)
    return images * (1 - mask) + filler(images, fill) * mask

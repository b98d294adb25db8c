"""Batched training augmentation on image tensors ``(B, 3, H, W)`` in [0, 1].

One random affine warp per image (flip, shift, scale), colour jitter and random erasing, the
usual re-id recipe, done for the whole batch at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Augmentation:
    """Settings for :func:`augment`; zeros turn a part off."""

    flip: bool = True
    shift: float = 0.08
    scale: float = 0.1
    brightness: float = 0.2
    contrast: float = 0.2
    saturation: float = 0.2
    erase_prob: float = 0.5


def augment(
    images: torch.Tensor, config: Augmentation, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Apply random flips, shifts, scaling, colour jitter and erasing to a batch.

    Example:
        >>> out = augment(torch.rand(4, 3, 128, 48), Augmentation(), generator=torch.Generator().manual_seed(0))
        >>> out.shape
        torch.Size([4, 3, 128, 48])
    """
    b, _, h, w = images.shape

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator).to(images)

    if config.flip or config.shift or config.scale:
        scale = 1.0 + (rand(b) * 2 - 1) * config.scale
        sign = torch.where(rand(b) < 0.5, -1.0, 1.0) if config.flip else torch.ones(b).to(images)
        theta = torch.zeros(b, 2, 3).to(images)
        theta[:, 0, 0] = sign / scale
        theta[:, 1, 1] = 1.0 / scale
        theta[:, :, 2] = (rand(b, 2) * 2 - 1) * config.shift * 2
        grid = F.affine_grid(theta, [b, 3, h, w], align_corners=False)
        images = F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    if config.brightness:
        images = images * (1 + (rand(b, 1, 1, 1) * 2 - 1) * config.brightness)
    if config.contrast:
        mean = images.mean(dim=(1, 2, 3), keepdim=True)
        images = (images - mean) * (1 + (rand(b, 1, 1, 1) * 2 - 1) * config.contrast) + mean
    if config.saturation:
        gray = images.mean(dim=1, keepdim=True)
        images = (images - gray) * (1 + (rand(b, 1, 1, 1) * 2 - 1) * config.saturation) + gray
    images = images.clamp(0, 1)
    if config.erase_prob:
        eh = (rand(b) * 0.4 + 0.1) * h
        ew = (rand(b) * 0.4 + 0.2) * w
        top = rand(b) * (h - eh)
        left = rand(b) * (w - ew)
        ys = torch.arange(h).to(images)[None, :, None]
        xs = torch.arange(w).to(images)[None, None, :]
        box = (
            (ys >= top[:, None, None])
            & (ys < (top + eh)[:, None, None])
            & (xs >= left[:, None, None])
            & (xs < (left + ew)[:, None, None])
        )
        box &= (rand(b) < config.erase_prob)[:, None, None]
        images = torch.where(box[:, None], rand(b, 3, 1, 1).expand(-1, -1, h, w), images)
    return images

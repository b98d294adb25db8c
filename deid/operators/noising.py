"""Additive Gaussian noise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from deid.operators.base import Operator, blend, checked
from reid_model.checks import check_positive


def noise(
    images: torch.Tensor,
    mask: torch.Tensor,
    *,
    std: float = 0.2,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Add Gaussian noise of standard deviation ``std`` inside the mask (clipped to [0, 1]).

    Args:
        images: ``(B, 3, H, W)`` float RGB in [0, 1].
        mask: ``(B, 1, H, W)`` or ``(1, 1, H, W)`` in [0, 1], 1 = conceal.
        std: the noise's standard deviation (> 0).
        generator: a CPU ``torch.Generator`` for reproducible noise.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> noise(torch.rand(1, 3, 8, 4), torch.ones(1, 1, 8, 4), std=0.1, generator=g).shape
        torch.Size([1, 3, 8, 4])
    """
    images, mask = checked(images, mask)
    check_positive("std", std)
    draws = torch.randn(images.shape, generator=generator, dtype=images.dtype)
    return blend(images, mask, images + std * draws.to(images.device))


@dataclass(frozen=True)
class Noise(Operator):
    """Gaussian noise of ``std``, seeded: the same images and seed give the same noise.

    Every image of one size gets the same noise field, so an image's result does not depend on
    which other images share its batch (the conceal loop renders people in varying batches and
    must get the same pixels each time).

    Example:
        >>> op = Noise(std=0.3, seed=1)
        >>> x, m = torch.rand(1, 3, 8, 4), torch.ones(1, 1, 8, 4)
        >>> bool(torch.equal(op(x, m), op(x, m)))
        True
    """

    std: float = 0.2
    seed: int = 0
    name: ClassVar[str] = "noise"

    def __post_init__(self) -> None:
        check_positive("std", self.std)

    def transform(self, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        generator = torch.Generator().manual_seed(self.seed)
        draws = torch.randn((1, *images.shape[1:]), generator=generator, dtype=images.dtype)
        return images + self.std * draws.to(images.device)

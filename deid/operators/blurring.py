"""Gaussian blur."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from deid.operators.base import Operator, blend, check_size, checked, to_pixels
from reid_model import gaussian_blur
from reid_model.checks import check_positive


def blur(images: torch.Tensor, mask: torch.Tensor, *, sigma: float = 3.0) -> torch.Tensor:
    """Gaussian blur of standard deviation ``sigma`` pixels inside the mask.

    Args:
        images: ``(B, 3, H, W)`` float RGB in [0, 1].
        mask: ``(B, 1, H, W)`` or ``(1, 1, H, W)`` in [0, 1], 1 = conceal.
        sigma: the Gaussian's standard deviation in pixels (> 0).

    Example:
        >>> out = blur(torch.rand(2, 3, 128, 48), torch.ones(1, 1, 128, 48), sigma=4.0)
        >>> out.shape
        torch.Size([2, 3, 128, 48])
    """
    images, mask = checked(images, mask)
    check_positive("sigma", sigma)
    return blend(images, mask, gaussian_blur(images, sigma))


@dataclass(frozen=True)
class Blur(Operator):
    """Gaussian blur; ``sigma`` in pixels, or a fraction of the width with ``relative=True``.

    Example:
        >>> op = Blur(sigma=0.1, relative=True)  # sigma = 4.8 pixels on a 48-pixel-wide crop
        >>> op(torch.rand(1, 3, 128, 48), torch.ones(1, 1, 128, 48)).shape
        torch.Size([1, 3, 128, 48])
    """

    sigma: float = 3.0
    relative: bool = False
    name: ClassVar[str] = "blur"

    def __post_init__(self) -> None:
        check_size("sigma", self.sigma, self.relative)

    def transform(self, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return gaussian_blur(images, to_pixels(self.sigma, self.relative, images.shape[-1]))

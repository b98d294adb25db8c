"""Inpainting from the unmasked surroundings (OpenCV's Telea or Navier-Stokes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from deid.operators import _filters
from deid.operators.base import Operator, blend, check_size, checked, to_pixels
from reid_model.checks import check_choice, check_positive


def inpaint(
    images: torch.Tensor, mask: torch.Tensor, *, radius: float = 3.0, method: str = "telea"
) -> torch.Tensor:
    """Fill the masked region from its surroundings with OpenCV's inpainting.

    Pixels with any mask value > 0 are inpainted, then blended with the mask. Not differentiable.

    Args:
        images: ``(B, 3, H, W)`` float RGB in [0, 1].
        mask: ``(B, 1, H, W)`` or ``(1, 1, H, W)`` in [0, 1], 1 = conceal.
        radius: the neighbourhood considered around each inpainted pixel, in pixels (> 0).
        method: ``"telea"`` (fast marching) or ``"ns"`` (Navier-Stokes).

    Example:
        >>> mask = torch.zeros(1, 1, 32, 16); mask[..., 8:24, 4:12] = 1
        >>> inpaint(torch.rand(1, 3, 32, 16), mask).shape
        torch.Size([1, 3, 32, 16])
    """
    images, mask = checked(images, mask)
    check_positive("radius", radius)
    check_choice("method", method, _filters.INPAINT_METHODS)
    return blend(images, mask, _filters.inpaint_images(images, mask, radius=radius, method=method))


@dataclass(frozen=True)
class Inpaint(Operator):
    """OpenCV inpainting (``"telea"`` or ``"ns"``); ``radius`` in pixels or relative to the width.

    Example:
        >>> Inpaint(radius=3)(torch.rand(1, 3, 32, 16), torch.ones(1, 1, 32, 16)).shape
        torch.Size([1, 3, 32, 16])
    """

    radius: float = 3.0
    method: str = "telea"
    relative: bool = False
    name: ClassVar[str] = "inpaint"

    def __post_init__(self) -> None:
        check_size("radius", self.radius, self.relative)
        check_choice("method", self.method, _filters.INPAINT_METHODS)

    def transform(self, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        radius = max(1.0, to_pixels(self.radius, self.relative, images.shape[-1]))
        return _filters.inpaint_images(images, mask, radius=radius, method=self.method)

"""Pixelation: block averaging."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from deid.operators import _filters
from deid.operators.base import Operator, blend, check_size, checked


def pixelate(images: torch.Tensor, mask: torch.Tensor, *, block: int = 8) -> torch.Tensor:
    """Replace ``block x block`` cells (anchored top left) by their mean colour inside the mask.

    Args:
        images: ``(B, 3, H, W)`` float RGB in [0, 1].
        mask: ``(B, 1, H, W)`` or ``(1, 1, H, W)`` in [0, 1], 1 = conceal.
        block: the cell size in pixels (an integer >= 1); the last row and column of cells
            may be smaller.

    Example:
        >>> pixelate(torch.rand(1, 3, 128, 48), torch.ones(1, 1, 128, 48), block=16).shape
        torch.Size([1, 3, 128, 48])
    """
    images, mask = checked(images, mask)
    if isinstance(block, bool) or not isinstance(block, int) or block < 1:
        raise ValueError(f"block must be an integer >= 1, got {block!r}")
    return blend(images, mask, _filters.block_average(images, block))


@dataclass(frozen=True)
class Pixelate(Operator):
    """Block averaging; ``block`` in pixels, or a fraction of the width with ``relative=True``.

    A relative block becomes ``round(1 / block)`` cells across the width (at least 2 pixels each).

    Example:
        >>> Pixelate(block=8)(torch.rand(1, 3, 128, 48), torch.ones(1, 1, 128, 48)).shape
        torch.Size([1, 3, 128, 48])
    """

    block: float = 8
    relative: bool = False
    name: ClassVar[str] = "pixelate"

    def __post_init__(self) -> None:
        check_size("block", self.block, self.relative)
        if not self.relative and self.block != int(self.block):
            raise ValueError(f"block must be a whole number of pixels when relative=False, got {self.block}")

    def transform(self, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        width = images.shape[-1]
        if not self.relative:
            return _filters.block_average(images, int(self.block))
        # A whole number of cells across, so the grid scales exactly with the crop; a cell is
        # at least 2 pixels, since 1-pixel cells would change nothing.
        cells = max(1, round(1 / self.block))
        return _filters.block_average(images, max(2, math.ceil(width / cells)))

"""Bands of a person's mask that the benchmarks measure alone."""

from __future__ import annotations

import numpy as np


def lowest_eighth(mask: np.ndarray) -> np.ndarray:
    """The lowest eighth of a person mask's rows (``mask`` ``(H, W)`` bool, not empty): shins and
    feet (at least one row)."""
    rows = np.flatnonzero(mask.any(1))
    bottom = mask.copy()
    bottom[: rows[-1] + 1 - max(1, (rows[-1] - rows[0] + 1) // 8)] = False
    return bottom

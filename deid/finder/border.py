"""A frame's plain border (letterbox bars, a canvas a picture was put on), which the finder does
not search.

The detector sees the whole frame shrunk to its input, so a border makes every person smaller
there: a new user's review put Penn-Fudan's frame 46 on a plain border (150 px or 600 px a
side, white or black) and a 20x57 px man the finder found in the frame as it was (unsure, and
concealed) was found no more, left untouched in a frame reported private. A border holds
nobody: a line of pixels (a row or a column) that is all one colour has no person in it. The
finder looks at the picture inside such lines, at the picture's own scale
(:func:`deid.finder.find_people`).
"""

from __future__ import annotations

import numpy as np

#: A line is plain when no channel of its pixels spans more than this (uint8 levels: a
#: compressed file's bars are not quite flat).
TOLERANCE = 8
#: Fewer plain lines than this at a side are not a border (the picture's own edge).
FEWEST = 4


def inside_border(rgb: np.ndarray) -> tuple[int, int, int, int]:
    """``top, bottom, left, right``: the rows ``top:bottom`` and columns ``left:right`` of an
    ``(H, W, 3)`` uint8 frame inside its plain border (rows and columns at its sides whose
    pixels are all one colour, within :data:`TOLERANCE`, at least :data:`FEWEST` of them at a
    side); the whole frame where it has none, or is plain all over.

    Example:
        >>> frame = np.zeros((100, 200, 3), np.uint8)
        >>> frame[20:80, 30:190] = np.random.default_rng(0).integers(0, 256, (60, 160, 3))
        >>> inside_border(frame)
        (20, 80, 30, 190)
    """
    height, width = rgb.shape[:2]
    rows = _plain(rgb, axis=1)
    columns = _plain(rgb, axis=0)
    if rows.all() or columns.all():
        return 0, height, 0, width
    top, bottom = _run(rows), height - _run(rows[::-1])
    left, right = _run(columns), width - _run(columns[::-1])
    return (
        top if top >= FEWEST else 0,
        bottom if height - bottom >= FEWEST else height,
        left if left >= FEWEST else 0,
        right if width - right >= FEWEST else width,
    )


def _plain(rgb: np.ndarray, axis: int) -> np.ndarray:
    """Per line along ``axis`` (1: rows, 0: columns), whether all its pixels are one colour."""
    span = rgb.max(axis=axis).astype(np.int16) - rgb.min(axis=axis).astype(np.int16)
    return np.asarray(span.max(axis=-1) <= TOLERANCE)


def _run(plain: np.ndarray) -> int:
    """How many of the first lines are plain."""
    return int(plain.argmin()) if not plain.all() else len(plain)

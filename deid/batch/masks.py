"""User-given person masks (``--masks DIR``): one label PNG per input, as ``deid detect --masks``
writes them (0 background, ``i`` the i-th person), read as each person's box."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from deid.boxes import Box, BoxesError


def mask_file(folder: str | Path, relative: Path) -> Path:
    """Where the mask of the input at ``relative`` (to its input folder) lies under ``folder``."""
    return (Path(folder) / relative).with_suffix(".png")


def mask_boxes(path: Path, height: int, width: int) -> list[Box]:
    """The box of each person of a label PNG, in label order (1, 2, ...; absent labels skipped).

    Raises:
        BoxesError: the file cannot be read, is not a single-channel label image, or its size is
            not the input's ``width x height``.

    Example:
        >>> mask_boxes(Path("masks/street.png"), 480, 640)  # doctest: +SKIP
        [Box(x=160, y=38, w=61, h=290, score=1.0), ...]
    """
    labels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if labels is None:
        raise BoxesError(f"mask {path}: not a readable image")
    if labels.ndim != 2 or labels.dtype not in (np.uint8, np.uint16):
        raise BoxesError(
            f"mask {path}: expected a single-channel 8- or 16-bit label image (0 background, i the "
            f"i-th person), got {labels.dtype} of shape {labels.shape}"
        )
    if labels.shape != (height, width):
        raise BoxesError(
            f"mask {path}: is {labels.shape[1]}x{labels.shape[0]} pixels, the image is {width}x{height}"
        )
    from scipy import ndimage  # only with --masks: a sixth of a second to import

    boxes = []
    for found in ndimage.find_objects(labels):
        if found is not None:
            rows, cols = found
            boxes.append(Box(cols.start, rows.start, cols.stop - cols.start, rows.stop - rows.start))
    return boxes

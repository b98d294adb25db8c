"""Person boxes in a frame: clip them to the frame, cut the people out, paste them back."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

import torch

from reid_model.checks import check_images

if TYPE_CHECKING:
    pass


class Box(NamedTuple):
    """A person box in pixels: top-left corner, width, height and a detector score."""

    x: int
    y: int
    w: int
    h: int
    score: float = 1.0

    @property
    def corners(self) -> tuple[int, int, int, int]:
        """``(x0, y0, x1, y1)``: the top-left corner and the one past the bottom-right."""
        return self.x, self.y, self.x + self.w, self.y + self.h

    def holds_centre_of(self, other: Box) -> bool:
        """Whether ``other``'s centre lies inside this box.

        Example:
            >>> Box(0, 0, 40, 90).holds_centre_of(Box(10, 10, 8, 8))
            True
        """
        cx, cy = other.x + other.w / 2, other.y + other.h / 2
        return self.x <= cx < self.x + self.w and self.y <= cy < self.y + self.h


class BoxesError(ValueError):
    """A boxes JSON file could not be used; the message names the file, the entry and the reason."""


def clip_boxes(boxes: Sequence[Box], width: int, height: int) -> tuple[list[Box], list[str]]:
    """Clip ``boxes`` to a frame of ``width x height`` pixels, saying which were clipped.

    A box partly outside the frame is cut to the part inside it, with a warning; a box with
    nothing inside the frame is an error (it was probably meant for another image), never
    dropped silently.

    Returns:
        The clipped boxes, in order, and one warning per clipped box naming it.

    Raises:
        BoxesError: a box lies wholly outside the frame.

    Example:
        >>> boxes, warnings = clip_boxes([Box(380, 10, 40, 100)], 400, 300)
        >>> boxes
        [Box(x=380, y=10, w=20, h=100, score=1.0)]
        >>> warnings[0]
        'box 0 [380, 10, 40, 100] reaches outside the 400x300 frame: clipped to [380, 10, 20, 100]'
    """
    out, warnings = [], []
    for i, box in enumerate(boxes):
        x0, y0 = max(0, box.x), max(0, box.y)
        x1, y1 = min(width, box.x + box.w), min(height, box.y + box.h)
        given = [box.x, box.y, box.w, box.h]
        if x1 <= x0 or y1 <= y0:
            raise BoxesError(
                f"box {i} {given} lies wholly outside the {width}x{height} frame; "
                "expected a box overlapping the image (is it meant for another file?)"
            )
        clipped = Box(x0, y0, x1 - x0, y1 - y0, box.score)
        if clipped != box:
            kept = [clipped.x, clipped.y, clipped.w, clipped.h]
            warnings.append(f"box {i} {given} reaches outside the {width}x{height} frame: clipped to {kept}")
        out.append(clipped)
    return out, warnings


def crop_boxes(
    image: torch.Tensor, boxes: Sequence[Box], *, padding: float = 0.0
) -> tuple[list[torch.Tensor], list[Box]]:
    """Cut ``boxes`` out of ``image (3, H, W)``, grown by ``padding`` (a fraction of each side).

    Boxes are clipped to the image (see :func:`clip_boxes` to be told which); a box with
    nothing inside the image is an error.

    Returns:
        The crops ``(3, h, w)`` (copies) and the clipped boxes they came from, for
        :func:`paste_crops`.

    Raises:
        BoxesError: a box lies wholly outside the image.

    Example:
        >>> crops, used = crop_boxes(torch.rand(3, 480, 640), [Box(10, 20, 48, 128)])
        >>> crops[0].shape, used[0]
        (torch.Size([3, 128, 48]), Box(x=10, y=20, w=48, h=128, score=1.0))
    """
    check_images(image, "image", batched=False)
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    height, width = image.shape[-2:]
    clip_boxes(boxes, width, height)  # a box wholly outside is an error before any growing
    grown = []
    for box in boxes:
        dx, dy = box.w * padding, box.h * padding
        x0, y0 = math.floor(box.x - dx), math.floor(box.y - dy)
        x1, y1 = math.ceil(box.x + box.w + dx), math.ceil(box.y + box.h + dy)
        grown.append(Box(x0, y0, x1 - x0, y1 - y0, box.score))
    used, _ = clip_boxes(grown, width, height)
    crops = [image[:, b.y : b.y + b.h, b.x : b.x + b.w].clone() for b in used]
    return crops, used


def paste_crops(
    image: torch.Tensor,
    crops: Sequence[torch.Tensor],
    boxes: Sequence[Box],
    *,
    nearest_last: bool = False,
    covers: Sequence[torch.Tensor | None] | None = None,
) -> torch.Tensor:
    """Paste ``crops`` (each ``(3, h, w)``) into a copy of ``image (3, H, W)`` at ``boxes``.

    ``boxes`` are the clipped boxes returned by :func:`crop_boxes`. Only the pixels a crop
    changed are pasted: where boxes overlap, a later person's untouched pixels (still the
    original frame's) never undo an earlier person's concealment; where both changed a pixel,
    the later crop wins. ``covers`` (per crop, ``(h, w)`` bool or None) adds the pixels its
    treatment set, changed or not: a black fill over a black coat is the nearer person's too,
    not a hole through which an earlier person's treatment shows. With ``nearest_last`` the
    crops are pasted in the order of their boxes' bottom edges (:func:`nearest_last_order`), so
    where two people overlap the one nearer the camera shows their own treatment, as they hide
    the other in the frame. The input image is not modified.

    Example:
        >>> frame = torch.rand(3, 480, 640)
        >>> crops, used = crop_boxes(frame, [Box(10, 20, 48, 128)])
        >>> bool(torch.equal(paste_crops(frame, crops, used), frame))
        True
    """
    check_images(image, "image", batched=False)
    if len(crops) != len(boxes):
        raise ValueError(f"crops and boxes must have the same length, got {len(crops)} and {len(boxes)}")
    if covers is not None and len(covers) != len(crops):
        raise ValueError(
            f"crops, boxes and covers must have the same length, got {len(crops)}, {len(boxes)} and {len(covers)}"
        )
    height, width = image.shape[-2:]
    out = image.clone()
    order = nearest_last_order(boxes) if nearest_last else range(len(boxes))
    for i in order:
        crop, box = crops[i], boxes[i]
        if tuple(crop.shape) != (3, box.h, box.w):
            got = tuple(crop.shape)
            raise ValueError(f"crops[{i}] must have shape (3, {box.h}, {box.w}) to fit {box}, got {got}")
        if box.x < 0 or box.y < 0 or box.x + box.w > width or box.y + box.h > height:
            raise ValueError(f"boxes[{i}] = {box} must lie inside the image of {width}x{height} pixels")
        region = out[:, box.y : box.y + box.h, box.x : box.x + box.w]
        crop = crop.to(out.dtype)
        changed = (crop != image[:, box.y : box.y + box.h, box.x : box.x + box.w]).any(0)
        cover = None if covers is None else covers[i]
        if cover is not None:
            if tuple(cover.shape) != (box.h, box.w):
                raise ValueError(
                    f"covers[{i}] must have shape ({box.h}, {box.w}) to fit {box}, got {tuple(cover.shape)}"
                )
            changed |= cover.to(torch.bool)
        region[:, changed] = crop[:, changed]
    return out


def nearest_last_order(boxes: Sequence[Box]) -> list[int]:
    """The boxes' indices from the farthest person to the nearest: by the bottom edge, as a
    camera looking down on people standing on one floor sees the nearer one's feet lower in
    the frame (ties keep the given order).

    Example:
        >>> nearest_last_order([Box(0, 50, 10, 40), Box(5, 10, 10, 40), Box(8, 60, 10, 20)])
        [1, 2, 0]
    """
    return sorted(range(len(boxes)), key=lambda i: boxes[i].y + boxes[i].h)


def centre_in(box: Box, boxes: Sequence[Box]) -> bool:
    """Whether ``box``'s centre lies in one of ``boxes`` (one person found twice, or inside a
    person already dealt with).

    Example:
        >>> centre_in(Box(10, 10, 4, 4), [Box(0, 0, 13, 13)]), centre_in(Box(10, 10, 4, 4), [])
        (True, False)
    """
    cx, cy = box.x + box.w / 2, box.y + box.h / 2
    return any(b.x <= cx < b.x + b.w and b.y <= cy < b.y + b.h for b in boxes)


def box_pixels(boxes: Sequence[Box], height: int, width: int) -> torch.Tensor:
    """The pixels ``(height, width)`` bool inside any of ``boxes`` (parts outside the frame left out).

    Example:
        >>> int(box_pixels([Box(-2, 1, 4, 2)], 5, 5).sum())
        4
    """
    held = torch.zeros(height, width, dtype=torch.bool)
    for box in boxes:
        held[max(0, box.y) : max(0, box.y + box.h), max(0, box.x) : max(0, box.x + box.w)] = True
    return held


def held_pixels(
    image: torch.Tensor,
    pasted: torch.Tensor,
    boxes: Sequence[Box],
    covers: Sequence[torch.Tensor | None] | None = None,
) -> torch.Tensor:
    """The pixels ``(H, W)`` bool the treatments set in ``pasted`` (``image`` with crops pasted at
    ``boxes``, :func:`paste_crops`; both ``(3, H, W)``): those changed, and those each box's
    ``covers`` (``(h, w)`` bool or None) says its treatment set to what they were. Not the boxes:
    a box can hold a second person whom the treatment, in the first one's shape, leaves as they
    were.

    Example:
        >>> frame = torch.zeros(3, 4, 4)
        >>> pasted = frame.clone(); pasted[:, 0, 0] = 1.0
        >>> int(held_pixels(frame, pasted, [Box(2, 2, 2, 2)], [torch.ones(2, 2, dtype=torch.bool)]).sum())
        5
    """
    held = (pasted != image).any(0)
    for box, cover in zip(boxes, covers or [None] * len(boxes), strict=True):
        if cover is not None:
            held[box.y : box.y + box.h, box.x : box.x + box.w] |= cover.to(torch.bool)
    return held

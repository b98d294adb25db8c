"""People in view from a video's first frame but found late, concealed from the first frame.

The follower finds a person standing behind an obstacle, or too small for its full look, only
when its thorough look comes round or when they step out; it follows them back from there as far
as the pose model or their look (against a background it is still learning) confirms them. A
cut of PETS S2.L1 from frame 100 showed a man standing behind the sign post in the clear for its
first 7 frames (his track began at frame 7), and a man walking on the far path for its first 13;
twice the size, the man behind the post for its first 19 (a new user's review).

At a video's start no one walks in from nowhere: a person first seen away from the frame's
edges was in view before, standing or walking there. Their first box is followed back to the
first frame over the pixels that differ from the video's still background
(:func:`deid.video.moving.still_background`), by OpenCV's mean shift: each frame the box goes to
where the moving pixels near it are densest, at most :data:`STEP` of its width, other people's
boxes left out; where nothing moves near it (a person who stands still is in the background
too, or hidden) it stays. Without a still background (a moving camera) it stays where the person
was found. The boxes are concealed whole (``"extended"``, :func:`deid.video.recut.recut`).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from deid.boxes import Box

#: A box moves at most this fraction of its width from one frame to the one before (a walking
#: person moves about a tenth of their height a frame at 10 frames/s, a third of their width).
STEP = 0.35
#: The box takes the place mean shift gives it where at least this fraction of its pixels moved
#: there (a person's silhouette fills about half their box).
SUPPORT = 0.1
#: Mean shift's iterations and the shift (pixels) under which it stops.
_CRITERIA = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 10, 1.0)


def followed_back(
    first: Box, frame: int, moved: Sequence[np.ndarray | None], others: Sequence[Sequence[Box]]
) -> list[Box]:
    """The boxes of a person first seen at ``first`` in frame ``frame``, in frames ``0`` to
    ``frame - 1`` (in that order): followed back over ``moved`` (per frame, ``(H, W)`` bool,
    the pixels that differ from the still background, None where unknown), ``others`` (per
    frame, the other people's boxes) left out. The box keeps ``first``'s size.

    Example:
        >>> moved = [np.zeros((40, 60), bool) for _ in range(3)]
        >>> for i, m in enumerate(moved):
        ...     m[10:30, 10 + 2 * i : 18 + 2 * i] = True
        >>> [b.x for b in followed_back(Box(16, 10, 8, 20), 3, moved, [[]] * 3)]
        [10, 12, 14]
    """
    boxes = []
    box = first
    for index in range(frame - 1, -1, -1):
        box = _shifted(box, moved[index], others[index])
        boxes.append(box)
    return boxes[::-1]


def _shifted(box: Box, moved: np.ndarray | None, others: Sequence[Box]) -> Box:
    """``box`` moved to where the ``moved`` pixels near it are densest (not in ``others``), by
    at most :data:`STEP` of its width; as it is where too few of them move there."""
    if moved is None:
        return box
    height, width = moved.shape
    density = moved.astype(np.uint8)
    for o in others:
        density[o.y : o.y + o.h, o.x : o.x + o.w] = 0
    _, (x, y, _, _) = cv2.meanShift(density, (box.x, box.y, box.w, box.h), _CRITERIA)
    reach = max(1, round(STEP * box.w))
    x = min(max(x, box.x - reach), box.x + reach)
    y = min(max(y, box.y - reach), box.y + reach)
    x, y = min(max(0, x), max(0, width - box.w)), min(max(0, y), max(0, height - box.h))
    if density[y : y + box.h, x : x + box.w].mean() < SUPPORT:
        return box
    return Box(x, y, box.w, box.h, box.score)

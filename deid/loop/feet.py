"""Every person's box reaches below and beside their feet, as it reaches above their head
(:func:`deid.loop.heads.with_head`).

The pose model of a small person puts the ankles a few pixels above the feet, and its
silhouette often stops there: a box cut at the silhouette left the shoes, sometimes the shins,
in the clear below a concealed person, where the adversary never looked (PETS S2.L1: a man at
frames 698-700 whose legs from the knee down showed below his box; of the treated passers-by on
every 5th frame, 65 of 860 had the lowest eighth of their silhouette less than half changed).
"""

from __future__ import annotations

import math

import torch

from deid.boxes import Box
from deid.loop.heads import with_head

#: How far below the lowest foot keypoint a person's box reaches, as a fraction of their height
#: from the nose to that keypoint.
FEET_REACH = 0.12
#: How far past the foot keypoints a person's box reaches to either side, as a fraction of the
#: same height: a foot stepping out sideways past the silhouette's box showed its shoe beside a
#: concealed person (PETS S2.L1 frame 698).
FEET_SIDE = 0.06
#: MediaPipe's foot keypoints: the ankles, the heels and the toes.
FEET = slice(27, 33)


def with_feet(box: Box, keypoints: torch.Tensor, height: int, width: int) -> Box:
    """``box`` grown down to :data:`FEET_REACH` below the lowest foot keypoint and to
    :data:`FEET_SIDE` past the foot keypoints on either side (``keypoints`` ``(33, 2|3)`` in the
    image's pixels), inside an image of ``width`` x ``height``; never shrunk.

    Example:
        >>> points = torch.zeros(33, 3)
        >>> points[0, 1] = 10.0  # the nose
        >>> points[27:33, 1] = 110.0  # ankles, heels and toes
        >>> points[27:33, 0] = torch.tensor([40.0, 60.0, 38.0, 62.0, 44.0, 75.0])  # one steps out
        >>> with_feet(Box(30, 5, 40, 100), points, 480, 640)
        Box(x=30, y=5, w=51, h=117, score=1.0)
    """
    feet = keypoints[FEET, :2]
    foot = float(feet[:, 1].max())
    tall = max(0.0, foot - float(keypoints[0, 1]))
    side = FEET_SIDE * tall
    x0 = max(0, min(box.x, math.floor(float(feet[:, 0].min()) - side)))
    x1 = min(width, max(box.x + box.w, math.ceil(float(feet[:, 0].max()) + side)))
    bottom = min(height, max(box.y + box.h, math.ceil(foot + FEET_REACH * tall)))
    return Box(x0, box.y, x1 - x0, bottom - box.y, box.score)


def with_head_and_feet(
    box: Box, keypoints: torch.Tensor, height: int, width: int, head_scale: float = 1.0
) -> Box:
    """``box`` grown to hold the head (:func:`deid.loop.heads.with_head` at ``head_scale``) and
    to reach below and beside the feet (:func:`with_feet`), inside an image of ``width`` x
    ``height``: where a posed person is cut out, concealed and judged."""
    return with_feet(with_head(box, keypoints, height, width, head_scale), keypoints, height, width)

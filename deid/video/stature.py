"""How tall a whole person stands at a place of a still camera's view, and boxes too short for it.

People of one height on one ground stand taller in the frame the lower they are: seen from a
camera above the ground, a person's box height is close to linear in the row of its top. Fitted
on a video's posed sightings whose feet the pose model saw (:meth:`Stature.fit`), it says how far
down a person's box should reach from its top. A box much shorter than that (:data:`SHORT`) is a
person seen in part, the lower body hidden from the pose model but not from the viewer:
a man standing behind the sign post of PETS S2.L1 from frame 100 was followed at his head and
shoulders, and his legs showed below the sign in frames reported private (a new user's review of
a cut from frame 100). Such a box reaches down to where the feet of a whole person would be
(:meth:`Stature.reach`) and is concealed whole (:func:`deid.video.recut.recut`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from deid.boxes import Box
from deid.loop.feet import FEET_SIDE

#: A box shorter than this fraction of a whole person's height at its top is a person seen in
#: part. On PETS S2.L1 (a line fitted on the found and followed boxes of the release before)
#: those boxes stood at 0.84 to 1.15 of it (10th to 90th percentile), 5% under 0.7.
SHORT = 0.7
#: A box shorter than this fraction of a whole person's height is not a person seen in part but a
#: part the pose model took for a person (a hand, a foot) or a thing: it is left as it is. Grown,
#: such boxes (9 to 18 pixels tall on PETS S2.L1, a tenth to a fifth of a person there) became
#: boxes of a person's height painted on the empty ground below a hand or a shoe; the people
#: behind the sign post stood at 0.28 to 0.68.
PART = 0.25
#: A silhouette wider than this fraction of a whole person's height at its top holds two people
#: side by side, or more: a treatment in its pose's shape would leave the one the pose is not
#: of as they were. On PETS S2.L1 (the posed sightings' boxes in the report of the release before
#: this rule, a line fitted as below on them) the boxes' widths stood at a median 0.34 of it, 0.52
#: at the 95th percentile; a couple walking side by side that the pose model took for one (a cut
#: from frame 300, frame 0) at 0.72. The rule takes the silhouette's width, at most the box's.
WIDE = 0.6
#: The visibility the pose model gives a keypoint it saw (MediaPipe's, in [0, 1]), and its ankles:
#: a person whose ankles it saw is seen whole, head to feet.
SEEN = 0.5
ANKLES = slice(27, 29)
#: The fewest boxes of people seen whole the fit is made on; with fewer, no box is called short.
FEW = 20
#: Boxes whose height lies farther than this fraction from the fitted one are left out of the
#: refit (a person sitting, a box holding two people).
OUTLIER = 0.25


@dataclass(frozen=True)
class Stature:
    """A whole person's box height at the row of its top: ``intercept + slope * top``, in pixels."""

    intercept: float
    slope: float

    @classmethod
    def fit(cls, boxes: Sequence[Box], height: int) -> Stature | None:
        """The line through the heights of ``boxes`` (people seen whole, head to feet, in a frame
        ``height`` pixels high) against their tops, fitted twice, the second time without the
        boxes far from the first line; None with fewer than :data:`FEW` boxes away from the
        frame's top and bottom edges (whose height the frame cuts), or where people stand
        shorter the lower they are (not one ground seen from above).

        Example:
            >>> boxes = [Box(0, top, 10, 40 + top // 2) for top in range(10, 210, 10)]
            >>> stature = Stature.fit(boxes, 360)
            >>> round(stature.expected(100.0), 1)
            90.0
        """
        inside = [b for b in boxes if b.y > 0 and b.y + b.h < height]
        tops = np.array([b.y for b in inside], dtype=np.float64)
        heights = np.array([b.h for b in inside], dtype=np.float64)
        keep = np.ones(len(inside), dtype=bool)
        for _ in range(2):
            if keep.sum() < FEW or np.ptp(tops[keep]) == 0:
                return None
            slope, intercept = np.polyfit(tops[keep], heights[keep], 1)
            fitted = intercept + slope * tops
            keep = np.abs(heights - fitted) <= OUTLIER * np.maximum(fitted, 1.0)
        if keep.sum() < FEW or slope < 0:
            return None
        return cls(float(intercept), float(slope))

    def expected(self, top: float) -> float:
        """A whole person's box height at the row ``top``."""
        return self.intercept + self.slope * top

    def short(self, box: Box) -> bool:
        """Whether ``box`` is a person seen in part: shorter than :data:`SHORT` of a whole
        person's height at its top, and at least :data:`PART` of it. A box at the frame's top
        edge is not (its top is the frame's, not the head's)."""
        tall = self.expected(box.y)
        return box.y > 0 and PART * tall <= box.h < SHORT * tall

    def wide(self, width: float, top: float) -> bool:
        """Whether a silhouette ``width`` pixels wide whose box's top is at row ``top`` is wider
        than :data:`WIDE` of a whole person's height there.

        Example:
            >>> Stature(40.0, 0.5).wide(60, 100), Stature(40.0, 0.5).wide(30, 100)
            (True, False)
        """
        return width > WIDE * self.expected(top)

    def reach(self, box: Box, height: int, width: int) -> Box:
        """``box`` grown down to a whole person's height from its top, and by
        :data:`deid.loop.feet.FEET_SIDE` of that height on either side (a stride), inside a
        frame of ``width`` x ``height``; never shrunk.

        Example:
            >>> Stature(40.0, 0.5).reach(Box(100, 100, 20, 30), 360, 480)
            Box(x=94, y=100, w=32, h=90, score=1.0)
        """
        tall = self.expected(box.y)
        side = FEET_SIDE * tall
        x0 = max(0, min(box.x, math.floor(box.x - side)))
        x1 = min(width, max(box.x + box.w, math.ceil(box.x + box.w + side)))
        bottom = min(height, max(box.y + box.h, math.ceil(box.y + tall)))
        return Box(x0, box.y, x1 - x0, bottom - box.y, box.score)

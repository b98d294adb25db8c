"""A stand-in figure: a person concealed by box keeps a figure, standing upright or in their pose.

Where the conceal loop must give up the body's shape (the adversary still matches the person's
outline), it conceals the whole box (or the body widened four times) with an outfit (a two-tone, patterned canvas,
:mod:`deid.operators.outfit`); a flat box is no longer a person. :class:`Figure` draws on such a
canvas a grey figure in the person's pose, like a pictogram: limbs of standard widths along the
pose model's keypoints, a torso of standard width between the shoulders and the hips, a head of
standard size, outlined in dark grey on the canvas at half its contrast (a people detector looks
for a person's edges: on the VIPeR test crops in their own poses, OpenCV's HOG detector found
4% of the figures without the outline on the full canvas, 50% with both, 65-75% with the torso
widening to the hips). Its proportions are fractions of the person's height, not theirs, so the
figure keeps where the person is (and, in their own pose, how they stand and walk) while their
build, outline, clothes and face are gone. An image whose pose is not known (a
person the pose model lost for a few frames of a video) gets the figure standing upright in its
box (:func:`standing`), and so does one whose keypoints are not all numbers. The conceal loop
draws every figure upright by default (``upright``; :attr:`deid.loop.ConcealConfig.figure_pose`),
standing where the person stands and as tall (from their nose and feet), inside their box: a
people detector finds the upright figure more often, and a posture or a gait identifies a person
too; the person's place and size in the frame are kept.

The figure's outfit is not the one the loop drew for the whole crop: a grey figure over the
middle of a canvas moves the canvas back towards the person, so the loop draws the figure's
outfits among those private with a figure standing on them (:data:`FIGURE_OUTFITS`), several
draws, and the person wears the first whose figure is private
(:func:`deid.loop.fallback.choose_figures`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
import torch

from deid.operators.base import Operator
from deid.operators.outfit import OutfitFill, OutfitTable, outfit_canvases

#: The figure's colour, the same for everyone (a stronger contrast with the outfit behind it,
#: dark on light colours and light on dark ones, left the adversary matching more figures: 16
#: of 61 VIPeR test persons concealed by box were private in their figure, 21 in mid grey).
GREY = 0.5
#: Widths as fractions of the person's height (nose to lowest foot keypoint): legs, arms, neck,
#: feet; the torso's half width at the shoulders and at the hips; the head's half width and
#: half height.
LEG, ARM, NECK, FOOT = 0.075, 0.055, 0.045, 0.04
SHOULDERS, HIPS = 0.11, 0.15
#: The outline's width, as a fraction of the person's height, and its grey.
OUTLINE, INK = 0.02, 0.1
#: The share of its contrast the canvas keeps behind the figure (blended towards its mean colour).
CONTRAST = 0.5
#: How a figure may stand: upright where the person is (:func:`standing`) or in their own pose.
FIGURE_POSES = ("upright", "own")
#: The upright figure's width as a fraction of its height (a VIPeR crop's, 48 / 128).
ASPECT = 0.375
#: The shortest pose (nose to lowest foot, a fraction of the image's height) an upright figure
#: stands in the place of; a shorter one gets the figure of the whole image.
SHORTEST = 0.375
#: :func:`figure_drawing`'s labels.
CANVAS, RING, BODY = 0, 1, 2
HEAD = (0.06, 0.075)
#: MediaPipe's keypoints the figure is drawn from.
NOSE, SHOULDER, HIP = 0, (11, 12), (23, 24)
ARMS = ((11, 13), (13, 15), (12, 14), (14, 16))
LEGS = ((23, 25), (25, 27), (24, 26), (26, 28))
FEET = ((27, 31), (28, 32))
LOWEST = (27, 28, 29, 30, 31, 32)


def figure_mask(keypoints: torch.Tensor | np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``(H, W)`` bool: the figure in the pose ``keypoints (33, 2|3)`` (pixels of an image of
    ``size`` (H, W)), without its outline (:func:`figure_drawing`).

    Example:
        >>> k = np.zeros((33, 2)); k[0] = (10, 8); k[[11, 12]] = (7, 14), (13, 14)
        >>> k[[13, 15]] = (6, 22); k[[14, 16]] = (14, 22); k[[23, 24]] = (8, 30), (12, 30)
        >>> k[[25, 27, 29, 31]] = (8, 40); k[[26, 28, 30, 32]] = (12, 40)
        >>> mask = figure_mask(k, (48, 20))
        >>> bool(mask[8, 10]), bool(mask[20, 10]), bool(mask[35, 8]), bool(mask[35, 1])  # head, torso, leg
        (True, True, True, False)
    """
    return figure_drawing(keypoints, size) == BODY


def figure_drawing(keypoints: torch.Tensor | np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``(H, W)`` uint8: the figure in the pose ``keypoints (33, 2|3)`` (:data:`BODY`), its outline
    (:data:`RING`, :data:`OUTLINE` of the person's height wide, at least a pixel) and the canvas
    around them (:data:`CANVAS`).

    Example:
        >>> drawing = figure_drawing(standing((120, 50)), (120, 50))
        >>> [int(drawing[60, x]) for x in (1, 7, 20)]  # canvas, outline, torso
        [0, 1, 2]
    """
    points = np.asarray(keypoints, dtype=np.float64)[:, :2]
    drawn = np.zeros(size, np.uint8)
    tall = max(float(points[list(LOWEST), 1].max() - points[NOSE, 1]), 0.2 * size[0], 4.0)

    def at(p: np.ndarray) -> tuple[int, int]:
        return int(np.rint(p[0])), int(np.rint(p[1]))

    def width(fraction: float) -> int:
        return max(1, round(fraction * tall))

    for pairs, thickness in ((LEGS, LEG), (FEET, FOOT)):
        for a, b in pairs:
            cv2.line(drawn, at(points[a]), at(points[b]), 1, width(thickness))
    shoulders, hips = points[list(SHOULDER)].mean(0), points[list(HIP)].mean(0)
    spine = shoulders - hips
    across = np.array([-spine[1], spine[0]]) / max(float(np.hypot(*spine)), 1e-6)
    torso = [shoulders - SHOULDERS * tall * across, shoulders + SHOULDERS * tall * across]
    torso += [hips + HIPS * tall * across, hips - HIPS * tall * across]
    cv2.fillPoly(drawn, [np.round(np.array(torso)).astype(np.int32)], 1)
    for a, b in ARMS:
        cv2.line(drawn, at(points[a]), at(points[b]), 1, width(ARM))
    head = points[NOSE] - np.array([0.0, 0.02 * tall])
    cv2.line(drawn, at(shoulders), at(head), 1, width(NECK))
    cv2.ellipse(drawn, at(head), (width(HEAD[0]), width(HEAD[1])), 0, 0, 360, 1, -1)
    ring = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * width(OUTLINE) + 1,) * 2)
    return np.where(drawn > 0, BODY, np.where(cv2.dilate(drawn, ring) > 0, RING, CANVAS)).astype(np.uint8)


def standing(size: tuple[int, int], pose: np.ndarray | None = None) -> np.ndarray:
    """``(33, 2)`` keypoints of a person standing upright in an image of ``size`` (H, W): the pose
    :class:`Figure` draws where the person's own is not known, and every figure's with ``upright``.

    Without ``pose``, the figure is as tall as the image and stands in its middle, at most
    :data:`ASPECT` of its height wide. With the person's ``pose (33, 2|3)``, it stands where they
    are: its nose at theirs, its feet at their lowest foot keypoint, centred on their shoulders
    and hips, moved and shrunk as little as it takes to stay whole inside the image (a pose
    shorter than :data:`SHORTEST` is ignored).

    Example:
        >>> standing((100, 40))[[0, 27]].tolist()
        [[20.0, 9.0], [16.25, 92.0]]
        >>> standing((100, 40), standing((50, 20)))[[0, 27]].tolist()  # half as tall, where it was
        [[10.0, 4.5], [8.125, 46.0]]
    """
    height, width = size
    tall, top, middle = float(height), 0.0, width / 2
    if pose is not None:
        points = np.asarray(pose, dtype=np.float64)[:, :2]
        nose, feet = points[NOSE, 1], points[list(LOWEST), 1].max()
        if feet - nose >= SHORTEST * height:
            tall = min((feet - nose) / (_FEET - _NOSE), float(height))
            top = float(np.clip(nose - _NOSE * tall, 0.0, height - tall))
            middle = points[[*SHOULDER, *HIP], 0].mean()
    wide = min(float(width), ASPECT * tall)
    middle = float(np.clip(middle, wide / 2, width - wide / 2))
    points = np.tile(np.array([0.5, 0.3]), (33, 1))
    for (left, right), (dx, y) in _STANDING.items():
        points[left], points[right] = (0.5 - dx, y), (0.5 + dx, y)
    points[NOSE] = (0.5, _NOSE)
    return (points - np.array([0.5, 0.0])) * np.array([wide, tall]) + np.array([middle, top])


#: The upright pose of :func:`standing`: per pair of keypoints (left, right), their distance
#: from the middle as a fraction of the width, and their height as a fraction of the height.
_STANDING = {
    (11, 12): (0.2, 0.2),
    (13, 14): (0.28, 0.36),
    (15, 16): (0.3, 0.5),
    (23, 24): (0.12, 0.52),
    (25, 26): (0.11, 0.72),
    (27, 28): (0.1, 0.92),
    (29, 30): (0.1, 0.93),
    (31, 32): (0.14, 0.95),
}
#: The upright figure's nose and lowest foot, as fractions of its height.
_NOSE, _FEET = 0.09, max(y for _, y in _STANDING.values())


@dataclass(frozen=True, eq=False)
class Figure(Operator):
    """A grey stand-in figure in each person's pose on their outfit (see the module's docstring).

    Args:
        outfits: the outfits the figures wear (one row per person or image, as
            :class:`~deid.operators.OutfitFill`'s, drawn whole and unshaded: :meth:`for_people`
            narrows both).
        poses: per image, its ``(33, 3)`` keypoints in its pixels or None (not known); set by
            :meth:`for_poses`, which the conceal loop calls with each appearance's body.
        upright: every figure stands upright (:func:`standing`) where the person stands, as
            tall as they are, inside the image: their place and size are kept, their posture
            and gait are not.

    Example:
        >>> from deid.operators.outfit import COLORS
        >>> figure = Figure(OutfitFill(COLORS[[0]], COLORS[[26]]))
        >>> drawn = figure(torch.rand(1, 3, 100, 40), torch.ones(1, 1, 100, 40))  # no pose: standing
        >>> drawn[0, :, 40, 20].tolist(), drawn[0, :, 80, 16].tolist(), drawn[0, :, 30, 2].tolist()  # black at half contrast
        ([0.5, 0.5, 0.5], [0.5, 0.5, 0.5], [0.25, 0.25, 0.25])
    """

    outfits: OutfitFill
    poses: tuple[torch.Tensor | None, ...] | None = None
    upright: bool = False
    name: ClassVar[str] = "figure"

    def for_people(self, persons: torch.Tensor) -> Figure:
        """The outfits of ``persons (B,)``, one row per image of the batch (poses not yet known)."""
        return Figure(self.outfits.for_people(persons), upright=self.upright)

    def for_poses(self, keypoints: Sequence[torch.Tensor | None]) -> Figure:
        """The same figures in the poses ``keypoints``, one per image (None: not known)."""
        return replace(self, poses=tuple(keypoints))

    def transform(self, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        outfits = self.outfits
        if len(images) != len(outfits.tops):
            raise ValueError(
                f"images must be one per outfit ({len(outfits.tops)}), got {len(images)}; "
                "for a batch of people use for_people(persons)"
            )
        poses = self.poses if self.poses is not None else (None,) * len(images)
        if len(poses) != len(images):
            raise ValueError(f"poses must be one per image ({len(images)}), got {len(poses)}")
        size = (images.shape[-2], images.shape[-1])
        canvas = outfit_canvases(outfits.tops, outfits.bottoms, size, outfits.patterns).to(images)
        drawings = np.stack(
            [figure_drawing(_drawn(pose, size, self.upright), size) for pose in poses]
        )  # cv2, per image
        return _on(canvas, torch.from_numpy(drawings))

    def describe(self, person: int) -> dict[str, Any]:
        """The outfit the figure of ``person`` wears, as a report records it."""
        return self.outfits.describe(person)


def figure_canvases(
    tops: torch.Tensor, bottoms: torch.Tensor, size: tuple[int, int], patterns: torch.Tensor
) -> torch.Tensor:
    """:func:`~deid.operators.outfit.outfit_canvases` with the figure standing on each (:func:`standing`)."""
    return _on(outfit_canvases(tops, bottoms, size, patterns), torch.from_numpy(_standing(size))[None])


def _standing(size: tuple[int, int]) -> np.ndarray:
    return figure_drawing(standing(size), size)


def _on(canvas: torch.Tensor, drawings: torch.Tensor) -> torch.Tensor:
    """``canvas (N, 3, H, W)`` at :data:`CONTRAST` with the ``drawings (N or 1, H, W)`` of
    :func:`figure_drawing` on it: the figure in :data:`GREY`, its outline in :data:`INK`."""
    canvas = torch.lerp(canvas.mean((2, 3), keepdim=True), canvas, CONTRAST)
    canvas = torch.where((drawings == RING)[:, None], torch.full_like(canvas, INK), canvas)
    return torch.where((drawings == BODY)[:, None], torch.full_like(canvas, GREY), canvas)


def _figure_shows(tops: torch.Tensor, bottoms: torch.Tensor, patterns: torch.Tensor) -> torch.Tensor:
    """``(N,)`` bool: outfits the figure stands out on (no plain part in the figure's own grey,
    where half the figure would vanish and the outfit be private as a box)."""
    grey = torch.full((3,), GREY)
    plain_grey = (tops == grey).all(1) | (bottoms == grey).all(1)
    return ~(plain_grey & (patterns == 0))


#: Every outfit with the figure standing on it: the figure's outfit is drawn among those private
#: with a figure on them (:func:`deid.operators.outfit.draw_outfits`), where it shows. An outfit
#: private on the whole crop often is not once a grey figure covers its middle.
FIGURE_OUTFITS = OutfitTable(
    "figure outfits",
    Path(__file__).parent / "weights" / "figure_outfits.safetensors",
    figure_canvases,
    lambda size: {
        "figure": torch.from_numpy(_standing(size)),
        "grey": torch.tensor(GREY),
        "ink": torch.tensor(INK),
        "contrast": torch.tensor(CONTRAST),
    },
    _figure_shows,
)


def _drawn(pose: torch.Tensor | None, size: tuple[int, int], upright: bool) -> np.ndarray:
    """The keypoints the figure is drawn in: ``pose``'s, or standing ``upright`` where it is;
    :func:`standing` in the image where it is missing or has a keypoint that is not a number."""
    if pose is None or not bool(torch.isfinite(pose[:, :2]).all()):
        return standing(size)
    points = pose.detach().cpu().numpy()
    return standing(size, points) if upright else points

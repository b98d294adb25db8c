"""A person's moving pixels that their sighting leaves out, taken into it.

A sighting's box comes from the pose model, the tracker's prediction or a box between two
others, and it can miss part of a walking person: a carried box a few pixels ahead of them, a
box the model cut at the knees, a backfilled box narrower than the person. Reviews of PETS
S2.L1 found such parts in the clear in frames reported private: half a man's body and his face
beside his box (a cut from frame 700, on its last frame), a woman's coat and trailing leg, shins
and shoes below a box; the judge looks at the box only, so nothing reported them.

Where the camera stands still, a walking person's pixels differ from the video's still
background (:func:`still_background`: the median of frames spread over the video). In each frame,
the moving pixels joined to a sighting's own (its silhouette, or its whole box when it has no
pose), near its box and in no other person's box, are its person's too: the box grows to hold
them and they join the silhouette (:func:`with_moving`), so they are concealed and judged with
the person.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from deid.boxes import Box
from deid.video.follow import MOTION, MOTION_MAX, Sighting
from deid.video.io import Frame

#: How many frames, spread over the video, its still background is the median of.
SAMPLES = 40
#: A pixel moved where a channel differs from the still background by more than this (uint8;
#: the follower's :data:`deid.video.follow.MOTION` threshold).
THRESHOLD = round(MOTION.threshold * 255)
#: Moving pixels are taken into a sighting up to this fraction of its box's width beside it, and
#: of its height above and below it.
ACROSS, ALONG = 0.5, 0.2
#: Fewer moving pixels than this outside a sighting leave it as it is (compression noise).
FEWEST = 12


def still_background(frames: Iterable[Frame], count: int) -> np.ndarray | None:
    """``(H, W, 3)`` uint8: the median of :data:`SAMPLES` of the first ``count`` of ``frames``,
    spread evenly over them (what a camera that stands still sees when nobody is there); None
    for a video of fewer than five frames."""
    if count < 5:
        return None
    wanted = set(np.linspace(0, count - 1, min(SAMPLES, count)).round().astype(int).tolist())
    chosen = [frame.pixels for frame in frames if frame.index in wanted]
    if len(chosen) < 5:
        return None
    return np.median(np.stack(chosen), axis=0).astype(np.uint8)


def moved_pixels(pixels: np.ndarray, background: np.ndarray) -> np.ndarray | None:
    """``(H, W)`` bool: where the frame's ``pixels (H, W, 3)`` differ from ``background``; None
    where more than :data:`deid.video.follow.MOTION_MAX` of the frame moved (the camera moved,
    or the light changed)."""
    moved = cv2.absdiff(pixels, background).max(axis=2) > THRESHOLD
    return None if moved.mean() > MOTION_MAX else moved


def with_moving(sightings: Sequence[Sighting], moved: np.ndarray, pixels: torch.Tensor) -> list[Sighting]:
    """A frame's ``sightings``, each grown to hold the ``moved (H, W)`` pixels joined to its own
    near its box and in no other sighting's box, cut again from the frame's ``pixels (3, H, W)``
    uint8."""
    return [_grown(s, [o.box for o in sightings if o is not s], moved, pixels) for s in sightings]


def _grown(sighting: Sighting, others: Sequence[Box], moved: np.ndarray, pixels: torch.Tensor) -> Sighting:
    box, (height, width) = sighting.box, moved.shape
    across, along = round(ACROSS * box.w), round(ALONG * box.h)
    x0, y0 = max(0, box.x - across), max(0, box.y - along)
    x1, y1 = min(width, box.x + box.w + across), min(height, box.y + box.h + along)
    near = moved[y0:y1, x0:x1].copy()
    theirs = np.zeros_like(near)
    for o in others:
        theirs[max(0, o.y - y0) : max(0, o.y + o.h - y0), max(0, o.x - x0) : max(0, o.x + o.w - x0)] = True
    near &= ~theirs
    own = np.zeros_like(near)
    own[box.y - y0 : box.y + box.h - y0, box.x - x0 : box.x + box.w - x0] = sighting.silhouette.numpy()
    seeds = near & own
    if not seeds.any():
        return sighting
    _, labels = cv2.connectedComponents(near.astype(np.uint8), connectivity=8)
    joined = np.isin(labels, np.unique(labels[seeds])) & (labels > 0) & ~own
    if joined.sum() < FEWEST:
        return sighting
    joined = cv2.dilate(joined.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool) & ~theirs
    ys, xs = np.nonzero(joined)
    left, top = min(box.x, x0 + int(xs.min())), min(box.y, y0 + int(ys.min()))
    right, bottom = max(box.x + box.w, x0 + int(xs.max()) + 1), max(box.y + box.h, y0 + int(ys.max()) + 1)
    grown = Box(left, top, right - left, bottom - top, box.score)
    crop = pixels[:, grown.y : grown.y + grown.h, grown.x : grown.x + grown.w].clone()
    if sighting.keypoints is None:  # no pose: its whole box, grown
        return replace(
            sighting, box=grown, silhouette=torch.ones(grown.h, grown.w, dtype=torch.bool), crop=crop
        )
    dx, dy = box.x - grown.x, box.y - grown.y
    silhouette = F.pad(sighting.silhouette, (dx, grown.w - box.w - dx, dy, grown.h - box.h - dy))
    silhouette |= torch.from_numpy(
        joined[grown.y - y0 : grown.y + grown.h - y0, grown.x - x0 : grown.x + grown.w - x0]
    )
    keypoints = sighting.keypoints + torch.tensor([dx, dy, 0.0])
    return replace(sighting, box=grown, silhouette=silhouette, keypoints=keypoints, crop=crop)

"""Each posed sighting's box grown to hold the person's head, once the people are followed.

The pose model's silhouette often stops at about the eyes, so a sighting cut at its box leaves
the top of the head (hair, a cap) above it: concealed in the box, the person would show their
hair in the clear, and the judge would never see it. The follower keeps the boxes it tracks
with (growing those moves the tracks); the boxes concealed and judged are grown here, from the
sighting's keypoints (:func:`deid.loop.heads.with_head`, as :func:`deid.conceal` grows a
frame's boxes), and cut again from the original frames.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

import torch
import torch.nn.functional as F

from deid.loop.heads import with_head
from deid.video.follow import Sighting
from deid.video.io import Frame


def with_heads(by_frame: Sequence[Sequence[Sighting]], frames: Iterable[Frame]) -> list[list[Sighting]]:
    """``by_frame`` (per frame, its sightings) with every posed sighting's box grown to hold its
    head's ellipse, its crop cut again from ``frames`` (the same video's originals, in order),
    its silhouette and keypoints moved into the grown box. Sightings without a pose (a whole
    box) are kept; so are the frames past the last one ``frames`` holds.

    Example:
        >>> grown = with_heads(by_frame, VideoReader.open("clip.avi"))  # doctest: +SKIP
        >>> all(g.box.h >= s.box.h for f, h in zip(by_frame, grown) for s, g in zip(f, h))  # doctest: +SKIP
        True
    """
    grown = [list(frame) for frame in by_frame]
    for frame in frames:
        if frame.index >= len(grown):
            break
        if any(s.keypoints is not None for s in grown[frame.index]):
            pixels = torch.from_numpy(frame.pixels).permute(2, 0, 1)
            grown[frame.index] = [_grown(s, pixels) for s in grown[frame.index]]
    return grown


def _grown(sighting: Sighting, pixels: torch.Tensor) -> Sighting:
    """``sighting`` in its box grown to hold the head, cut from the frame's ``pixels (3, H, W)``."""
    if sighting.keypoints is None:
        return sighting
    box, (height, width) = sighting.box, pixels.shape[1:]
    keypoints = sighting.keypoints.clone()
    keypoints[:, 0] += box.x
    keypoints[:, 1] += box.y
    new = with_head(box, keypoints, height, width)
    if new[:4] == box[:4]:
        return sighting
    dx, dy = box.x - new.x, box.y - new.y
    silhouette = F.pad(sighting.silhouette, (dx, new.w - box.w - dx, dy, new.h - box.h - dy))
    keypoints[:, 0] -= new.x
    keypoints[:, 1] -= new.y
    crop = pixels[:, new.y : new.y + new.h, new.x : new.x + new.w].clone()
    return replace(sighting, box=new, silhouette=silhouette, keypoints=keypoints, crop=crop)

"""A track's bodies steadied over time, so its concealment does not flicker from frame to frame.

Each sighting's silhouette is taken into its box's normalized coordinates and averaged with its
neighbours' (``window`` frames either side, posed sightings only); a pixel is the person's where
at least ``keep`` of them say so, or where this frame's own silhouette does (the union never
shrinks what the pose model saw). Keypoints are the median of the same neighbours', so the head's
ellipse glides rather than jumps. A sighting without a pose stays a whole box.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from deid.loop.bodies import Body
from deid.video.follow import Sighting

#: The normalized grid silhouettes are averaged on, ``(height, width)``.
GRID = (128, 64)


def steady_bodies(track: Sequence[Sighting], *, window: int = 2, keep: float = 0.4) -> list[Body]:
    """Each sighting of ``track`` (in frame order) as a :class:`Body` in its box's pixels.

    Example:
        >>> bodies = steady_bodies(track)  # doctest: +SKIP
        >>> bodies[0].silhouette.shape == track[0].silhouette.shape  # doctest: +SKIP
        True
    """
    posed = [i for i, s in enumerate(track) if s.keypoints is not None]
    if not posed:
        return [Body.whole(s.box.h, s.box.w) for s in track]
    grids = torch.stack([_to_grid(track[i].silhouette) for i in posed])
    points = torch.stack([_normalized(track[i], track[i].keypoints) for i in posed])
    bodies = []
    at = {i: j for j, i in enumerate(posed)}
    for i, sighting in enumerate(track):
        if i not in at:
            bodies.append(Body.whole(sighting.box.h, sighting.box.w))
            continue
        j = at[i]
        near = slice(max(0, j - window), j + window + 1)
        mean = grids[near].mean(0)
        h, w = sighting.box.h, sighting.box.w
        steady = F.interpolate(mean[None, None], size=(h, w), mode="bilinear", align_corners=False)[0, 0]
        silhouette = (steady >= keep) | sighting.silhouette
        keypoints = points[near].median(0).values
        keypoints = keypoints * torch.tensor([w, h, 1.0])
        bodies.append(Body(silhouette, keypoints))
    return bodies


def _to_grid(silhouette: torch.Tensor) -> torch.Tensor:
    return F.interpolate(silhouette.float()[None, None], size=GRID, mode="area")[0, 0]


def _normalized(sighting: Sighting, keypoints: torch.Tensor | None) -> torch.Tensor:
    """A posed sighting's keypoints in its box's normalized coordinates."""
    if keypoints is None:
        raise ValueError(f"sighting of track {sighting.track} in frame {sighting.frame} has no pose")
    return keypoints.float() / torch.tensor([sighting.box.w, sighting.box.h, 1.0])

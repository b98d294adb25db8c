"""Body regions (head, torso, arms, legs, feet) of a found person, at the frame's resolution."""

from __future__ import annotations

import torch

from attribution.pose import pose_regions
from deid.finder.config import Person


def person_regions(person: Person) -> dict[str, torch.Tensor]:
    """``head``, ``torso``, ``arms``, ``legs``, ``feet`` of ``person``: name -> ``(H, W)`` bool,
    a partition of its silhouette by the nearest part of its skeleton
    (:func:`attribution.pose.pose_regions`).

    An uncertain person has no pose to trust: every region is empty except ``torso``, which is
    its whole (box) mask, so a caller concealing by region still covers all of it.

    Example:
        >>> parts = person_regions(find_people(frame)[0])  # doctest: +SKIP
        >>> sorted(parts)  # doctest: +SKIP
        ['arms', 'feet', 'head', 'legs', 'torso']
    """
    if person.uncertain:
        empty = torch.zeros_like(person.mask)
        return {
            "head": empty,
            "torso": person.mask.clone(),
            "arms": empty,
            "legs": empty,
            "feet": empty.clone(),
        }
    return pose_regions(person.keypoints, person.mask)

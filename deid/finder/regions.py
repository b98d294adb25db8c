"""Body regions (head, torso, arms, legs, feet) of a found person, at the frame's resolution."""

from __future__ import annotations

import torch

from attribution.pose import BAND_PARTS, POSE_PARTS, pose_regions
from attribution.regions import body_regions
from deid.finder.config import FinderConfig, Person
from deid.finder.crop import find_person_in_crop
from deid.finder.model import PoseModel
from reid_model.checks import check_images

_PARTS = tuple(POSE_PARTS)


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


def crop_body_regions(
    views: torch.Tensor, *, config: FinderConfig | None = None, model: PoseModel | None = None
) -> tuple[dict[str, torch.Tensor], str]:
    """Each person crop's body parts from its own pose (an :data:`attribution.ViewRegions`).

    For ``views (N, 3, H, W)``: ``head``, ``torso``, ``arms``, ``legs``, ``feet`` from the crop's
    keypoints and silhouette (:func:`find_person_in_crop`, :func:`person_regions`) and
    ``background`` for the rest of the crop. A crop whose pose the finder cannot confirm gets the
    horizontal bands of :data:`attribution.BODY_BANDS` under the same names (upper body as
    ``torso``, lower body as ``legs``; no ``arms``, no ``background``).

    Returns:
        name -> ``(N, H, W)`` bool (a partition of each crop; a part empty in every crop is left
        out), and a line saying how many crops had a pose.

    Example:
        >>> masks, how = crop_body_regions(views)  # doctest: +SKIP
        >>> how  # doctest: +SKIP
        'body parts from each crop's pose (deid.finder) for 251 of 254 crops; horizontal bands for 3'
    """
    check_images(views, "views")
    height, width = views.shape[-2:]
    bands = body_regions(height, width)
    parts: dict[str, list[torch.Tensor]] = {name: [] for name in (*_PARTS, "background")}
    posed = 0
    for view in views:
        person = find_person_in_crop(view, config=config, model=model)
        if person.uncertain:
            found = {name: torch.zeros(height, width, dtype=torch.bool) for name in parts}
            for band, part in BAND_PARTS.items():
                found[part] = bands[band].clone()
        else:
            posed += 1
            found = {**person_regions(person), "background": ~person.mask}
        for name in parts:
            parts[name].append(found[name])
    how = (
        f"body parts from each crop's pose (deid.finder) for {posed} of {len(views)} crops; "
        f"horizontal bands (BODY_BANDS) for {len(views) - posed}"
    )
    stacked = {name: torch.stack(masks) for name, masks in parts.items()}
    return {name: masks for name, masks in stacked.items() if bool(masks.any())}, how

"""The pose of a person crop (VIPeR, Market-1501, a tracked box): the whole crop is the model's
window."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from deid.boxes import Box
from deid.finder._windows import aligned_window, cut_windows
from deid.finder.candidates import (
    Candidate,
    box_of,
    keypoint_array,
    read_candidates,
    silhouette_masks,
    to_rgb,
)
from deid.finder.config import FinderConfig, Person
from deid.finder.model import PoseModel, default_model
from reid_model.checks import check_images


def find_person_in_crop(
    image: torch.Tensor,
    *,
    config: FinderConfig | None = None,
    model: PoseModel | None = None,
    recentre: bool = True,
) -> Person:
    """The one person of a crop ``(3, H, W)``: presence score, silhouette and keypoints.

    The model's window is centred on the crop (as tall as the crop, with MediaPipe's margin),
    then (``recentre``) re-centred on the landmarks found, keeping the pass with the higher
    presence; a crop already centred on its person (a tracked box) can skip that. A crop
    whose presence stays under ``config.confirm`` (or whose silhouette comes out empty) is
    returned ``uncertain`` with the whole crop as its mask: conceal all of it.

    Example:
        >>> person = find_person_in_crop(reid_model.read_image("000_45.bmp"))  # doctest: +SKIP
        >>> person.mask.shape, person.keypoints.shape  # doctest: +SKIP
        (torch.Size([128, 48]), torch.Size([33, 3]))
    """
    image = check_images(image, "image", batched=False)
    return find_people_in_crops([image], config=config, model=model, recentre=recentre)[0]


def find_people_in_crops(
    images: Sequence[torch.Tensor],
    *,
    config: FinderConfig | None = None,
    model: PoseModel | None = None,
    recentre: bool = True,
) -> list[Person]:
    """:func:`find_person_in_crop` for each crop of ``images``: the crops cut to the model's
    windows, the model run and its outputs read for all of them at once (the same people as one
    by one; following a video, 1.14x faster, see ``benchmarks/video_follow.py --before``).

    Example:
        >>> people = find_people_in_crops([crop_a, crop_b], recentre=False)  # doctest: +SKIP
        >>> [p.uncertain for p in people]  # doctest: +SKIP
        [False, True]
    """
    if not images:
        return []
    config = config or FinderConfig()
    model = model or default_model()
    rgbs = [to_rgb(check_images(image, f"images[{i}]", batched=False)) for i, image in enumerate(images)]
    windows = np.array([[w / 2, h / 2, 1.25 * max(h, w)] for h, w in (rgb.shape[:2] for rgb in rgbs)])
    best = _pass(model, rgbs, windows)
    if recentre:
        aligned = [aligned_window(c.landmarks, c.window) for c in best]
        again = [i for i, window in enumerate(aligned) if _usable(window)]
        if again:
            moved = np.stack([aligned[i] for i in again])
            for i, second in zip(again, _pass(model, [rgbs[i] for i in again], moved), strict=True):
                if second.presence > best[i].presence:
                    best[i] = second
    return [_person(rgb, candidate, config) for rgb, candidate in zip(rgbs, best, strict=True)]


def _pass(model: PoseModel, rgbs: list[np.ndarray], windows: np.ndarray) -> list[Candidate]:
    """One run of the model on ``windows[i]`` of ``rgbs[i]`` each, the crop as the proposal."""
    cut = np.concatenate([cut_windows(rgb, window[None]) for rgb, window in zip(rgbs, windows, strict=True)])
    proposals = np.array([[0.0, 0.0, rgb.shape[1], rgb.shape[0], 0.0] for rgb in rgbs])
    return read_candidates(model.run(cut), windows, proposals)


def _usable(window: np.ndarray) -> bool:
    return bool(np.isfinite(window).all() and window[2] >= 8)


def _person(rgb: np.ndarray, best: Candidate, config: FinderConfig) -> Person:
    height, width = rgb.shape[:2]
    mask = silhouette_masks([best], height, width, config)[0]
    box = box_of(mask)
    keypoints = torch.from_numpy(keypoint_array(best))
    if best.presence < config.confirm or box is None:
        whole = torch.ones(height, width, dtype=torch.bool)
        return Person(
            Box(0, 0, width, height, best.presence), best.presence, whole, keypoints, uncertain=True
        )
    return Person(
        Box(*box, score=best.presence), best.presence, torch.from_numpy(mask), keypoints, uncertain=False
    )

"""The pose of a person crop (VIPeR, Market-1501): the whole crop is the model's window."""

from __future__ import annotations

import numpy as np
import torch

from deid.boxes import Box
from deid.finder._windows import aligned_window, cut_windows
from deid.finder.candidates import box_of, keypoint_array, read_candidates, silhouette_masks, to_rgb
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
    config = config or FinderConfig()
    model = model or default_model()
    rgb = to_rgb(image)
    height, width = rgb.shape[:2]
    windows = np.array([[width / 2, height / 2, 1.25 * max(height, width)]])
    proposal = np.array([[0.0, 0.0, width, height, 0.0]])
    first = read_candidates(model.run(cut_windows(rgb, windows)), windows, proposal)[0]
    best = first
    second_window = aligned_window(first.landmarks, first.window)[None]
    if recentre and np.isfinite(second_window).all() and second_window[0, 2] >= 8:
        second = read_candidates(model.run(cut_windows(rgb, second_window)), second_window, proposal)[0]
        best = second if second.presence > first.presence else first
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

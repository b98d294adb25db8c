"""Finding people in full frames: OpenCV's HOG people detector, user boxes, crop and paste.

A person crop (a tall image no higher than a few hundred pixels) goes straight to the conceal
loop; a larger frame goes through :func:`detect_people` (or boxes from a JSON file, see
:func:`load_boxes`), each person is cropped, concealed and pasted back.

The HOG detector ships with OpenCV 4.x and was removed in 5.0, hence the ``<5`` pin.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import cv2
import numpy as np
import torch

from deid.boxes import Box
from reid_model.checks import check_images, check_positive
from reid_model.io import resize, to_uint8_bgr

if TYPE_CHECKING:
    from deid.finder import FinderConfig, Person


def _check_image(image: object) -> torch.Tensor:
    return check_images(image, "image", batched=False)


def is_person_crop(
    image: torch.Tensor, *, max_height: int = 400, min_aspect: float = 1.4, max_aspect: float = 4.0
) -> bool:
    """Whether ``image (3, H, W)`` looks like a pedestrian crop rather than a full frame.

    A crop is at most ``max_height`` pixels high and ``min_aspect <= H / W <= max_aspect``
    (VIPeR's 128x48 is 2.7, Market-1501's 128x64 is 2). Anything else goes to the detector.

    Example:
        >>> is_person_crop(torch.rand(3, 128, 48)), is_person_crop(torch.rand(3, 480, 640))
        (True, False)
    """
    height, width = _check_image(image).shape[-2:]
    if height == 0 or width == 0:
        return False
    return height <= max_height and min_aspect <= height / width <= max_aspect


#: How an image is taken: ``"auto"`` (a person crop when :func:`is_person_crop` says so, else a
#: frame searched for people), ``"crop"`` (always one person's crop), ``"frame"`` (always searched).
KINDS = ("auto", "crop", "frame")


def taken_as_crop(image: torch.Tensor, kind: str = "auto") -> bool:
    """Whether ``image (3, H, W)`` goes straight in as one person's crop under ``kind`` (see
    :data:`KINDS`): a small portrait frame of several people is a crop to ``"auto"``, so a user
    who has such frames says ``"frame"``.

    Raises:
        ValueError: ``kind`` is not one of :data:`KINDS`.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {list(KINDS)}, got {kind!r}")
    return kind == "crop" or (kind == "auto" and is_person_crop(image))


@cache
def people_hog() -> tuple[cv2.HOGDescriptor, np.ndarray, float]:
    """OpenCV's HOG descriptor (64x128 window) with its default people SVM set, shared by all users.

    Returns:
        The descriptor (its ``detectMultiScale`` searches frames), and the SVM's weights ``(D,)``
        and bias for scoring one window's ``compute()`` descriptor by hand. Cached: do not
        change the descriptor.
    """
    hog = cv2.HOGDescriptor()
    people = np.asarray(cv2.HOGDescriptor.getDefaultPeopleDetector(), dtype=np.float32)
    hog.setSVMDetector(people)
    detector = people.reshape(-1)
    return hog, detector[:-1], float(detector[-1])


def hog_people(
    image: torch.Tensor,
    *,
    min_score: float = 0.0,
    nms_threshold: float = 0.3,
    scale: float = 1.05,
    win_stride: int = 8,
    upscale: float = 1.5,
    max_side: int = 1280,
) -> list[Box]:
    """Upright people in ``image (3, H, W)`` by OpenCV's HOG + linear SVM detector alone.

    This was the finder before :mod:`deid.finder`; it stays as the benchmark's baseline.

    The detector's window is 64x128 (a person about 96 pixels high); smaller people are missed.
    The frame is searched enlarged by ``upscale`` (finds more of the small people: on VIPeR
    crops pasted at their 48x128 size into 640x480 frames, 33 of 36 at 1.5 against 29 of 36
    at 1.0, at 2.5 times the time), but never with a side beyond ``max_side``; the boxes are
    scaled back to the frame.

    Args:
        image: ``(3, H, W)`` float RGB in [0, 1].
        min_score: keep detections whose SVM score is at least this.
        nms_threshold: non-maximum suppression drops boxes overlapping a better one by more
            than this intersection over union.
        scale: the image pyramid's step.
        win_stride: the sliding window's step in pixels.
        upscale: how much the frame is enlarged for the search.
        max_side: the largest side searched (larger frames are searched reduced).

    Returns:
        Boxes ``(x, y, w, h, score)`` in ``image``'s pixels, best score first.

    Example:
        >>> boxes = hog_people(reid_model.read_image("street.jpg"))  # doctest: +SKIP
        >>> boxes[0]  # doctest: +SKIP
        Box(x=212, y=40, w=96, h=192, score=1.31)
    """
    _check_image(image)
    check_positive("upscale", upscale)
    height, width = image.shape[-2:]
    factor = min(upscale, max_side / max(height, width, 1))
    searched = image
    if factor != 1.0:
        searched = resize(image[None], (max(1, round(height * factor)), max(1, round(width * factor))))[0]
    if searched.shape[-2] < 128 or searched.shape[-1] < 64:
        return []
    rects, weights = people_hog()[0].detectMultiScale(
        to_uint8_bgr(searched), winStride=(win_stride, win_stride), padding=(8, 8), scale=scale
    )
    found = np.asarray(rects, dtype=np.int64).reshape(-1, 4)
    if len(found) == 0:
        return []
    scores = np.asarray(weights, dtype=np.float64).reshape(-1)
    keep = cv2.dnn.NMSBoxes(found.tolist(), scores.tolist(), min_score, nms_threshold)
    boxes = []
    for i in np.asarray(keep, dtype=np.int64).reshape(-1):
        x, y, w, h = (round(float(v) / factor) for v in found[i])
        boxes.append(Box(max(0, x), max(0, y), w, h, float(scores[i])))
    return sorted(boxes, key=lambda b: -b.score)


def find_frame_people(
    image: torch.Tensor, *, uncertain: bool = True, config: FinderConfig | None = None
) -> list[Person]:
    """The people in ``image (3, H, W)`` as :func:`deid.finder.find_people` finds them (box, score,
    silhouette, keypoints) with ``config``, confirmed first, then (with ``uncertain``) the unsure
    proposals; an image smaller than the finder can search has none (see :func:`detect_people`)."""
    from deid.finder import MIN_FRAME, find_people

    _check_image(image)
    if image.shape[-2] < MIN_FRAME[0] or image.shape[-1] < MIN_FRAME[1]:
        return []
    return [p for p in find_people(image, config=config) if uncertain or not p.uncertain]


def detect_people(image: torch.Tensor, *, uncertain: bool = True) -> list[Box]:
    """The people in ``image (3, H, W)``: the boxes of :func:`deid.finder.find_people`.

    Each box is tight around the person's silhouette and scored by the pose model's presence
    probability. Proposals the finder could neither confirm nor reject come after the confirmed
    people, as their (loose) HOG boxes with a score below the confirmation threshold, so that the
    frame path conceals them by box rather than passing them silently.

    Args:
        image: ``(3, H, W)`` float RGB in [0, 1].
        uncertain: also return the uncertain proposals' boxes.

    Returns:
        Boxes ``(x, y, w, h, score)`` in ``image``'s pixels: confirmed best first, then uncertain.
        An image smaller than the finder can search (see :data:`deid.finder.MIN_FRAME`) has
        no box: it is a crop for the crop path, not a frame.

    Example:
        >>> detect_people(torch.rand(3, 20, 30))
        []
    """
    return [p.box for p in find_frame_people(image, uncertain=uncertain)]

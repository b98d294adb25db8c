"""Finding people in full frames: OpenCV's HOG people detector, user boxes, crop and paste.

A person crop (a tall image no higher than a few hundred pixels) goes straight to the conceal
loop; a larger frame goes through :func:`detect_people` (or boxes from a JSON file, see
:func:`load_boxes`), each person is cropped, concealed and pasted back.

The HOG detector ships with OpenCV 4.x and was removed in 5.0, hence the ``<5`` pin.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import cv2
import numpy as np
import torch

from reid_model._check import check_images, check_positive
from reid_model.io import resize, to_uint8_bgr

if TYPE_CHECKING:
    from deid.finder import Person


class Box(NamedTuple):
    """A person box in pixels: top-left corner, width, height and a detector score."""

    x: int
    y: int
    w: int
    h: int
    score: float = 1.0


class BoxesError(ValueError):
    """A boxes JSON file could not be used; the message names the file, the entry and the reason."""


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


@cache
def _hog() -> cv2.HOGDescriptor:
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(np.asarray(cv2.HOGDescriptor.getDefaultPeopleDetector(), dtype=np.float32))
    return hog


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
    rects, weights = _hog().detectMultiScale(
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


def find_frame_people(image: torch.Tensor, *, uncertain: bool = True) -> list[Person]:
    """The people in ``image (3, H, W)`` as :func:`deid.finder.find_people` finds them (box, score,
    silhouette, keypoints), confirmed first, then (with ``uncertain``) the unsure proposals; an
    image smaller than the finder can search has none (see :func:`detect_people`)."""
    from deid.finder import MIN_FRAME, find_people

    _check_image(image)
    if image.shape[-2] < MIN_FRAME[0] or image.shape[-1] < MIN_FRAME[1]:
        return []
    return [p for p in find_people(image) if uncertain or not p.uncertain]


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


def clip_boxes(boxes: Sequence[Box], width: int, height: int) -> tuple[list[Box], list[str]]:
    """Clip ``boxes`` to a frame of ``width x height`` pixels, saying which were clipped.

    A box partly outside the frame is cut to the part inside it, with a warning; a box with
    nothing inside the frame is an error (it was probably meant for another image), never
    dropped silently.

    Returns:
        The clipped boxes, in order, and one warning per clipped box naming it.

    Raises:
        BoxesError: a box lies wholly outside the frame.

    Example:
        >>> boxes, warnings = clip_boxes([Box(380, 10, 40, 100)], 400, 300)
        >>> boxes
        [Box(x=380, y=10, w=20, h=100, score=1.0)]
        >>> warnings[0]
        'box 0 [380, 10, 40, 100] reaches outside the 400x300 frame: clipped to [380, 10, 20, 100]'
    """
    out, warnings = [], []
    for i, box in enumerate(boxes):
        x0, y0 = max(0, box.x), max(0, box.y)
        x1, y1 = min(width, box.x + box.w), min(height, box.y + box.h)
        given = [box.x, box.y, box.w, box.h]
        if x1 <= x0 or y1 <= y0:
            raise BoxesError(
                f"box {i} {given} lies wholly outside the {width}x{height} frame; "
                "expected a box overlapping the image (is it meant for another file?)"
            )
        clipped = Box(x0, y0, x1 - x0, y1 - y0, box.score)
        if clipped != box:
            kept = [clipped.x, clipped.y, clipped.w, clipped.h]
            warnings.append(f"box {i} {given} reaches outside the {width}x{height} frame: clipped to {kept}")
        out.append(clipped)
    return out, warnings


def crop_boxes(
    image: torch.Tensor, boxes: Sequence[Box], *, padding: float = 0.0
) -> tuple[list[torch.Tensor], list[Box]]:
    """Cut ``boxes`` out of ``image (3, H, W)``, grown by ``padding`` (a fraction of each side).

    Boxes are clipped to the image (see :func:`clip_boxes` to be told which); a box with
    nothing inside the image is an error.

    Returns:
        The crops ``(3, h, w)`` (copies) and the clipped boxes they came from, for
        :func:`paste_crops`.

    Raises:
        BoxesError: a box lies wholly outside the image.

    Example:
        >>> crops, used = crop_boxes(torch.rand(3, 480, 640), [Box(10, 20, 48, 128)])
        >>> crops[0].shape, used[0]
        (torch.Size([3, 128, 48]), Box(x=10, y=20, w=48, h=128, score=1.0))
    """
    _check_image(image)
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    height, width = image.shape[-2:]
    clip_boxes(boxes, width, height)  # a box wholly outside is an error before any growing
    grown = []
    for box in boxes:
        dx, dy = box.w * padding, box.h * padding
        x0, y0 = math.floor(box.x - dx), math.floor(box.y - dy)
        x1, y1 = math.ceil(box.x + box.w + dx), math.ceil(box.y + box.h + dy)
        grown.append(Box(x0, y0, x1 - x0, y1 - y0, box.score))
    used, _ = clip_boxes(grown, width, height)
    crops = [image[:, b.y : b.y + b.h, b.x : b.x + b.w].clone() for b in used]
    return crops, used


def paste_crops(image: torch.Tensor, crops: Sequence[torch.Tensor], boxes: Sequence[Box]) -> torch.Tensor:
    """Paste ``crops`` (each ``(3, h, w)``) into a copy of ``image (3, H, W)`` at ``boxes``.

    ``boxes`` are the clipped boxes returned by :func:`crop_boxes`. Only the pixels a crop
    changed are pasted: where boxes overlap, a later person's untouched pixels (still the
    original frame's) never undo an earlier person's concealment; where both changed a pixel,
    the later crop wins. The input image is not modified.

    Example:
        >>> frame = torch.rand(3, 480, 640)
        >>> crops, used = crop_boxes(frame, [Box(10, 20, 48, 128)])
        >>> bool(torch.equal(paste_crops(frame, crops, used), frame))
        True
    """
    _check_image(image)
    if len(crops) != len(boxes):
        raise ValueError(f"crops and boxes must have the same length, got {len(crops)} and {len(boxes)}")
    height, width = image.shape[-2:]
    out = image.clone()
    for i, (crop, box) in enumerate(zip(crops, boxes, strict=True)):
        if tuple(crop.shape) != (3, box.h, box.w):
            got = tuple(crop.shape)
            raise ValueError(f"crops[{i}] must have shape (3, {box.h}, {box.w}) to fit {box}, got {got}")
        if box.x < 0 or box.y < 0 or box.x + box.w > width or box.y + box.h > height:
            raise ValueError(f"boxes[{i}] = {box} must lie inside the image of {width}x{height} pixels")
        region = out[:, box.y : box.y + box.h, box.x : box.x + box.w]
        crop = crop.to(out.dtype)
        changed = (crop != image[:, box.y : box.y + box.h, box.x : box.x + box.w]).any(0)
        region[:, changed] = crop[:, changed]
    return out


def load_boxes(path: str | os.PathLike[str]) -> dict[str, list[Box]]:
    """Read user-provided person boxes from a JSON file.

    The file is one object mapping an image to its boxes. The key is the image's path relative
    to an input folder, its full path, or its bare file name when no other input has that name
    (see :func:`match_boxes`). Each
    box is ``[x, y, w, h]``, ``[x, y, w, h, score]`` or ``{"x": .., "y": .., "w": .., "h": ..}``
    (optional ``"score"``), or a person of ``deid detect --json`` (``{"box": [x, y, w, h],
    "score": ..}``, other keys ignored), in pixels of the image; an empty list says there is nobody::

        {
          "street/0001.jpg": [[212, 40, 96, 192], {"x": 20, "y": 33, "w": 60, "h": 150}],
          "street/0002.jpg": []
        }

    Raises:
        BoxesError: the file is missing or not JSON, or an entry is malformed.

    Example:
        >>> load_boxes("boxes.json")["street/0001.jpg"][0]  # doctest: +SKIP
        Box(x=212, y=40, w=96, h=192, score=1.0)
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BoxesError(f"boxes file {path}: no such file") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BoxesError(f"boxes file {path}: not a readable JSON file ({exc})") from exc
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise BoxesError(
            f"boxes file {path}: expected an object mapping image paths to box lists, got {kind}"
        )
    out = {}
    for key, entries in data.items():
        if not isinstance(entries, list):
            kind = type(entries).__name__
            raise BoxesError(f"boxes file {path}: {key!r} must map to a list of boxes, got {kind}")
        out[key] = [_parse_box(entry, f"boxes file {path}: {key!r}[{i}]") for i, entry in enumerate(entries)]
    return out


def _parse_box(entry: Any, where: str) -> Box:
    if isinstance(entry, Mapping) and "box" in entry:  # a person of ``deid detect --json``
        box = entry["box"]
        if not (isinstance(box, list) and len(box) == 4):
            raise BoxesError(f'{where}: "box" must be [x, y, w, h], got {box!r}')
        values = [*box, entry.get("score", 1.0)]
    elif isinstance(entry, Mapping):
        missing = [k for k in ("x", "y", "w", "h") if k not in entry]
        if missing:
            raise BoxesError(f"{where} lacks {missing}; a box needs x, y, w, h (and optionally score)")
        values = [entry["x"], entry["y"], entry["w"], entry["h"], entry.get("score", 1.0)]
    elif isinstance(entry, list) and len(entry) in (4, 5):
        values = [*entry, 1.0] if len(entry) == 4 else list(entry)
    else:
        raise BoxesError(f"{where} must be [x, y, w, h], [x, y, w, h, score] or an object, got {entry!r}")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in values):
        raise BoxesError(f"{where} must hold finite numbers, got {entry!r}")
    x, y, w, h, score = values
    if w <= 0 or h <= 0:
        raise BoxesError(f"{where} must have a positive width and height, got w={w}, h={h}")
    return Box(round(x), round(y), max(1, round(w)), max(1, round(h)), float(score))


def match_boxes(
    boxes: Mapping[str, list[Box]], files: Sequence[Path], roots: Sequence[Path], *, source: str = "boxes"
) -> tuple[dict[Path, list[Box]], list[str]]:
    """Assign each key of a boxes file (see :func:`load_boxes`) to the one input it names.

    A key names an input by its path relative to one of ``roots`` (the input folders), by its
    full path (or a path relative to the working folder), or by its bare file name. A key that
    names more than one input, or two keys with different boxes for one input, is an error:
    boxes are never applied to a file they were not meant for.

    Args:
        boxes: boxes by key, as :func:`load_boxes` returns them.
        files: the input files, absolute.
        roots: the folders the inputs were given under (absolute).
        source: how errors name the boxes file.

    Returns:
        The boxes of each matched input, and the keys that name no input.

    Raises:
        BoxesError: a key names several inputs, or one input gets two different box lists.

    Example:
        >>> found, unused = match_boxes({"camA/f.png": []}, [Path("/in/camA/f.png")], [Path("/in")])
        >>> found, unused
        ({PosixPath('/in/camA/f.png'): []}, [])
    """
    names: dict[str, set[Path]] = {}  # every way a key may name each file
    for file in files:
        for name in _names(file, roots):
            names.setdefault(name, set()).add(file)
    out: dict[Path, list[Box]] = {}
    by: dict[Path, str] = {}
    unused = []
    for key, entries in boxes.items():
        matches = set().union(*(names.get(k, set()) for k in _key_forms(key)))
        if len(matches) > 1:
            listed = ", ".join(sorted(str(m) for m in matches))
            raise BoxesError(
                f"{source}: key {key!r} matches {len(matches)} inputs ({listed}); expected one: key them "
                "by their path relative to the input folder or by their full path"
            )
        if not matches:
            unused.append(key)
            continue
        file = matches.pop()
        if file in out and out[file] != entries:
            raise BoxesError(
                f"{source}: keys {by[file]!r} and {key!r} both name {file} with different boxes; "
                "expected one entry per image"
            )
        out[file], by[file] = list(entries), key
    return out, unused


def _names(file: Path, roots: Sequence[Path]) -> set[str]:
    out = {file.name, os.fspath(file), os.path.realpath(file)}
    for root in roots:
        if root in file.parents:
            out.add(file.relative_to(root).as_posix())
    return out


def _key_forms(key: str) -> set[str]:
    if os.path.isabs(key):
        return {os.path.normpath(key), os.path.realpath(key)}
    relative = os.path.normpath(key)
    return {relative, os.path.abspath(key), os.path.realpath(key)}

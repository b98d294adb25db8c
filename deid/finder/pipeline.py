"""The person finder: detector and HOG proposals confirmed, re-centred and outlined by the pose
landmark model.

For a frame:

1. MediaPipe's person detector proposes windows on the whole frame and on overlapping tiles
   (:func:`~deid.finder.detector.detect_windows`); HOG proposes boxes at a lowered threshold
   (:func:`~deid.finder.proposals.hog_proposals`), merged, each a square window, where no
   detector window already is.
2. The landmark model runs on all windows. A presence below ``reject`` drops the
   proposal; the others are re-centred on the landmarks found (the window MediaPipe's own
   tracking would take next), duplicates merged, and the model runs again on those windows.
3. A person whose presence reaches ``confirm`` is kept with its 33 keypoints and a silhouette:
   the model's segmentation mapped back to the frame, limited to pixels near the person's own
   skeleton (so a neighbour caught in the window is not claimed); where two silhouettes meet,
   a pixel goes to the nearer skeleton. The box is the silhouette's bounding box. Beside every
   confirmed person the model looks again, with everyone found blacked out, for someone walking
   beside them whom their window hid. A small person inside a much taller one's box is a body
   part the model took for a whole person: folded into that person.
4. A proposal scored between ``reject`` and ``confirm`` that no confirmed person covers is kept
   as *uncertain*: its HOG box grown to the keypoints the model placed in its window, a
   box-shaped mask, ``uncertain=True``. Callers conceal it by box
   (or flag it); it is never dropped silently.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import replace
from functools import cache

import numpy as np
import torch

from deid.boxes import Box
from deid.finder._windows import WINDOW_MARGIN, cut_windows
from deid.finder.border import inside_border
from deid.finder.candidates import (
    Candidate,
    beside,
    box_of,
    dedupe,
    iou,
    keypoint_array,
    merge_boxes,
    neighbours,
    read_candidates,
    recentre,
    silhouette_masks,
    to_rgb,
)
from deid.finder.config import MIN_FRAME, FinderConfig, FrameTooSmallError, Person
from deid.finder.detector import PersonDetector, default_detector, detect_windows
from deid.finder.model import PoseModel, default_model
from deid.finder.proposals import HOG_WINDOW, hog_proposals
from deid.finder.runtime import has_litert
from reid_model.checks import check_images

#: A span that hides nothing (columns far outside any frame).
_WIDE = 1e7
#: A proposal centred in a known person's box shows them when its height is within this factor.
KNOWN_HEIGHT = 1.5


@cache
def _default_detector() -> PersonDetector | None:
    if has_litert():
        return default_detector()
    warnings.warn(
        "the LiteRT runtime (pip install ai-edge-litert) is not installed: the person finder "
        "proposes with HOG alone, which misses more people (see benchmarks/person_finder.py)",
        RuntimeWarning,
        stacklevel=3,
    )
    return None


def _check_frame(image: object) -> torch.Tensor:
    image = check_images(image, "image", batched=False)
    height, width = image.shape[-2:]
    if height < MIN_FRAME[0] or width < MIN_FRAME[1]:
        raise FrameTooSmallError(
            f"image is {width}x{height} pixels, too small for the person finder: expected at least "
            f"{MIN_FRAME[1]} wide and {MIN_FRAME[0]} high (HOG's {HOG_WINDOW[0]}x{HOG_WINDOW[1]} "
            "window at x2); pass a person crop to the crop path or bring boxes"
        )
    return image


def find_people(
    image: torch.Tensor,
    *,
    config: FinderConfig | None = None,
    model: PoseModel | None = None,
    detector: PersonDetector | None = None,
    known: Sequence[Box] = (),
) -> list[Person]:
    """Find every person in ``image (3, H, W)``: box, presence score, silhouette and keypoints.

    Args:
        image: the frame, float RGB in [0, 1].
        config: the finder's settings (default :class:`FinderConfig`).
        model: the pose landmark model (default: the vendored file, checked and loaded once).
        detector: the person detector (default: the vendored file when ``config.detector`` and
            LiteRT is installed; without LiteRT the finder proposes with HOG alone and warns).
        known: people already found in this image (a video's tracked people): a proposal
            centred inside one of their boxes, at a similar height (within a factor
            :data:`KNOWN_HEIGHT`), is not looked at again; nor returned.

    Returns:
        Confirmed persons (best score first), then the uncertain proposals (best first).

    Raises:
        FrameTooSmallError: the frame is smaller than :data:`MIN_FRAME`.
        ModelFileError: the model file is missing, empty or corrupt.

    Example:
        >>> people = find_people(reid_model.read_image("street.png"))  # doctest: +SKIP
        >>> people[0].box, people[0].mask.shape, people[0].keypoints.shape  # doctest: +SKIP
        (Box(x=160, y=38, w=61, h=290, score=0.99...), torch.Size([406, 612]), torch.Size([33, 3]))
    """
    image = _check_frame(image)
    config = config or FinderConfig()
    model = model or default_model()
    if detector is None and config.detector:
        detector = _default_detector()
    rgb = to_rgb(image)
    height, width = rgb.shape[:2]
    top, bottom, left, right = inside_border(rgb)
    inner_size = (bottom - top, right - left)
    if inner_size != (height, width) and inner_size[0] >= MIN_FRAME[0] and inner_size[1] >= MIN_FRAME[1]:
        inner = image[:, top:bottom, left:right]
        moved = [b._replace(x=b.x - left, y=b.y - top) for b in known]
        found = find_people(inner, config=config, model=model, detector=detector, known=moved)
        return [_in_frame(p, top, left, height, width) for p in found]
    windows, proposals, spans = _proposals(rgb, config, detector)
    if known and len(windows):
        new = ~_of_known(proposals, known)
        windows, proposals, spans = windows[new], proposals[new], spans[new]
    if len(windows) == 0:
        return []
    first = read_candidates(model.run(cut_windows(rgb, windows, spans)), windows, proposals)
    alive = [c for c in first if c.presence >= config.reject]
    refined = recentre(rgb, alive, model, config)
    confirmed = dedupe([c for c in refined if c.presence >= config.confirm], config)
    silhouettes = silhouette_masks(confirmed, height, width, config)
    unsure = [c for c in alive if c.presence < config.confirm]
    unsure += [c for c in refined if c.presence < config.confirm]
    if config.neighbours:
        extra = neighbours(rgb, confirmed, silhouettes, model, config, known)
        if config.beside:
            extra += beside(rgb, confirmed, silhouettes, model, config, known)
        if extra:
            unsure += [c for c in extra if c.presence < config.confirm]
            confirmed = dedupe(confirmed + [c for c in extra if c.presence >= config.confirm], config)
            silhouettes = silhouette_masks(confirmed, height, width, config)
    people: list[Person] = []
    for cand, mask in zip(confirmed, silhouettes, strict=True):
        box = box_of(mask)
        if box is None:  # the model says a person but outlines nothing here: unsure
            unsure.append(cand)
            continue
        people.append(
            Person(
                Box(*box, score=cand.presence),
                cand.presence,
                torch.from_numpy(mask),
                torch.from_numpy(keypoint_array(cand)),
                uncertain=False,
            )
        )
    people = _fold_parts(people, config.part)
    people.sort(key=lambda p: -p.score)
    confirmed_boxes = [np.array([p.box.x, p.box.y, p.box.w, p.box.h], dtype=np.float64) for p in people]
    people += _uncertain(unsure, confirmed_boxes, height, width)
    return people


def _in_frame(person: Person, top: int, left: int, height: int, width: int) -> Person:
    """``person``, found in the part of a ``width`` x ``height`` frame whose corner is at
    ``left, top``, in the frame's pixels."""
    box = person.box._replace(x=person.box.x + left, y=person.box.y + top)
    inner_height, inner_width = person.mask.shape
    mask = torch.nn.functional.pad(
        person.mask, (left, width - left - inner_width, top, height - top - inner_height)
    )
    keypoints = person.keypoints + torch.tensor([left, top, 0.0], dtype=person.keypoints.dtype)
    return replace(person, box=box, mask=mask, keypoints=keypoints)


def _of_known(proposals: np.ndarray, known: Sequence[Box]) -> np.ndarray:
    """Which ``proposals (N, 5)`` show one of the ``known`` people: centred inside the person's box,
    at a height within a factor :data:`KNOWN_HEIGHT` of theirs."""
    boxes = np.array([[b.x, b.y, b.w, b.h] for b in known], dtype=np.float64)
    cx = (proposals[:, 0] + proposals[:, 2] / 2)[:, None]
    cy = (proposals[:, 1] + proposals[:, 3] / 2)[:, None]
    ratio = proposals[:, 3][:, None] / np.maximum(boxes[:, 3], 1.0)
    inside = (
        (cx >= boxes[:, 0])
        & (cx <= boxes[:, 0] + boxes[:, 2])
        & (cy >= boxes[:, 1])
        & (cy <= boxes[:, 1] + boxes[:, 3])
    )
    similar = (ratio >= 1 / KNOWN_HEIGHT) & (ratio <= KNOWN_HEIGHT)
    return np.asarray((inside & similar).any(axis=1))


def _fold_parts(people: list[Person], part: float) -> list[Person]:
    """Fold a person whose box lies inside a much taller person's box into that person: the
    model, shown a close view of a leg or a torso in a small window, sometimes confirms it as a
    whole small person. Its silhouette joins the taller person's (whose box grows to hold it),
    so its pixels are still concealed."""
    out: list[Person | None] = list(people)
    for i in sorted(range(len(people)), key=lambda k: people[k].box.h):
        small = out[i]
        assert small is not None  # a person is removed only when it is the one folded
        b = small.box
        for j, other in enumerate(out):
            if j == i or other is None or b.h > part * other.box.h:
                continue
            o = other.box
            overlap = max(0, min(b.x + b.w, o.x + o.w) - max(b.x, o.x)) * max(
                0, min(b.y + b.h, o.y + o.h) - max(b.y, o.y)
            )
            if overlap >= 0.9 * b.w * b.h:
                mask = other.mask | small.mask
                x, y, w, h = box_of(mask.numpy()) or (o.x, o.y, o.w, o.h)
                out[j] = replace(other, box=Box(x, y, w, h, score=o.score), mask=mask)
                out[i] = None
                break
    return [p for p in out if p is not None]


def _proposals(
    rgb: np.ndarray, config: FinderConfig, detector: PersonDetector | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The landmark model's first windows ``(N, 3)``, the proposal box of each ``(N, 5)`` and the
    columns each may see ``(N, 2)``: the detector's windows, then HOG's that no detector window
    already explains."""
    windows, boxes, spans = [], [], []
    if detector is not None:
        for score, cx, cy, side in detect_windows(
            rgb,
            detector,
            tiles=config.tiles,
            overlap=config.tile_overlap,
            threshold=config.detect_threshold,
            reach=config.detect_reach,
            largest=config.tile_reach,
        ):
            radius = side / (2 * WINDOW_MARGIN)
            windows.append([cx, cy, side])
            boxes.append([cx - 0.4 * radius, cy - radius, 0.8 * radius, 2 * radius, score])
            spans.append([-_WIDE, _WIDE])
    if config.hit_threshold is not None:
        found = hog_proposals(
            rgb,
            hit_threshold=config.hit_threshold,
            scale=config.hog_scale,
            upscale=config.upscale,
            upscale_levels=config.upscale_levels,
        )
        for box in merge_boxes(found, config.merge_reach) if len(found) else []:
            x, y, w, h = box[:4]
            cx, cy = x + w / 2, y + h / 2
            if any(abs(cx - u[0]) < 0.25 * w and abs(cy - u[1]) < 0.3 * h for u in windows):
                continue  # the detector has this one
            margin = (config.span if config.span is not None else _WIDE) * w
            windows.append([cx, cy, h * config.window_scale])
            boxes.append(list(box))
            spans.append([x - margin, x + w + margin])
    return (
        np.asarray(windows, dtype=np.float64).reshape(-1, 3),
        np.asarray(boxes, dtype=np.float64).reshape(-1, 5),
        np.asarray(spans, dtype=np.float64).reshape(-1, 2),
    )


def _uncertain(unsure: list[Candidate], confirmed: list[np.ndarray], height: int, width: int) -> list[Person]:
    out: list[Person] = []
    taken = list(confirmed)
    for cand in sorted(unsure, key=lambda c: -c.presence):
        # The proposal's box grown to the keypoints the model placed inside its window: a HOG box
        # often holds only part of the person (e.g. the upper body), and an uncertain person is
        # concealed by this box, so it errs on the side of covering more.
        x, y, w, h = cand.proposal[:4]
        cx, cy, side = cand.window
        points = cand.points
        inside = (np.abs(points[:, 0] - cx) <= side / 2) & (np.abs(points[:, 1] - cy) <= side / 2)
        if inside.any():
            (px0, py0), (px1, py1) = points[inside].min(axis=0), points[inside].max(axis=0)
            x, y, w, h = (
                min(x, px0),
                min(y, py0),
                max(x + w, px1) - min(x, px0),
                max(y + h, py1) - min(y, py0),
            )
        x0, y0 = max(0, int(np.floor(x))), max(0, int(np.floor(y)))
        x1, y1 = min(width, int(np.ceil(x + w))), min(height, int(np.ceil(y + h)))
        if x1 <= x0 or y1 <= y0:
            continue
        box = np.array([x0, y0, x1 - x0, y1 - y0], dtype=np.float64)
        centre = box[:2] + box[2:] / 2
        covered = any(
            iou(box, t) > 0.3 or (t[0] <= centre[0] <= t[0] + t[2] and t[1] <= centre[1] <= t[1] + t[3])
            for t in taken
        )
        if covered:
            continue
        taken.append(box)
        mask = torch.zeros(height, width, dtype=torch.bool)
        mask[y0:y1, x0:x1] = True
        out.append(
            Person(
                Box(x0, y0, x1 - x0, y1 - y0, score=cand.presence),
                cand.presence,
                mask,
                torch.from_numpy(keypoint_array(cand)),
                uncertain=True,
            )
        )
    return out

"""The person finder: HOG proposals confirmed, re-centred and outlined by the pose landmark model.

For a frame:

1. HOG proposes boxes at a lowered threshold (:func:`~deid.finder.proposals.hog_proposals`);
   overlapping proposals are merged and each becomes a square window on the model's input.
2. The landmark model runs on all windows in one batch. A presence below ``reject`` drops the
   proposal; the others are re-centred on the landmarks found (the window MediaPipe's own
   tracking would take next), duplicates merged, and the model runs again on those windows.
3. A person whose presence reaches ``confirm`` is kept with its 33 keypoints and a silhouette:
   the model's segmentation mapped back to the frame, limited to pixels near the person's own
   skeleton (so a neighbour caught in the window is not claimed); where two silhouettes meet,
   a pixel goes to the nearer skeleton. The box is the silhouette's bounding box.
4. A proposal scored between ``reject`` and ``confirm`` that no confirmed person covers is kept
   as *uncertain*: its HOG box grown to the keypoints the model placed in its window, a
   box-shaped mask, ``uncertain=True``. Callers conceal it by box
   (or flag it); it is never dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from deid.boxes import Box
from deid.finder._windows import (
    aligned_window,
    cut_windows,
    logits_to_frame,
    points_to_frame,
    skeleton_distance,
)
from deid.finder.model import NUM_KEYPOINTS, PoseModel, PoseOutput, default_model
from deid.finder.proposals import HOG_WINDOW, hog_proposals
from reid_model.checks import check_images

#: The smallest frame the finder searches, (height, width) in pixels: HOG's 128x64 window at
#: the largest enlargement (x2).
MIN_FRAME = (64, 32)


class FrameTooSmallError(ValueError):
    """A frame is smaller than the finder can search."""


@dataclass(frozen=True)
class FinderConfig:
    """Settings of :func:`find_people` (measured on Penn-Fudan, see ``benchmarks/person_finder.py``).

    Attributes:
        hit_threshold: HOG's SVM threshold for proposals (OpenCV's default is 0).
        hog_scale: HOG's pyramid step.
        upscale: the frame is also searched this much enlarged for small people (1 to skip).
        upscale_levels: pyramid levels searched on the enlarged frame.
        merge_reach: proposals whose centres lie within this fraction of a better one's height
            (at a similar height) share its window.
        window_scale: a proposal's window side, as a multiple of its box height.
        confirm: presence probability that confirms a person.
        reject: presence below which a proposal is rejected; in between it is uncertain.
        gate: silhouette pixels are kept within this many torso lengths of the skeleton.
        span: the first pass sees only the proposal's columns widened by this fraction of its
            width on each side (None: the whole square window), which keeps neighbours out.
        neighbours: look again, in a window of its own, at a person-sized blob of a window's
            segmentation that no confirmed skeleton claims (a neighbour the window hid).
        duplicate: two persons whose torso keypoints lie within this many torso lengths of each
            other on average are one person.
    """

    hit_threshold: float = -0.8
    hog_scale: float = 1.1
    upscale: float = 1.0
    upscale_levels: int = 4
    merge_reach: float = 0.3
    window_scale: float = 1.0
    confirm: float = 0.5
    reject: float = 0.1
    gate: float = 0.45
    duplicate: float = 0.3
    span: float | None = 0.25
    neighbours: bool = True

    def __post_init__(self) -> None:
        if not 0.0 <= self.reject <= self.confirm <= 1.0:
            raise ValueError(
                f"FinderConfig needs 0 <= reject <= confirm <= 1, got reject={self.reject}, "
                f"confirm={self.confirm}"
            )
        for name in ("hog_scale", "upscale"):
            if getattr(self, name) < 1.0:
                raise ValueError(f"FinderConfig.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("window_scale", "gate", "duplicate"):
            if not getattr(self, name) > 0:
                raise ValueError(f"FinderConfig.{name} must be > 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class Person:
    """One person found in a frame.

    Attributes:
        box: the tight box around the silhouette (the grown proposal box when ``uncertain``), with
            the presence probability as its score.
        score: the landmark model's person-presence probability in [0, 1].
        mask: ``(H, W)`` bool silhouette at the frame's resolution (the box when ``uncertain``).
        keypoints: ``(33, 3)`` float32 ``x, y, visibility`` in frame pixels, MediaPipe's order
            (0 nose, 11/12 shoulders, 23/24 hips, 27/28 ankles, ...); points may lie outside the
            frame (a body cut off by its edge).
        uncertain: the model could neither confirm nor reject this proposal; conceal it by box.
    """

    box: Box
    score: float
    mask: torch.Tensor
    keypoints: torch.Tensor
    uncertain: bool


def _to_rgb(image: torch.Tensor) -> np.ndarray:
    array = (image.detach().cpu().float().clamp(0, 1) * 255.0).round().to(torch.uint8)
    return np.ascontiguousarray(array.permute(1, 2, 0).numpy())


def _merge(boxes: np.ndarray, reach: float) -> np.ndarray:
    """Greedy grouping, best HOG score first: a proposal whose centre lies within ``reach`` of
    a kept one's height from its centre, at a height within a factor 1.5, shares its window."""
    kept: list[np.ndarray] = []
    for box in boxes[np.argsort(-boxes[:, 4], kind="stable")]:
        centre = box[:2] + box[2:4] / 2
        if not any(
            np.hypot(*(centre - (k[:2] + k[2:4] / 2))) < reach * k[3] and 1 / 1.5 < box[3] / k[3] < 1.5
            for k in kept
        ):
            kept.append(box)
    return np.stack(kept) if kept else boxes


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return float(inter / union) if union > 0 else 0.0


def _torso(points: np.ndarray) -> float:
    shoulders = (points[11] + points[12]) / 2
    hips = (points[23] + points[24]) / 2
    return max(float(np.hypot(*(shoulders - hips))), 1.0)


@dataclass
class _Candidate:
    window: np.ndarray
    presence: float
    landmarks: np.ndarray  # (39, 5) window pixels
    logits: np.ndarray  # (256, 256)
    proposal: np.ndarray  # x, y, w, h, hog score

    @property
    def points(self) -> np.ndarray:
        return points_to_frame(self.landmarks[:NUM_KEYPOINTS, :2], self.window)


def _candidates(out: PoseOutput, windows: np.ndarray, proposals: np.ndarray) -> list[_Candidate]:
    return [
        _Candidate(windows[i], float(out.presence[i]), out.landmarks[i], out.segmentation[i], proposals[i])
        for i in range(len(windows))
    ]


def _refine(
    rgb: np.ndarray, first: list[_Candidate], model: PoseModel, config: FinderConfig
) -> list[_Candidate]:
    """Re-run the model on windows re-centred on each candidate's landmarks; keep the better pass."""
    order = sorted(range(len(first)), key=lambda i: -first[i].presence)
    windows: list[np.ndarray] = []
    sources: list[_Candidate] = []
    kept: list[_Candidate] = []
    for i in order:
        window = aligned_window(first[i].landmarks, first[i].window)
        if not np.isfinite(window).all() or window[2] < 8:
            kept.append(first[i])  # no usable landmarks to re-centre on: keep the first pass
            continue
        same = any(
            np.hypot(*(window[:2] - w[:2])) < 0.08 * w[2] and 0.75 < window[2] / w[2] < 1.33 for w in windows
        )
        if not same:
            windows.append(window)
            sources.append(first[i])
    if not windows:
        return kept
    stacked = np.stack(windows)
    out = model.run(cut_windows(rgb, stacked))
    second = _candidates(out, stacked, np.stack([s.proposal for s in sources]))
    return kept + [b if b.presence >= a.presence else a for a, b in zip(sources, second, strict=True)]


def _dedupe(candidates: list[_Candidate], config: FinderConfig) -> list[_Candidate]:
    kept: list[_Candidate] = []
    for cand in sorted(candidates, key=lambda c: -c.presence):
        torso_pts = cand.points[[11, 12, 23, 24]]
        scale = _torso(cand.points)
        if not any(
            float(np.linalg.norm(torso_pts - k.points[[11, 12, 23, 24]], axis=1).mean())
            < config.duplicate * max(scale, _torso(k.points))
            for k in kept
        ):
            kept.append(cand)
    return kept


def _neighbours(
    rgb: np.ndarray,
    confirmed: list[_Candidate],
    silhouettes: list[np.ndarray],
    model: PoseModel,
    config: FinderConfig,
) -> list[_Candidate]:
    """A window holding two people yields one; the other often shows in its segmentation as a
    person-sized blob no skeleton claims. Such blobs get a window of their own, in one batch."""
    height, width = rgb.shape[:2]
    claimed = np.zeros((height, width), dtype=bool)
    for mask in silhouettes:
        claimed |= mask
    windows, spans, boxes = [], [], []
    for cand, mask in zip(confirmed, silhouettes, strict=True):
        box = _box_of(mask)
        if box is None:
            continue
        free = (logits_to_frame(cand.logits, cand.window, height, width) > 0) & ~claimed
        count, _, stats, _ = cv2.connectedComponentsWithStats(free.astype(np.uint8), connectivity=8)
        for x, y, w, h, area in stats[1:count]:
            if h >= 0.35 * box[3] and area >= 0.08 * mask.sum():
                windows.append([x + w / 2, y + h / 2, max(h, box[3]) * 1.1])
                spans.append([x - 0.25 * w, x + 1.25 * w])
                boxes.append([x, y, w, h, 0.0])
    if not windows:
        return []
    stacked = np.asarray(windows, dtype=np.float64)
    out = model.run(cut_windows(rgb, stacked, np.asarray(spans, dtype=np.float64)))
    return _candidates(out, stacked, np.asarray(boxes, dtype=np.float64))


def _box_of(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    if len(ys) == 0:
        return None
    return int(xs[0]), int(ys[0]), int(xs[-1] - xs[0] + 1), int(ys[-1] - ys[0] + 1)


def _silhouettes(people: list[_Candidate], height: int, width: int, config: FinderConfig) -> list[np.ndarray]:
    """Each confirmed person's silhouette; shared pixels go to the nearer skeleton."""
    if not people:
        return []
    nearness = np.full((len(people), height, width), np.inf, dtype=np.float32)
    for i, person in enumerate(people):
        points = person.points
        torso = _torso(points)
        logits = logits_to_frame(person.logits, person.window, height, width)
        distance = skeleton_distance(points, height, width) / np.float32(torso)
        claim = (logits > 0) & (distance <= config.gate)
        nearness[i][claim] = distance[claim]
    owner = nearness.argmin(axis=0)
    claimed = np.isfinite(nearness.min(axis=0))
    return [claimed & (owner == i) for i in range(len(people))]


def _keypoints(person: _Candidate) -> np.ndarray:
    visibility = 1.0 / (1.0 + np.exp(-person.landmarks[:NUM_KEYPOINTS, 3]))
    return np.concatenate([person.points, visibility[:, None]], axis=1).astype(np.float32)


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
    image: torch.Tensor, *, config: FinderConfig | None = None, model: PoseModel | None = None
) -> list[Person]:
    """Find every person in ``image (3, H, W)``: box, presence score, silhouette and keypoints.

    Args:
        image: the frame, float RGB in [0, 1].
        config: the finder's settings (default :class:`FinderConfig`).
        model: the pose model (default: the vendored file, checked and loaded once).

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
    rgb = _to_rgb(image)
    height, width = rgb.shape[:2]
    proposals = _merge(
        hog_proposals(
            rgb,
            hit_threshold=config.hit_threshold,
            scale=config.hog_scale,
            upscale=config.upscale,
            upscale_levels=config.upscale_levels,
        ),
        config.merge_reach,
    )
    if len(proposals) == 0:
        return []
    windows = np.stack(
        [
            proposals[:, 0] + proposals[:, 2] / 2,
            proposals[:, 1] + proposals[:, 3] / 2,
            proposals[:, 3] * config.window_scale,
        ],
        axis=1,
    )
    spans = None
    if config.span is not None:
        margin = config.span * proposals[:, 2]
        spans = np.stack([proposals[:, 0] - margin, proposals[:, 0] + proposals[:, 2] + margin], axis=1)
    first = _candidates(model.run(cut_windows(rgb, windows, spans)), windows, proposals)
    alive = [c for c in first if c.presence >= config.reject]
    refined = _refine(rgb, alive, model, config)
    confirmed = _dedupe([c for c in refined if c.presence >= config.confirm], config)
    silhouettes = _silhouettes(confirmed, height, width, config)
    unsure = [c for c in alive if c.presence < config.confirm]
    unsure += [c for c in refined if c.presence < config.confirm]
    if config.neighbours:
        extra = _neighbours(rgb, confirmed, silhouettes, model, config)
        if extra:
            unsure += [c for c in extra if c.presence < config.confirm]
            confirmed = _dedupe(confirmed + [c for c in extra if c.presence >= config.confirm], config)
            silhouettes = _silhouettes(confirmed, height, width, config)
    people: list[Person] = []
    for cand, mask in zip(confirmed, silhouettes, strict=True):
        box = _box_of(mask)
        if box is None:  # the model says a person but outlines nothing here: unsure
            unsure.append(cand)
            continue
        people.append(
            Person(
                Box(*box, score=cand.presence),
                cand.presence,
                torch.from_numpy(mask),
                torch.from_numpy(_keypoints(cand)),
                uncertain=False,
            )
        )
    people.sort(key=lambda p: -p.score)
    confirmed_boxes = [np.array([p.box.x, p.box.y, p.box.w, p.box.h], dtype=np.float64) for p in people]
    people += _uncertain(unsure, confirmed_boxes, height, width)
    return people


def _uncertain(
    unsure: list[_Candidate], confirmed: list[np.ndarray], height: int, width: int
) -> list[Person]:
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
            _iou(box, t) > 0.3 or (t[0] <= centre[0] <= t[0] + t[2] and t[1] <= centre[1] <= t[1] + t[3])
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
                torch.from_numpy(_keypoints(cand)),
                uncertain=True,
            )
        )
    return out

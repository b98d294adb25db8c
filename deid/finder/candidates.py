"""The landmark model's candidates: read from its outputs, re-centred, merged, outlined."""

from __future__ import annotations

from collections.abc import Sequence
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
from deid.finder.config import FinderConfig
from deid.finder.model import NUM_KEYPOINTS, PoseModel, PoseOutput


def to_rgb(image: torch.Tensor) -> np.ndarray:
    """A ``(3, H, W)`` float image in [0, 1] as a contiguous ``(H, W, 3)`` uint8 RGB array."""
    array = (image.detach().cpu().float().clamp(0, 1) * 255.0).round().to(torch.uint8)
    return np.ascontiguousarray(array.permute(1, 2, 0).numpy())


def merge_boxes(boxes: np.ndarray, reach: float) -> np.ndarray:
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


def iou(a: np.ndarray | Sequence[float], b: np.ndarray | Sequence[float]) -> float:
    """Intersection over union of two ``(x, y, w, h)`` boxes (arrays, or :class:`Box`)."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return float(inter / union) if union > 0 else 0.0


def torso_length(points: np.ndarray) -> float:
    """Shoulder-centre to hip-centre distance of 33 frame keypoints ``(33, 2)``, at least 1 pixel."""
    shoulders = (points[11] + points[12]) / 2
    hips = (points[23] + points[24]) / 2
    return max(float(np.hypot(*(shoulders - hips))), 1.0)


@dataclass
class Candidate:
    """One run of the landmark model on one window: what it saw there, in window coordinates."""

    window: np.ndarray
    presence: float
    landmarks: np.ndarray  # (39, 5) window pixels
    logits: np.ndarray  # (256, 256)
    proposal: np.ndarray  # x, y, w, h, hog score

    @property
    def points(self) -> np.ndarray:
        return points_to_frame(self.landmarks[:NUM_KEYPOINTS, :2], self.window)


def read_candidates(out: PoseOutput, windows: np.ndarray, proposals: np.ndarray) -> list[Candidate]:
    """One :class:`Candidate` per window from a batched model output."""
    return [
        Candidate(windows[i], float(out.presence[i]), out.landmarks[i], out.segmentation[i], proposals[i])
        for i in range(len(windows))
    ]


def recentre(
    rgb: np.ndarray, first: list[Candidate], model: PoseModel, config: FinderConfig
) -> list[Candidate]:
    """Re-run the model on windows re-centred on each candidate's landmarks; keep the better pass.

    A candidate whose re-centred window is about the window it was found in has settled (as a
    detector's window does) and is kept without a second pass; one whose re-centred window is
    about a stronger candidate's is the same person and is dropped."""
    order = sorted(range(len(first)), key=lambda i: -first[i].presence)
    windows: list[np.ndarray] = []
    sources: list[Candidate] = []
    settled: list[np.ndarray] = []
    kept: list[Candidate] = []
    for i in order:
        window = aligned_window(first[i].landmarks, first[i].window)
        if not np.isfinite(window).all() or window[2] < 8:
            kept.append(first[i])  # no usable landmarks to re-centre on: keep the first pass
            continue
        if any(_alike(window, w, config.settle) for w in windows + settled):
            continue
        if _alike(window, first[i].window, config.settle):
            kept.append(first[i])
            settled.append(window)
            continue
        windows.append(window)
        sources.append(first[i])
    if not windows:
        return kept
    stacked = np.stack(windows)
    out = model.run(cut_windows(rgb, stacked))
    second = read_candidates(out, stacked, np.stack([s.proposal for s in sources]))
    return kept + [b if b.presence >= a.presence else a for a, b in zip(sources, second, strict=True)]


def _alike(a: np.ndarray, b: np.ndarray, reach: float) -> bool:
    """Whether two windows ``(cx, cy, side)`` are about the same: centres within ``reach`` of
    ``b``'s side, sides within a factor ``1 + 4 * reach``."""
    return bool(
        np.hypot(*(a[:2] - b[:2])) < reach * b[2] and 1 / (1 + 4 * reach) < a[2] / b[2] < 1 + 4 * reach
    )


def dedupe(candidates: list[Candidate], config: FinderConfig) -> list[Candidate]:
    """Drop candidates whose torso lies on a stronger candidate's (the same person found twice)."""
    kept: list[Candidate] = []
    for cand in sorted(candidates, key=lambda c: -c.presence):
        torso_pts = cand.points[[11, 12, 23, 24]]
        scale = torso_length(cand.points)
        if not any(
            float(np.linalg.norm(torso_pts - k.points[[11, 12, 23, 24]], axis=1).mean())
            < config.duplicate * max(scale, torso_length(k.points))
            for k in kept
        ):
            kept.append(cand)
    return kept


#: A look beside a person: its centre this many of the person's heights to either side, its
#: window this many heights across, seeing this many heights either side of its centre.
BESIDE_OFFSET, BESIDE_SIDE, BESIDE_HALF = 0.35, 1.25, 0.22
#: A look beside a person confirms someone at this presence (stricter than the finder's own
#: ``confirm``: nothing proposed a person there), with at least this fraction of their
#: silhouette on pixels no one else's silhouette claims, and a silhouette at least this wide
#: for its height: narrower is a strip left beside the blacked-out person (measured: people
#: found beside others on Penn-Fudan 0.21-0.45; strips along pasted VIPeR crops 0.11-0.17).
BESIDE_CONFIRM, BESIDE_FREE, BESIDE_NARROW = 0.7, 0.5, 0.18


def _claimed(height: int, width: int, silhouettes: list[np.ndarray], known: Sequence[Box]) -> np.ndarray:
    """The pixels the confirmed silhouettes and the ``known`` people's boxes take."""
    claimed = np.zeros((height, width), dtype=bool)
    for mask in silhouettes:
        claimed |= mask
    for b in known:
        claimed[b.y : b.y + b.h, b.x : b.x + b.w] = True
    return claimed


def neighbours(
    rgb: np.ndarray,
    confirmed: list[Candidate],
    silhouettes: list[np.ndarray],
    model: PoseModel,
    config: FinderConfig,
    known: Sequence[Box] = (),
) -> list[Candidate]:
    """A window holding two people yields one; the other often shows in its segmentation as a
    person-sized blob no skeleton claims (nor a ``known`` person's box). Such blobs get a window
    of their own, in one batch."""
    height, width = rgb.shape[:2]
    claimed = _claimed(height, width, silhouettes, known)
    windows, spans, boxes = [], [], []
    for cand, mask in zip(confirmed, silhouettes, strict=True):
        box = box_of(mask)
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
    return read_candidates(out, stacked, np.asarray(boxes, dtype=np.float64))


def beside(
    rgb: np.ndarray,
    confirmed: list[Candidate],
    silhouettes: list[np.ndarray],
    model: PoseModel,
    config: FinderConfig,
    known: Sequence[Box] = (),
) -> list[Candidate]:
    """People walking side by side often come out of one window as one person: the model
    takes the stronger, or draws one skeleton across both, and the silhouette claims the other.
    Look again on either side of every confirmed person, at their height, in a narrow window
    where everyone already found (silhouettes, ``known`` boxes) is blacked out.

    Returns the looks that see a person (presence >= :data:`BESIDE_CONFIRM`) mostly on pixels
    nobody claims (:data:`BESIDE_FREE`), in a silhouette not narrower than
    :data:`BESIDE_NARROW`; the others are dropped, not made uncertain, since no proposal put a
    person there."""
    height, width = rgb.shape[:2]
    windows, spans, boxes = [], [], []
    for mask in silhouettes:
        box = box_of(mask)
        if box is None:
            continue
        x, y, w, h = box
        for cx in (x + w / 2 - BESIDE_OFFSET * h, x + w / 2 + BESIDE_OFFSET * h):
            if 0 <= cx < width:
                windows.append([cx, y + h / 2, BESIDE_SIDE * h])
                spans.append([cx - BESIDE_HALF * h, cx + BESIDE_HALF * h])
                boxes.append([cx - BESIDE_HALF * h, y, 2 * BESIDE_HALF * h, h, 0.0])
    if not windows:
        return []
    claimed = _claimed(height, width, silhouettes, known)
    hidden = rgb.copy()
    hidden[claimed] = 0
    stacked = np.asarray(windows, dtype=np.float64)
    out = model.run(cut_windows(hidden, stacked, np.asarray(spans, dtype=np.float64)))
    looks = read_candidates(out, stacked, np.asarray(boxes, dtype=np.float64))
    found = []
    for look in looks:
        if look.presence < BESIDE_CONFIRM:
            continue
        own = silhouette_masks([look], height, width, config)[0]
        box = box_of(own)
        if box is None or box[2] < BESIDE_NARROW * box[3]:
            continue
        if (own & ~claimed).sum() >= BESIDE_FREE * own.sum():
            found.append(look)
    return found


def box_of(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """The bounding box ``(x, y, w, h)`` of a boolean mask, None when it is empty."""
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    if len(ys) == 0:
        return None
    return int(xs[0]), int(ys[0]), int(xs[-1] - xs[0] + 1), int(ys[-1] - ys[0] + 1)


def silhouette_masks(
    people: list[Candidate], height: int, width: int, config: FinderConfig
) -> list[np.ndarray]:
    """Each confirmed person's silhouette; shared pixels go to the nearer skeleton."""
    if not people:
        return []
    nearness = np.full((len(people), height, width), np.inf, dtype=np.float32)
    for i, person in enumerate(people):
        points = person.points
        torso = torso_length(points)
        logits = logits_to_frame(person.logits, person.window, height, width)
        distance = skeleton_distance(points, height, width) / np.float32(torso)
        claim = (logits > 0) & (distance <= config.gate)
        nearness[i][claim] = distance[claim]
    owner = nearness.argmin(axis=0)
    claimed = np.isfinite(nearness.min(axis=0))
    return [claimed & (owner == i) for i in range(len(people))]


def keypoint_array(person: Candidate) -> np.ndarray:
    """The 33 keypoints in frame pixels with their visibility: ``(33, 3)`` float32 ``x, y, v``."""
    logits = np.clip(person.landmarks[:NUM_KEYPOINTS, 3], -60.0, 60.0)  # exp stays finite
    visibility = 1.0 / (1.0 + np.exp(-logits))
    return np.concatenate([person.points, visibility[:, None]], axis=1).astype(np.float32)

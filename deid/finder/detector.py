"""Person proposals from MediaPipe's BlazePose person detector (``pose_detection.tflite``), tiled.

The detector is the first stage of MediaPipe's own pose pipeline: an SSD-style network on a
224x224 input, trained to find a person by the head and upper body, that returns with each
detection the two alignment points the landmark model's window is built from (the hip centre
and a point half the body's extent away). Its window therefore needs no re-centring.

It was trained on people who fill much of the picture, so a street frame is searched as a whole
(letterboxed) and in overlapping square tiles, each enlarged to 224 pixels: a tile of ``t``
pixels suits people about ``t / 2`` to ``t`` tall. Needs LiteRT (OpenCV cannot read the
file's sparse weights); without it the finder proposes with HOG alone.

The anchors and the decoding follow MediaPipe's ``pose_detection_cpu`` graph (SsdAnchors: 5
layers, strides 8, 16, 32, 32, 32, fixed anchor size; 12 values per anchor: box, then 4
keypoints; scores through a sigmoid; input scaled to [-1, 1]).
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from deid.finder._windows import WINDOW_MARGIN
from deid.finder.runtime import LiteRTModel, check_file

#: The vendored detector file and its checksum (from mediapipe 0.10.21's wheel, unchanged).
DETECTOR_PATH = Path(__file__).resolve().parent / "weights" / "pose_detection.tflite"
DETECTOR_SHA256 = "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c"
#: The detector's square input side in pixels.
DETECTOR_INPUT = 224


def _anchors() -> np.ndarray:
    # SsdAnchorsCalculator with fixed_anchor_size: only the centres matter; layers of one stride
    # share a grid (2 anchors a cell at strides 8 and 16, 6 at the three stride-32 layers).
    centres = []
    for stride, per_cell in ((8, 2), (16, 2), (32, 6)):
        cells = DETECTOR_INPUT // stride
        ys, xs = np.mgrid[0:cells, 0:cells]
        grid = np.stack([(xs + 0.5) / cells, (ys + 0.5) / cells], axis=-1).reshape(-1, 1, 2)
        centres.append(np.repeat(grid, per_cell, axis=1).reshape(-1, 2))
    return np.concatenate(centres).astype(np.float32)


_ANCHORS = _anchors()


class PersonDetector:
    """The detector, checked and loaded once.

    Args:
        path: the ``.tflite`` file (default: the vendored one).
        sha256: its expected checksum.
        threads: LiteRT's CPU threads (default: torch's intra-op thread count).

    Raises:
        ModelFileError: the file is missing, empty or corrupt.
        ModuleNotFoundError: LiteRT (``ai-edge-litert``) is not installed.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = DETECTOR_PATH,
        *,
        sha256: str = DETECTOR_SHA256,
        threads: int | None = None,
    ) -> None:
        self.path = check_file(path, sha256=sha256, what=f"the {DETECTOR_PATH.name} of mediapipe 0.10.21")
        self._net = LiteRTModel(self.path, threads)

    def run(self, tiles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scores ``(N, 2254)`` (probabilities) and the alignment points ``(N, 2254, 2, 2)`` (hip
        centre, extent point; tile pixels) for ``tiles (N, 224, 224, 3)`` uint8 RGB."""
        if tiles.ndim != 4 or tiles.shape[1:] != (DETECTOR_INPUT, DETECTOR_INPUT, 3):
            raise ValueError(f"tiles must be (N, 224, 224, 3) uint8, got {tiles.dtype} {tiles.shape}")
        if len(tiles) == 0:
            return np.zeros((0, len(_ANCHORS))), np.zeros((0, len(_ANCHORS), 2, 2))
        raw, logits = self._net.run(
            tiles.astype(np.float32) / np.float32(127.5) - np.float32(1.0), ("Identity", "Identity_1")
        )
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits[..., 0].astype(np.float64), -100.0, 100.0)))
        points = raw[..., 4:8].reshape(len(tiles), -1, 2, 2) + _ANCHORS[None, :, None, :] * DETECTOR_INPUT
        return scores, points


@cache
def default_detector() -> PersonDetector:
    """The vendored detector, loaded once per process."""
    return PersonDetector()


def tile_origins(height: int, width: int, tile: int, overlap: float) -> list[tuple[int, int]]:
    """Top-left corners of square ``tile`` tiles covering a frame, overlapping by ``overlap``."""
    step = max(1, round(tile * (1 - overlap)))

    def starts(length: int) -> list[int]:
        out = list(range(0, max(length - tile, 0) + 1, step))
        if out[-1] + tile < length:
            out.append(length - tile)
        return out

    return [(x, y) for y in starts(height) for x in starts(width)]


def detect_windows(
    rgb: np.ndarray,
    detector: PersonDetector,
    *,
    tiles: tuple[int, ...] = (300,),
    overlap: float = 0.5,
    threshold: float = 0.3,
    reach: float = 0.2,
    largest: float | None = None,
) -> np.ndarray:
    """Landmark-model windows for the persons the detector finds in ``rgb (H, W, 3)`` uint8.

    Args:
        tiles: tile sides in frame pixels, searched besides the whole frame.
        overlap: how much neighbouring tiles overlap.
        threshold: the detection score kept.
        reach: detections whose windows' centres lie within this fraction of a better one's
            side (at a similar side) are the same person.
        largest: a tile's detection whose window is more than this many times the tile's side
            is dropped (None: none is); the whole frame's are all kept. Shown a small tile, the
            detector sometimes places a person's scale point far outside it: on PETS S2.L1's
            thorough looks (:data:`deid.video.follow.THOROUGH`), windows up to 810 px from 120 and
            200 px tiles of a 480x360 frame, which the pose model, unsure there, made uncertain
            people of, grown to the frame's edges.

    Returns:
        ``(K, 4)`` float64 rows ``score, cx, cy, side``: the square window MediaPipe's pose
        pipeline would give the landmark model, best first, near-duplicates suppressed.
    """
    height, width = rgb.shape[:2]
    squares = [(0, 0, max(height, width))]
    squares += [
        (x, y, t) for t in tiles if t < max(height, width) for x, y in tile_origins(height, width, t, overlap)
    ]
    batch = np.zeros((len(squares), DETECTOR_INPUT, DETECTOR_INPUT, 3), dtype=np.uint8)
    for i, (x, y, side) in enumerate(squares):
        k = DETECTOR_INPUT / side
        cv2.warpAffine(
            rgb,
            np.array([[k, 0.0, -x * k], [0.0, k, -y * k]]),
            (DETECTOR_INPUT, DETECTOR_INPUT),
            dst=batch[i],
            flags=cv2.INTER_AREA if side > DETECTOR_INPUT else cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(0, 0, 0),
        )
    scores, points = detector.run(batch)
    rows = []
    for (x, y, side), tile_scores, tile_points in zip(squares, scores, points, strict=True):
        keep = tile_scores >= threshold
        if not keep.any():
            continue
        frame = tile_points[keep] * (side / DETECTOR_INPUT) + np.array([x, y])
        windows = 2 * np.hypot(*(frame[:, 1] - frame[:, 0]).T) * WINDOW_MARGIN
        found = np.column_stack([tile_scores[keep], frame[:, 0], windows])
        if largest is not None and side < max(height, width):  # a tile's, not the whole frame's
            found = found[windows <= largest * side]
        rows.append(found)
    if not rows:
        return np.zeros((0, 4))
    found = np.concatenate(rows)
    return _suppress(found[np.argsort(-found[:, 0], kind="stable")], reach)


def _suppress(windows: np.ndarray, reach: float) -> np.ndarray:
    """Greedy suppression, best first: a window whose centre lies within ``reach`` of a kept
    window's side, at a side within a factor 1.6, is the same person."""
    kept: list[np.ndarray] = []
    for window in windows:
        if not any(
            np.hypot(*(window[1:3] - k[1:3])) < reach * k[3] and 1 / 1.6 < window[3] / k[3] < 1.6
            for k in kept
        ):
            kept.append(window)
    return np.stack(kept)

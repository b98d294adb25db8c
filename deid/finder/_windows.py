"""Square model windows in a frame: cutting them out, mapping points and masks back."""

from __future__ import annotations

import cv2
import numpy as np

from deid.finder.model import INPUT_SIZE

#: MediaPipe's pose topology (33 keypoints): the limbs drawn for skeletons and mask gating.
POSE_CONNECTIONS: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 3), (3, 7), (0, 4), (4, 5), (5, 6), (6, 8), (9, 10),
    (11, 12), (11, 13), (13, 15), (15, 17), (15, 19), (15, 21), (17, 19),
    (12, 14), (14, 16), (16, 18), (16, 20), (16, 22), (18, 20),
    (11, 23), (12, 24), (23, 24), (23, 25), (24, 26), (25, 27), (26, 28),
    (27, 29), (28, 30), (29, 31), (30, 32), (27, 31), (28, 32),
)  # fmt: skip
#: MediaPipe scales the body extent given by its two alignment points by this for the window.
WINDOW_MARGIN = 1.25


def window_matrix(window: np.ndarray) -> np.ndarray:
    """The ``2x3`` affine map from frame pixels to the model input for ``window (cx, cy, side)``."""
    cx, cy, side = (float(v) for v in window)
    k = INPUT_SIZE / side
    half = INPUT_SIZE / 2
    return np.array([[k, 0.0, half - k * cx], [0.0, k, half - k * cy]], dtype=np.float64)


def cut_windows(rgb: np.ndarray, windows: np.ndarray, spans: np.ndarray | None = None) -> np.ndarray:
    """The ``(N, 256, 256, 3)`` uint8 model inputs for ``windows (N, 3)`` of ``rgb (H, W, 3)``.

    Outside the frame the input is black, as in MediaPipe's letterboxing; with ``spans (N, 2)``
    (frame columns ``x0, x1``) the window is also black left of ``x0`` and right of ``x1``, so
    that a neighbour beside the person does not draw the model to it."""
    out = np.zeros((len(windows), INPUT_SIZE, INPUT_SIZE, 3), dtype=np.uint8)
    for i, window in enumerate(windows):
        cv2.warpAffine(
            rgb,
            window_matrix(window),
            (INPUT_SIZE, INPUT_SIZE),
            dst=out[i],
            flags=cv2.INTER_AREA if window[2] > INPUT_SIZE else cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(0, 0, 0),
        )
        if spans is not None:
            k = INPUT_SIZE / float(window[2])
            u0 = int(np.clip(np.floor(k * (spans[i, 0] - window[0]) + INPUT_SIZE / 2), 0, INPUT_SIZE))
            u1 = int(np.clip(np.ceil(k * (spans[i, 1] - window[0]) + INPUT_SIZE / 2), 0, INPUT_SIZE))
            out[i, :, :u0] = 0
            out[i, :, u1:] = 0
    return out


def points_to_frame(points: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Window pixels ``(..., 2)`` to frame pixels for ``window (cx, cy, side)``."""
    cx, cy, side = (float(v) for v in window)
    k = INPUT_SIZE / side
    half = INPUT_SIZE / 2
    return np.stack([(points[..., 0] - half) / k + cx, (points[..., 1] - half) / k + cy], axis=-1)


def logits_to_frame(logits: np.ndarray, window: np.ndarray, height: int, width: int) -> np.ndarray:
    """The window's ``(256, 256)`` segmentation logits on the frame's ``(height, width)`` grid.

    Outside the window the logit is -100 (certainly not the person)."""
    return cv2.warpAffine(
        logits,
        window_matrix(window),
        (width, height),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=-100.0,
    )


def aligned_window(landmarks: np.ndarray, window: np.ndarray) -> np.ndarray:
    """The window MediaPipe would track next, from the alignment landmarks 33 (hip centre) and
    34 (half the body's extent away), in frame pixels: ``(cx, cy, side)``."""
    centre, extent = points_to_frame(landmarks[33:35, :2], window)
    radius = float(np.hypot(*(extent - centre)))
    return np.array([centre[0], centre[1], 2 * radius * WINDOW_MARGIN])


def skeleton_distance(keypoints: np.ndarray, height: int, width: int) -> np.ndarray:
    """Distance ``(height, width)`` from each pixel to the skeleton drawn from ``keypoints
    (33, 2)`` (limbs as lines, the torso filled), float32 pixels."""
    canvas = np.full((height, width), 255, dtype=np.uint8)
    pts = np.round(keypoints[:, :2] * 4).astype(np.int32)  # 2 fractional bits for cv2's shift
    for a, b in POSE_CONNECTIONS:
        cv2.line(canvas, tuple(pts[a]), tuple(pts[b]), 0, 1, cv2.LINE_8, 2)
    cv2.fillPoly(canvas, [pts[[11, 12, 24, 23]]], 0, cv2.LINE_8, 2)
    return cv2.distanceTransform(canvas, cv2.DIST_L2, 3)

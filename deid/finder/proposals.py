"""Person proposals: OpenCV's HOG people detector at a lowered threshold, at one or more sizes.

HOG's window is 64x128 pixels (a person about 96 high). The frame is searched at its own size
(every pyramid level) and, for the small people, enlarged over the first few levels only, which
costs far less than searching the whole enlarged pyramid. The threshold is lowered so that
nearly every person gets a proposal; the pose model then confirms or rejects them
(:mod:`deid.finder.pipeline`).
"""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np

#: HOG's detection window (width, height) in pixels.
HOG_WINDOW = (64, 128)


@cache
def _hog(levels: int) -> cv2.HOGDescriptor:
    # OpenCV's default people descriptor, with the pyramid limited to ``levels`` levels.
    hog = cv2.HOGDescriptor(HOG_WINDOW, (16, 16), (8, 8), (8, 8), 9, 1, -1, 0, 0.2, False, levels)
    hog.setSVMDetector(np.asarray(cv2.HOGDescriptor.getDefaultPeopleDetector(), dtype=np.float32))
    return hog


def hog_proposals(
    rgb: np.ndarray,
    *,
    hit_threshold: float = -0.8,
    scale: float = 1.1,
    win_stride: int = 8,
    upscale: float = 1.5,
    upscale_levels: int = 4,
    max_side: int = 1600,
    pad: float = 0.2,
) -> np.ndarray:
    """HOG boxes in ``rgb (H, W, 3)`` uint8, in the frame's pixels, best first (not suppressed).

    Args:
        rgb: the frame, uint8 RGB.
        hit_threshold: the SVM score a window needs (OpenCV's default is 0; lower finds more).
        scale: the image pyramid's step.
        win_stride: the sliding window's step in pixels.
        upscale: the frame is also searched enlarged this much (1 to skip) ...
        upscale_levels: ... over this many pyramid levels (people up to about
            ``96 * scale ** (upscale_levels - 1) / upscale`` pixels high).
        max_side: frames with a longer side are searched reduced to it (and not enlarged).
        pad: the frame is padded (edge pixels repeated) by this fraction of its height above and
            below and of its width left and right, so that HOG's window, which holds a person
            with a margin, fits people as tall as the frame or cut off by its edge.

    Returns:
        ``(N, 5)`` float64 rows ``x, y, w, h, score``.
    """
    height, width = rgb.shape[:2]
    top, side = round(pad * height), round(pad * width)
    bgr = cv2.copyMakeBorder(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), top, top, side, side, cv2.BORDER_REPLICATE)
    height, width = bgr.shape[:2]
    base = min(1.0, max_side / max(height, width, 1))
    passes = [(base, 64)]
    if upscale > 1 and base == 1.0 and upscale * max(height, width) <= max_side:
        passes.append((upscale, upscale_levels))
    rows = []
    for factor, levels in passes:
        searched = bgr
        if factor != 1.0:
            size = (max(1, round(width * factor)), max(1, round(height * factor)))
            searched = cv2.resize(bgr, size, interpolation=cv2.INTER_LINEAR if factor > 1 else cv2.INTER_AREA)
        if searched.shape[0] < HOG_WINDOW[1] or searched.shape[1] < HOG_WINDOW[0]:
            continue
        rects, weights = _hog(levels).detectMultiScale(
            searched,
            hitThreshold=hit_threshold,
            winStride=(win_stride, win_stride),
            padding=(8, 8),
            scale=scale,
        )
        found = np.asarray(rects, dtype=np.float64).reshape(-1, 4) / factor
        scores = np.asarray(weights, dtype=np.float64).reshape(-1, 1)
        rows.append(np.concatenate([found, scores], axis=1))
    if not rows:
        return np.zeros((0, 5))
    out = np.concatenate(rows)
    out[:, 0] -= side
    out[:, 1] -= top
    return out[np.argsort(-out[:, 4], kind="stable")]

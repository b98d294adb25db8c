"""Body parts from a pose: head, torso, arms, legs and feet from 33 keypoints and a silhouette.

Where a pose is known (``deid.finder`` gives MediaPipe's 33 keypoints and a silhouette for frames
and crops), body parts follow the body instead of fixed horizontal bands
(:func:`attribution.regions.body_regions`): each silhouette pixel goes to the part whose
skeleton (limb segments, the torso as a filled quadrilateral) is nearest.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

#: Body parts and the keypoint pairs (MediaPipe's pose topology) that draw their skeleton.
POSE_PARTS: dict[str, tuple[tuple[int, int], ...]] = {
    "head": ((0, 1), (1, 2), (2, 3), (3, 7), (0, 4), (4, 5), (5, 6), (6, 8), (9, 10), (7, 8)),
    "torso": ((11, 12), (11, 23), (12, 24), (23, 24)),
    "arms": (
        (11, 13), (13, 15), (15, 17), (15, 19), (15, 21), (17, 19),
        (12, 14), (14, 16), (16, 18), (16, 20), (16, 22), (18, 20),
    ),
    "legs": ((23, 25), (25, 27), (24, 26), (26, 28)),
    "feet": ((27, 29), (29, 31), (27, 31), (28, 30), (30, 32), (28, 32)),
}  # fmt: skip


#: A horizontal band of :data:`attribution.regions.BODY_BANDS` -> the pose part that shows the same
#: clothes: an attribute of the upper body lives in the ``torso`` where regions follow the pose.
BAND_PARTS: dict[str, str] = {"head": "head", "upper_body": "torso", "lower_body": "legs", "feet": "feet"}


def pose_regions(keypoints: torch.Tensor, silhouette: torch.Tensor) -> dict[str, torch.Tensor]:
    """Body parts of one person: name -> ``(H, W)`` bool, a partition of ``silhouette``.

    Args:
        keypoints: ``(33, 2)`` or ``(33, 3)`` ``x, y[, visibility]`` in pixels of the silhouette,
            MediaPipe's order (points outside the image are fine: a body cut off by the edge).
        silhouette: ``(H, W)`` bool, the person's pixels.

    Returns:
        ``head``, ``torso``, ``arms``, ``legs``, ``feet`` (top to bottom as listed): every
        silhouette pixel in exactly one part, the nearest part's skeleton.

    Example:
        >>> parts = pose_regions(keypoints, silhouette)  # doctest: +SKIP
        >>> list(parts)  # doctest: +SKIP
        ['head', 'torso', 'arms', 'legs', 'feet']
    """
    if not isinstance(keypoints, torch.Tensor) or keypoints.ndim != 2 or keypoints.shape[0] != 33:
        got = tuple(keypoints.shape) if isinstance(keypoints, torch.Tensor) else type(keypoints).__name__
        raise ValueError(f"keypoints must have shape (33, 2) or (33, 3), got {got}")
    if keypoints.shape[1] not in (2, 3):
        raise ValueError(f"keypoints must have shape (33, 2) or (33, 3), got {tuple(keypoints.shape)}")
    if not isinstance(silhouette, torch.Tensor) or silhouette.ndim != 2 or silhouette.dtype != torch.bool:
        kind = (
            f"{silhouette.dtype} {tuple(silhouette.shape)}"
            if isinstance(silhouette, torch.Tensor)
            else type(silhouette).__name__
        )
        raise ValueError(f"silhouette must be a bool tensor of shape (H, W), got {kind}")
    points = keypoints[:, :2].detach().cpu().double().numpy()
    if not np.isfinite(points).all():
        raise ValueError("keypoints must be finite, got NaN or infinite coordinates")
    height, width = silhouette.shape
    pts = np.round(np.clip(points, -4 * max(height, width), 5 * max(height, width)) * 4).astype(np.int32)
    distances = np.empty((len(POSE_PARTS), height, width), dtype=np.float32)
    for k, (name, pairs) in enumerate(POSE_PARTS.items()):
        canvas = np.full((height, width), 255, dtype=np.uint8)
        for a, b in pairs:
            cv2.line(
                canvas,
                (int(pts[a, 0]), int(pts[a, 1])),
                (int(pts[b, 0]), int(pts[b, 1])),
                0,
                1,
                cv2.LINE_8,
                2,
            )
        if name == "torso":
            cv2.fillPoly(canvas, [pts[[11, 12, 24, 23]]], 0, cv2.LINE_8, 2)
        if name == "head":
            radius = max(1, round(float(np.hypot(*(points[7] - points[8]))) / 2))
            cv2.circle(canvas, (int(pts[0, 0]), int(pts[0, 1])), radius * 4, 0, -1, cv2.LINE_8, 2)
        distances[k] = cv2.distanceTransform(canvas, cv2.DIST_L2, 3) if (canvas == 0).any() else np.inf
    nearest = torch.from_numpy(distances.argmin(axis=0))
    return {name: silhouette & (nearest == k) for k, name in enumerate(POSE_PARTS)}

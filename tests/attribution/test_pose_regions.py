"""Body parts from keypoints and a silhouette."""

from __future__ import annotations

import pytest
import torch

from attribution import POSE_PARTS, pose_regions


def _stick_figure() -> torch.Tensor:
    """33 keypoints (x, y) of an upright person in a 60x160 image, MediaPipe's order."""
    points = {
        0: (30, 14), 1: (31, 12), 2: (32, 12), 3: (33, 12), 4: (29, 12), 5: (28, 12), 6: (27, 12),
        7: (35, 14), 8: (25, 14), 9: (31, 18), 10: (29, 18),
        11: (40, 30), 12: (20, 30), 13: (44, 55), 14: (16, 55), 15: (46, 78), 16: (14, 78),
        17: (47, 82), 18: (13, 82), 19: (46, 83), 20: (14, 83), 21: (45, 81), 22: (15, 81),
        23: (36, 80), 24: (24, 80), 25: (37, 112), 26: (23, 112), 27: (37, 145), 28: (23, 145),
        29: (36, 150), 30: (24, 150), 31: (41, 152), 32: (19, 152),
    }  # fmt: skip
    return torch.tensor([points[i] for i in range(33)], dtype=torch.float32)


def test_parts_partition_the_silhouette_and_follow_the_body():
    keypoints = _stick_figure()
    silhouette = torch.zeros(160, 60, dtype=torch.bool)
    silhouette[5:155, 8:52] = True
    parts = pose_regions(keypoints, silhouette)
    assert list(parts) == list(POSE_PARTS) == ["head", "torso", "arms", "legs", "feet"]
    stacked = torch.stack(list(parts.values())).int()
    assert torch.equal(stacked.sum(0).bool(), silhouette) and int(stacked.sum(0).max()) == 1
    assert parts["head"][14, 30] and parts["torso"][55, 30] and parts["arms"][55, 45]
    assert parts["legs"][112, 37] and parts["feet"][151, 38]
    rows = {name: torch.nonzero(mask)[:, 0].float().mean() for name, mask in parts.items()}
    assert rows["head"] < rows["torso"] < rows["legs"] < rows["feet"]


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match=r"keypoints must have shape \(33, 2\) or \(33, 3\), got \(17, 2\)"):
        pose_regions(torch.zeros(17, 2), torch.ones(10, 10, dtype=torch.bool))
    with pytest.raises(
        ValueError, match=r"silhouette must be a bool tensor of shape \(H, W\), got torch.float32"
    ):
        pose_regions(torch.zeros(33, 3), torch.ones(10, 10))
    with pytest.raises(ValueError, match="finite"):
        pose_regions(torch.full((33, 2), float("nan")), torch.ones(10, 10, dtype=torch.bool))

"""A body's region: the silhouette widened by the margin on every side."""

from __future__ import annotations

import pytest
import torch

from deid.loop.bodies import Body


@pytest.mark.parametrize(
    ("height", "width", "margin"), [(128, 48, 0.05), (128, 48, 0.2), (37, 90, 0.3), (9, 5, 0.0)]
)
def test_region_is_the_silhouette_widened_by_a_square_of_the_margin(
    height: int, width: int, margin: float
) -> None:
    silhouette = torch.rand(height, width, generator=torch.Generator().manual_seed(height)) > 0.97
    region = Body(silhouette, None).region(margin)
    radius = round(margin * width)
    ys, xs = torch.nonzero(silhouette, as_tuple=True)
    expected = torch.zeros(height, width)
    for y, x in zip(ys.tolist(), xs.tolist(), strict=True):
        expected[max(0, y - radius) : y + radius + 1, max(0, x - radius) : x + radius + 1] = 1.0
    assert region.shape == (1, height, width)
    assert torch.equal(region[0], expected)

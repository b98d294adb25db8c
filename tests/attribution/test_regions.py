"""Regions: partitions, body bands, superpixels, and region sums against a brute-force loop."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from attribution import (
    BODY_BANDS,
    body_regions,
    grid_regions,
    region_labels,
    region_scores,
    stack_regions,
    superpixel_regions,
)


def _is_partition(regions: torch.Tensor) -> bool:
    return bool((regions.sum(dim=0) == 1).all())


@given(
    height=st.integers(1, 64),
    width=st.integers(1, 32),
    rows=st.integers(1, 8),
    cols=st.integers(1, 4),
)
@settings(max_examples=40, deadline=None)
def test_grid_is_a_partition_of_near_equal_cells(height, width, rows, cols):
    rows, cols = min(rows, height), min(cols, width)
    grid = grid_regions(height, width, rows=rows, cols=cols)
    assert grid.shape == (rows * cols, height, width) and grid.dtype == torch.bool
    assert _is_partition(grid)
    heights, widths = grid.any(dim=2).sum(dim=1), grid.any(dim=1).sum(dim=1)
    assert int(heights.max() - heights.min()) <= 1 and int(widths.max() - widths.min()) <= 1


def test_grid_cells_are_numbered_row_by_row():
    grid = grid_regions(4, 2, rows=2, cols=2)
    assert grid[0, 0, 0] and grid[1, 0, 1] and grid[2, 3, 0] and grid[3, 3, 1]


def test_body_regions_partition_the_crop_top_to_bottom():
    parts = body_regions(128, 48)
    assert list(parts) == list(BODY_BANDS) == ["head", "upper_body", "lower_body", "feet"]
    assert _is_partition(stack_regions(parts))
    first_rows = [int(m.any(dim=1).nonzero()[0]) for m in parts.values()]
    assert first_rows == sorted(first_rows) and first_rows[0] == 0
    assert int(parts["head"].sum()) == 20 * 48


def test_body_regions_scale_with_resolution():
    small, large = body_regions(128, 48), body_regions(256, 96)
    for name in small:
        assert abs(small[name].float().mean() - large[name].float().mean()) < 0.01


def test_superpixels_partition_the_image():
    generator = torch.Generator().manual_seed(0)
    blocks = torch.rand(3, 8, 2, generator=generator)  # a piecewise-constant person-like picture
    image = blocks.repeat_interleave(16, dim=1).repeat_interleave(24, dim=2)
    image = (image + 0.02 * torch.rand(3, 128, 48, generator=generator)).clamp(0, 1)
    regions = superpixel_regions(image, n_segments=24)
    assert regions.shape[1:] == (128, 48) and regions.dtype == torch.bool
    assert _is_partition(regions) and 4 <= len(regions) <= 60


@given(seed=st.integers(0, 1000), count=st.integers(1, 6))
@settings(max_examples=25, deadline=None)
def test_region_scores_match_a_brute_force_loop(seed, count):
    generator = torch.Generator().manual_seed(seed)
    attributions = torch.randn(3, 1, 12, 7, generator=generator, dtype=torch.float64)
    regions = torch.rand(count, 12, 7, generator=generator) > 0.5  # may overlap
    expected = torch.zeros(3, count, dtype=torch.float64)
    for b in range(3):
        for r in range(count):
            for y in range(12):
                for x in range(7):
                    if regions[r, y, x]:
                        expected[b, r] += attributions[b, 0, y, x]
    got = region_scores(attributions, regions)
    assert got.dtype == torch.float64
    assert torch.allclose(got, expected)


def test_region_scores_accepts_a_dict_in_order():
    attributions = torch.rand(2, 1, 128, 48)
    parts = body_regions(128, 48)
    scores = region_scores(attributions, parts)
    assert torch.allclose(scores[:, 0], attributions[:, 0, :20].sum(dim=(1, 2)))
    assert torch.allclose(scores.sum(dim=1), attributions.sum(dim=(1, 2, 3)), rtol=1e-4)


def test_region_labels_of_a_partition_and_of_gaps():
    grid = grid_regions(8, 4, rows=2, cols=2)
    labels = region_labels(grid)
    assert labels.shape == (8, 4) and set(labels.unique().tolist()) == {0, 1, 2, 3}
    assert int(region_labels(grid[:3])[7, 3]) == 3  # not covered: the extra label


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: grid_regions(128, 48, rows=0), r"rows and cols must be in \[1, 128\]"),
        (lambda: grid_regions(0, 48), "height and width must be >= 1"),
        (lambda: body_regions(128, 48, bands={"head": (0.5, 0.2)}), "band 'head' must satisfy"),
        (
            lambda: superpixel_regions(torch.rand(1, 3, 8, 8)),
            r"image must be a tensor of shape \(3, H, W\)",
        ),
        (
            lambda: region_scores(torch.rand(2, 3, 8, 8), grid_regions(8, 8)),
            r"attributions must have shape \(B, 1, H, W\)",
        ),
        (
            lambda: region_scores(torch.rand(2, 1, 8, 8), grid_regions(8, 4)),
            r"regions must be \(R, 8, 8\) or \(R, 2, 8, 8\)",
        ),
        (lambda: region_labels(torch.ones(2, 4, 4, dtype=torch.bool)), "must not overlap"),
        (lambda: stack_regions({}), "at least one region"),
    ],
)
def test_bad_inputs_raise_clearly(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_region_scores_take_each_images_own_regions():
    generator = torch.Generator().manual_seed(1)
    attributions = torch.randn(3, 1, 12, 7, generator=generator, dtype=torch.float64)
    per_image = torch.rand(2, 3, 12, 7, generator=generator) > 0.5  # (R, B, H, W)
    got = region_scores(attributions, {"a": per_image[0], "b": per_image[1]})
    for b in range(3):  # image b scored with its own masks only
        assert torch.allclose(got[b], region_scores(attributions[b : b + 1], per_image[:, b]))
    with pytest.raises(ValueError, match=r"regions must be \(R, 12, 7\) or \(R, 3, 12, 7\)"):
        region_scores(attributions, per_image[:, :2])
    with pytest.raises(ValueError, match="regions must all have one shape"):
        stack_regions({"a": per_image[0], "b": per_image[1, 0]})

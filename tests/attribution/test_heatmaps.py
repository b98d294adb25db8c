"""Heatmaps: overlay values, side-by-side layout, PNG files at the user's resolution."""

from __future__ import annotations

import pytest
import torch

from attribution import overlay, pair_heatmap, save_heatmap, save_pair_heatmap, side_by_side
from reid_model import read_image


def test_overlay_keeps_shape_and_range_and_leaves_zero_untouched():
    image = torch.rand(3, 64, 24)
    attribution = torch.zeros(1, 64, 24)
    attribution[:, :8] = 1.0
    attribution[:, 8:16] = -1.0
    out = overlay(image, attribution)
    assert out.shape == image.shape and out.min() >= 0 and out.max() <= 1
    assert torch.allclose(out[:, 16:], image[:, 16:])
    assert out[0, :8].mean() > out[2, :8].mean()  # positive shows red
    assert out[2, 8:16].mean() > out[0, 8:16].mean()  # negative shows blue


def test_overlay_accepts_a_2d_map_and_positive_mode():
    image = torch.rand(3, 32, 16)
    out = overlay(image, -torch.ones(32, 16), signed=False)
    assert torch.allclose(out, image)  # only the positive part is shown


def test_side_by_side_pads_to_the_tallest():
    strip = side_by_side(torch.zeros(3, 128, 48), torch.zeros(3, 64, 24), gap=2)
    assert strip.shape == (3, 128, 74)
    assert strip[:, 100, 60].eq(1).all()  # white padding under the smaller image


def test_pair_heatmap_of_images_of_different_sizes():
    out = pair_heatmap(
        torch.rand(3, 256, 96),
        torch.randn(1, 256, 96),
        torch.rand(3, 128, 48),
        torch.randn(1, 128, 48),
    )
    assert out.shape == (3, 256, 96 * 2 + 48 * 2 + 3 * 4)


def test_save_heatmap_writes_a_png_at_the_image_resolution(tmp_path):
    path = tmp_path / "sub" / "probe.png"
    save_heatmap(path, torch.rand(3, 200, 80), torch.randn(1, 200, 80))
    assert read_image(path).shape == (3, 200, 80)
    assert not list(path.parent.glob(".*tmp"))  # atomic: no temporary file left
    save_pair_heatmap(
        tmp_path / "pair.png",
        torch.rand(3, 128, 48),
        torch.randn(1, 128, 48),
        torch.rand(3, 128, 48),
        torch.randn(1, 128, 48),
    )
    assert read_image(tmp_path / "pair.png").shape == (3, 128, 204)


def test_a_captioned_pair_names_each_panel_above_it_and_holds_the_caption_below(tmp_path):
    probe, gallery = torch.rand(3, 128, 48), torch.rand(3, 96, 40)  # panels of two widths
    attribution = torch.zeros(1, 128, 48)
    save_pair_heatmap(
        tmp_path / "pair.png", probe, attribution, gallery, torch.zeros(1, 96, 40), caption=["distance 0.5"]
    )
    image = read_image(tmp_path / "pair.png")
    assert image.shape == (3, 17 + 2 * 128 + 17, 2 * (48 + 48 + 40 + 40 + 3 * 4))
    top, bottom = image[:, :17], image[:, 17 + 256 :]
    for left in (0, 52, 104, 148):  # each panel's name starts at its left edge, twice enlarged
        assert bool((top[:, :, 2 * left : 2 * left + 30] < 0.5).any())
    assert bool((bottom < 0.5).any())  # the caption
    assert torch.allclose(image[:, 17 : 17 + 256 : 2, 0:96:2], probe, atol=1 / 255)  # enlarged, not blurred


@pytest.mark.parametrize(
    ("image", "attribution", "message"),
    [
        (torch.rand(1, 3, 8, 8), torch.rand(1, 8, 8), r"image must have shape \(3, H, W\)"),
        (torch.rand(3, 8, 8), torch.rand(1, 8, 4), r"attribution must have shape \(1, 8, 8\)"),
        (torch.rand(3, 8, 8), torch.rand(3, 8, 8), r"attribution must have shape \(1, 8, 8\)"),
    ],
)
def test_mismatched_shapes_raise(image, attribution, message):
    with pytest.raises(ValueError, match=message):
        overlay(image, attribution)


def test_smoothing_spreads_a_single_pixel():
    image = torch.full((3, 64, 24), 0.5)
    attribution = torch.zeros(1, 64, 24)
    attribution[0, 32, 12] = 1.0
    raw = overlay(image, attribution, percentile=100)
    smooth = overlay(image, attribution, percentile=100, smooth=0.05)
    changed = lambda out: int((out - image).abs().sum(dim=0).gt(1e-3).sum())  # noqa: E731
    assert changed(raw) == 1 and changed(smooth) > 9

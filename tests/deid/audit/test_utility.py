"""Utility metrics against scikit-image and brute-force references; the HOG person check."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from deid.audit import area_concealed, person_detected, psnr, ssim
from deid.audit.utility import person_scores
from reid_model import load_images, load_viper, seed_split, select


def _pair(shape=(3, 3, 40, 20), seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    reference = torch.rand(shape, generator=g, dtype=dtype)
    images = (reference + 0.1 * torch.randn(shape, generator=g, dtype=dtype)).clamp(0, 1)
    return images, reference


@pytest.mark.parametrize("shape", [(2, 3, 40, 20), (1, 3, 7, 7), (3, 3, 128, 48)])
@pytest.mark.parametrize("win_size", [3, 7])
def test_ssim_matches_scikit_image(shape, win_size):
    images, reference = _pair(shape)
    ours = ssim(images, reference, win_size=win_size)
    ref = [
        structural_similarity(r.numpy(), i.numpy(), channel_axis=0, data_range=1.0, win_size=win_size)
        for i, r in zip(images, reference, strict=True)
    ]
    np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-10)


def test_masked_ssim_averages_scikit_images_map_over_untouched_pixels():
    images, reference = _pair((2, 3, 40, 20))
    mask = torch.zeros(2, 1, 40, 20)
    mask[0, :, :15] = 1
    mask[1, :, :, 10:] = 0.5
    ours = ssim(images, reference, mask=mask)
    for b in range(2):
        _, full = structural_similarity(
            reference[b].numpy(), images[b].numpy(), channel_axis=0, data_range=1.0, full=True
        )
        weights = (1 - mask[b, 0].double().numpy())[3:-3, 3:-3]
        expected = (full.mean(0)[3:-3, 3:-3] * weights).sum() / weights.sum()
        assert float(ours[b]) == pytest.approx(expected, rel=1e-10)


def test_ssim_of_identical_images_and_of_a_fully_concealed_crop():
    images = torch.rand(2, 3, 32, 16)
    assert torch.allclose(ssim(images, images), torch.ones(2))
    assert ssim(images, images, mask=torch.ones(1, 1, 32, 16)).isnan().all()
    assert ssim(images, images).dtype == torch.float32


def test_psnr_matches_scikit_image_and_masked_brute_force():
    images, reference = _pair((3, 3, 24, 12), seed=1)
    ours = psnr(images, reference)
    ref = [
        peak_signal_noise_ratio(r.numpy(), i.numpy(), data_range=1.0)
        for i, r in zip(images, reference, strict=True)
    ]
    np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-10)
    mask = (torch.rand(3, 1, 24, 12, generator=torch.Generator().manual_seed(3)) > 0.5).double()
    masked = psnr(images, reference, mask=mask)
    for b in range(3):
        keep = mask[b, 0] == 0
        mse = float(((images[b] - reference[b]) ** 2)[:, keep].mean())
        assert float(masked[b]) == pytest.approx(10 * np.log10(1 / mse), rel=1e-10)
    assert psnr(reference, reference).isinf().all()


def test_area_concealed():
    mask = torch.zeros(3, 1, 10, 4)
    mask[0] = 1
    mask[1, :, :5] = 1
    mask[2, :, :, :1] = 0.5
    assert area_concealed(mask).tolist() == pytest.approx([1.0, 0.5, 0.125])
    with pytest.raises(ValueError, match=r"mask must have shape \(B, 1, H, W\), got \(10, 4\)"):
        area_concealed(torch.zeros(10, 4))


def test_bad_inputs_raise_with_the_argument_named():
    with pytest.raises(ValueError, match="images and reference must have the same shape"):
        ssim(torch.rand(1, 3, 16, 8), torch.rand(2, 3, 16, 8))
    with pytest.raises(ValueError, match=r"reference must have shape \(B, 3, H, W\)"):
        psnr(torch.rand(1, 3, 16, 8), torch.rand(3, 16, 8))
    with pytest.raises(ValueError, match="win_size must be odd"):
        ssim(torch.rand(1, 3, 16, 8), torch.rand(1, 3, 16, 8), win_size=4)
    with pytest.raises(ValueError, match=r"mask must have shape"):
        psnr(torch.rand(1, 3, 16, 8), torch.rand(1, 3, 16, 8), mask=torch.zeros(1, 1, 8, 8))


def test_person_detector_shapes_and_an_empty_crop():
    scores = person_scores(torch.rand(3, 3, 128, 48))
    assert scores.shape == (3,) and scores.dtype == torch.float32
    assert person_detected(torch.zeros(2, 3, 128, 48)).tolist() == [False, False]
    assert person_detected(torch.full((1, 3, 256, 64), 0.5)).tolist() == [False]


@pytest.mark.viper
def test_person_detector_finds_most_viper_test_crops_and_few_upside_down(viper_root):
    test = select(load_viper(viper_root), seed_split(range(632), seed=0).test)
    images = load_images([s.path for s in test])
    # Measured: 75.6% of the 254 original test crops, 1.2% of them upside down.
    assert float(person_detected(images).float().mean()) > 0.6
    assert float(person_detected(images.flip(2)).float().mean()) < 0.1

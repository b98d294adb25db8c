"""Operators: invariants over shape, dtype and operator; reference values; gradcheck; bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from deid.operators import (
    OPERATORS,
    Blur,
    ColorShift,
    Compose,
    Fill,
    Inpaint,
    Noise,
    OutfitFill,
    Pixelate,
    blur,
    build_operator,
    color_shift,
    fill,
    inpaint,
    noise,
    pixelate,
)

NAMES = sorted(OPERATORS)
SHAPES = [(1, 3, 128, 48), (2, 3, 33, 17), (3, 3, 8, 5)]


def _images(shape, dtype=torch.float32, seed=0):
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(dtype)


def _box_mask(shape, dtype=torch.float32):
    b, _, h, w = shape
    mask = torch.zeros(b, 1, h, w, dtype=dtype)
    mask[..., h // 4 : 3 * h // 4 + 1, w // 4 : 3 * w // 4 + 1] = 1
    return mask


# ----------------------------------------------------------------------------- invariants


@pytest.mark.parametrize(
    ("name", "shape", "dtype"),
    list(itertools.product(NAMES, SHAPES, [torch.float32, torch.float64])),
)
def test_shape_dtype_range_and_untouched_outside_mask(name, shape, dtype):
    images, mask = _images(shape, dtype), _box_mask(shape, dtype)
    out = build_operator(name, 0.7)(images, mask)
    assert out.shape == images.shape and out.dtype == dtype and out.device == images.device
    assert out.min() >= 0 and out.max() <= 1
    outside = (mask == 0).expand_as(images)
    assert torch.equal(out[outside], images[outside])
    assert not torch.equal(out[~outside], images[~outside])


@pytest.mark.parametrize("name", NAMES)
def test_zero_mask_is_identity_and_full_mask_changes(name):
    images = _images((2, 3, 64, 32))
    op = build_operator(name, 1.0)
    assert torch.equal(op(images, torch.zeros(1, 1, 64, 32)), images)
    assert not torch.allclose(op(images, torch.ones(1, 1, 64, 32)), images, atol=1e-3)


@pytest.mark.parametrize("name", NAMES)
def test_broadcast_mask_bool_mask_and_inputs_untouched(name):
    images = _images((3, 3, 40, 20))
    before = images.clone()
    mask = _box_mask((1, 3, 40, 20))
    op = build_operator(name, 0.5)
    out = op(images, mask)
    assert torch.equal(out, op(images, mask.expand(3, -1, -1, -1)))
    assert torch.equal(out, op(images, mask.bool()))
    assert torch.equal(images, before)


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from([*NAMES, "blur+color_shift", "pixelate+noise"]),
    batch=st.integers(1, 3),
    height=st.integers(1, 40),
    width=st.integers(1, 40),
    strength=st.floats(0.01, 1.0),
    double=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_invariants_hypothesis(name, batch, height, width, strength, double, seed):
    dtype = torch.float64 if double else torch.float32
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(batch, 3, height, width, generator=g).to(dtype)
    mask = torch.rand(batch, 1, height, width, generator=g).to(dtype)
    mask[mask < 0.3] = 0
    out = build_operator(name, strength)(images, mask)
    assert out.shape == images.shape and out.dtype == dtype
    assert bool(torch.isfinite(out).all()) and out.min() >= 0 and out.max() <= 1
    keep = (mask == 0).expand_as(images)
    assert torch.equal(out[keep], images[keep])


# ----------------------------------------------------------------------------- reference values


@pytest.mark.parametrize("sigma", [0.5, 2.0, 30.0])
def test_blur_of_a_constant_is_the_constant(sigma):
    images = torch.full((1, 3, 20, 9), 0.3, dtype=torch.float64)
    out = blur(images, torch.ones(1, 1, 20, 9, dtype=torch.float64), sigma=sigma)
    assert torch.allclose(out, images, atol=1e-12)


def test_blur_matches_a_brute_force_convolution():
    images = _images((1, 3, 9, 7), torch.float64)
    sigma = 1.0
    radius = 3
    x = np.arange(-radius, radius + 1)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    k /= k.sum()
    src = images[0].numpy()
    ref = np.zeros_like(src)
    h, w = src.shape[1:]
    for c, i, j in itertools.product(range(3), range(h), range(w)):
        for di, dj in itertools.product(range(-radius, radius + 1), repeat=2):
            ii, jj = min(max(i + di, 0), h - 1), min(max(j + dj, 0), w - 1)
            ref[c, i, j] += k[di + radius] * k[dj + radius] * src[c, ii, jj]
    out = blur(images, torch.ones(1, 1, h, w, dtype=torch.float64), sigma=sigma)
    assert np.allclose(out[0].numpy(), ref, atol=1e-12)


@pytest.mark.parametrize(("height", "width", "block"), [(8, 8, 4), (10, 7, 3), (5, 5, 8)])
def test_pixelate_matches_block_means(height, width, block):
    images = _images((2, 3, height, width), torch.float64)
    out = pixelate(images, torch.ones(1, 1, height, width, dtype=torch.float64), block=block)
    for b, c, i, j in itertools.product(range(2), range(3), range(height), range(width)):
        i0, j0 = (i // block) * block, (j // block) * block
        cell = images[b, c, i0 : i0 + block, j0 : j0 + block]
        assert abs(float(out[b, c, i, j]) - float(cell.mean())) < 1e-12


def test_fill_colours():
    images = _images((2, 3, 6, 4))
    ones = torch.ones(1, 1, 6, 4)
    assert torch.equal(fill(images, ones), torch.full_like(images, 0.5))
    rgb = fill(images, ones, color=(1.0, 0.0, 0.25))
    assert torch.equal(rgb[:, 0], torch.ones(2, 6, 4)) and torch.equal(rgb[:, 2], torch.full((2, 6, 4), 0.25))
    mean = fill(images, ones, color="mean")
    assert torch.allclose(mean, images.mean(dim=(2, 3), keepdim=True).expand_as(images))
    half = fill(images, ones, color=0.0, opacity=0.5)
    assert torch.allclose(half, images * 0.5)


def test_color_shift_reference_values():
    images = _images((2, 3, 16, 8), torch.float64) * 0.8 + 0.1
    ones = torch.ones(1, 1, 16, 8, dtype=torch.float64)
    grey = color_shift(images, ones, saturation=0.0)
    luma = 0.299 * images[:, 0] + 0.587 * images[:, 1] + 0.114 * images[:, 2]
    for c in range(3):
        assert torch.allclose(grey[:, c], luma, atol=1e-12)
    assert torch.allclose(color_shift(images, ones, hue=360.0, saturation=1.0), images, atol=1e-12)
    assert torch.allclose(color_shift(images, ones, hue=0.0, saturation=1.0), images, atol=1e-12)
    # A small hue rotation about the grey axis keeps each pixel's mean of R, G and B.
    turned = color_shift(images * 0.2 + 0.4, ones, hue=30.0, saturation=1.0)
    assert torch.allclose(turned.mean(1), (images * 0.2 + 0.4).mean(1), atol=1e-12)


def test_noise_is_seeded():
    images, ones = _images((1, 3, 16, 8)), torch.ones(1, 1, 16, 8)
    a = noise(images, ones, std=0.2, generator=torch.Generator().manual_seed(1))
    b = noise(images, ones, std=0.2, generator=torch.Generator().manual_seed(1))
    c = noise(images, ones, std=0.2, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(Noise(std=0.2, seed=3)(images, ones), Noise(std=0.2, seed=3)(images, ones))


@pytest.mark.parametrize("method", ["telea", "ns"])
def test_inpaint_restores_a_smooth_image_and_keeps_float_precision(method):
    yy, xx = torch.meshgrid(torch.linspace(0.2, 0.6, 40), torch.linspace(0.3, 0.5, 20), indexing="ij")
    images = torch.stack([yy, xx, (yy + xx) / 2])[None].double()
    mask = _box_mask((1, 3, 40, 20), torch.float64)
    out = inpaint(images, mask, radius=3, method=method)
    assert out.dtype == torch.float64
    assert (out - images).abs().max() < 0.06
    # Float in, float out: no rounding to 1/255 steps outside or inside the mask.
    assert not torch.allclose(out * 255, (out * 255).round(), atol=1e-3)


def test_compose_chains_the_effects_once():
    images, mask = _images((2, 3, 32, 16)), _box_mask((2, 3, 32, 16))
    op = Compose(Blur(sigma=2.0), ColorShift(saturation=0.0))
    ones = torch.ones(1, 1, 32, 16)
    chained = ColorShift(saturation=0.0)(Blur(sigma=2.0)(images, ones), ones)
    expected = torch.where(mask.bool().expand_as(images), chained, images)
    assert torch.allclose(op(images, mask), expected, atol=1e-6)
    assert build_operator("blur+color_shift") == Compose(
        build_operator("blur"), build_operator("color_shift")
    )


def test_compose_narrows_each_operator_to_the_batch_people():
    outfits = OutfitFill(
        torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]), torch.tensor([[0.0, 1.0, 0.0]] * 2)
    )
    op = Compose(outfits, Noise(std=0.1, seed=1)).for_people(torch.tensor([1, 1, 0]))
    dressed = op(torch.zeros(3, 3, 32, 16), torch.ones(3, 1, 32, 16))
    top = dressed[:, :, :16].mean((2, 3))  # the top's colour, noise averaged out
    assert top.argmax(1).tolist() == [2, 2, 0]


def test_relative_sizes_mean_the_same_at_any_crop_size():
    small = _images((1, 3, 128, 48))
    large = F.interpolate(small, scale_factor=2, mode="nearest")
    for name in ("blur", "pixelate"):
        op = build_operator(name, 0.6)
        out_small = op(small, torch.ones(1, 1, 128, 48))
        out_large = op(large, torch.ones(1, 1, 256, 96))
        back = F.avg_pool2d(out_large, 2)
        assert (back - out_small).abs().mean() < 0.01, name


def test_strength_orders_the_effect():
    images = _images((1, 3, 128, 48))
    ones = torch.ones(1, 1, 128, 48)
    for name in ("blur", "pixelate", "fill", "noise", "color_shift"):
        weak = (build_operator(name, 0.2)(images, ones) - images).abs().mean()
        strong = (build_operator(name, 1.0)(images, ones) - images).abs().mean()
        assert strong > weak, name


# ----------------------------------------------------------------------------- gradients


@pytest.mark.parametrize(
    "op",
    [
        lambda x, m: blur(x, m, sigma=1.0),
        lambda x, m: pixelate(x, m, block=2),
        lambda x, m: fill(x, m, color=0.3, opacity=0.8),
        lambda x, m: color_shift(x, m, hue=20.0, saturation=0.5),
    ],
    ids=["blur", "pixelate", "fill", "color_shift"],
)
def test_gradcheck(op):
    g = torch.Generator().manual_seed(0)
    images = (torch.rand(1, 3, 5, 4, generator=g, dtype=torch.float64) * 0.4 + 0.3).requires_grad_()
    mask = torch.rand(1, 1, 5, 4, generator=g, dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(op, (images, mask))


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("images", "mask", "message"),
    [
        (
            torch.rand(3, 8, 4),
            torch.ones(1, 1, 8, 4),
            r"images must have shape \(B, 3, H, W\), got \(3, 8, 4\)",
        ),
        (torch.rand(1, 4, 8, 4), torch.ones(1, 1, 8, 4), "images must have shape"),
        (torch.zeros(1, 3, 8, 4, dtype=torch.uint8), torch.ones(1, 1, 8, 4), "floating-point"),
        ("image", torch.ones(1, 1, 8, 4), "torch.Tensor"),
        (torch.rand(1, 3, 8, 4), torch.ones(1, 1, 8, 5), r"mask must have shape \(1, 1, 8, 4\)"),
        (torch.rand(2, 3, 8, 4), torch.ones(3, 1, 8, 4), "mask must have shape"),
        (torch.rand(1, 3, 8, 4), torch.ones(1, 3, 8, 4), "mask must have shape"),
        (
            torch.rand(1, 3, 8, 4) * 255,
            torch.ones(1, 1, 8, 4),
            r"images must have values in \[0, 1\]",
        ),
        (torch.full((1, 3, 8, 4), float("nan")), torch.ones(1, 1, 8, 4), "images must have values"),
        (
            torch.rand(1, 3, 8, 4),
            torch.full((1, 1, 8, 4), 2.0),
            r"mask must have values in \[0, 1\]",
        ),
    ],
)
@pytest.mark.parametrize("name", NAMES)
def test_bad_inputs_raise_with_a_clear_message(images, mask, message, name):
    with pytest.raises((TypeError, ValueError), match=message):
        build_operator(name)(images, mask)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda x, m: blur(x, m, sigma=0), "sigma must be > 0"),
        (lambda x, m: pixelate(x, m, block=0), "block must be an integer >= 1"),
        (lambda x, m: pixelate(x, m, block=2.5), "block must be an integer"),
        (lambda x, m: fill(x, m, color=(1.0, 0.0)), "color must be"),
        (lambda x, m: fill(x, m, color=1.5), "color must be"),
        (lambda x, m: fill(x, m, color="median"), "color must be one of"),
        (lambda x, m: fill(x, m, opacity=0), "opacity must be in"),
        (lambda x, m: noise(x, m, std=-1), "std must be > 0"),
        (lambda x, m: inpaint(x, m, method="magic"), "method must be one of"),
        (lambda x, m: inpaint(x, m, radius=0), "radius must be > 0"),
        (lambda x, m: color_shift(x, m, saturation=2), "saturation must be in"),
    ],
)
def test_bad_settings_raise(call, message):
    with pytest.raises(ValueError, match=message):
        call(torch.rand(1, 3, 8, 4), torch.ones(1, 1, 8, 4))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Blur(sigma=2.0, relative=True), "fraction of the width"),
        (lambda: Pixelate(block=2.5), "whole number"),
        (lambda: Fill(color="red"), "color must be one of"),
        (lambda: Inpaint(method="x"), "method must be one of"),
        (lambda: ColorShift(saturation=-0.1), "saturation"),
        (lambda: Compose(), "one or more Operator"),
        (lambda: Compose(blur), "one or more Operator"),
        (lambda: build_operator("blur", 0.0), r"strength must be a number in \(0, 1\]"),
        (lambda: build_operator("blur", 1.5), "strength must be"),
        (lambda: build_operator("sharpen"), "operator name must be one of"),
        (lambda: build_operator("blur+"), "operator name must be one of"),
    ],
)
def test_bad_configuration_raises(make, message):
    with pytest.raises((TypeError, ValueError), match=message):
        make()


def test_empty_batch_passes_through():
    out = build_operator("blur")(torch.rand(0, 3, 8, 4), torch.ones(1, 1, 8, 4))
    assert out.shape == (0, 3, 8, 4)


def test_noise_operator_gives_an_image_the_same_pixels_in_any_batch():
    images, ones = torch.rand(3, 3, 8, 4), torch.ones(3, 1, 8, 4)
    op = build_operator("noise", 0.5)
    assert torch.equal(op(images, ones)[1:2], op(images[1:2], ones[1:2]))


def test_redress_keeps_soft_shading_and_drops_colour_and_texture():
    from deid.operators import Redress

    torch.manual_seed(0)
    rows = torch.linspace(0.2, 0.8, 64)[None, None, :, None].expand(1, 3, 64, 32).clone()  # a lit garment
    texture = rows + 0.15 * torch.randn(1, 3, 64, 32)  # with a fine pattern on it
    mask = torch.ones(1, 1, 64, 32)
    out = Redress(color=(1.0, 0.0, 0.0), contrast=0.5, sigma=0.1)(texture.clamp(0, 1), mask)
    assert torch.equal(out[:, 1:], torch.zeros_like(out[:, 1:]))  # the new colour, only
    red = out[0, 0]
    assert red[28:32].mean() > red[0:4].mean()  # shading follows the light within each half, softly:
    assert float(red[:32].max() - red[:32].min()) < 0.5 * float(
        texture[0, 0, :32].max() - texture[0, 0, :32].min()
    )
    assert red[:, 8:24].std(1).mean() < 0.25 * texture[0, 0, :, 8:24].std(1).mean()  # the pattern is gone
    flat = Redress(color=0.3, contrast=0.0)(texture.clamp(0, 1), mask)
    assert torch.allclose(flat, torch.full_like(flat, 0.3))
    with pytest.raises(ValueError, match=r"contrast must be in \[0, 1\]"):
        Redress(contrast=1.5)


def test_an_outfit_with_contrast_is_a_redress_in_two_colours():
    from deid.operators.outfit import OutfitFill

    images = torch.rand(2, 3, 32, 16, generator=torch.Generator().manual_seed(1))
    mask = torch.ones(2, 1, 32, 16)
    tops, bottoms = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]), torch.tensor([[0.0, 1.0, 0.0]] * 2)
    flat = OutfitFill(tops, bottoms)(images, mask)
    shaded = OutfitFill(tops, bottoms, contrast=0.5).for_people(torch.tensor([0, 1]))(images, mask)
    assert torch.equal(flat[:, :, :16].amax((2, 3)), tops) and torch.equal(
        flat[:, :, 16:].amax((2, 3)), bottoms
    )
    assert torch.equal((shaded[:, :, :16] > 0).any(-1).any(-1), tops > 0)  # each half keeps its colour
    assert shaded[0, 0, :16].std() > 0  # shaded, not flat

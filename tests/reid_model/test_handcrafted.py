"""The hand-crafted matcher: LOMO features against brute-force references, XQDA, real VIPeR."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.color import rgb2hsv

import reid_model.lomo as lomo
from reid_model import (
    HandcraftedMatcher,
    load_images,
    load_viper,
    retrieval_metrics,
    seed_split,
    select,
)
from reid_model.lomo import (
    _max_occurrence,
    _mirror_siltp,
    _quantile,
    _siltp_codes,
    lomo_features,
    retinex,
    rgb_to_hsv,
)


def _persons(n_persons: int = 6, seed: int = 0) -> tuple[torch.Tensor, list[int]]:
    """Two noisy views of persons with distinct upper and lower clothing colours."""
    g = torch.Generator().manual_seed(seed)
    colours = torch.rand(n_persons, 2, 3, generator=g)
    images, labels = [], []
    for pid in range(n_persons):
        for _ in range(2):
            image = torch.empty(3, 128, 48)
            image[:, :64] = colours[pid, 0].view(3, 1, 1)
            image[:, 64:] = colours[pid, 1].view(3, 1, 1)
            images.append((image + 0.08 * torch.randn(3, 128, 48, generator=g)).clamp(0, 1))
            labels.append(pid)
    return torch.stack(images), labels


def test_rgb_to_hsv_matches_scikit_image():
    images = torch.rand(2, 3, 16, 8, dtype=torch.float64)
    images[0, :, 0, 0] = 0.5  # grey: hue and saturation 0
    images[0, :, 0, 1] = 0.0  # black
    ours = rgb_to_hsv(images)
    ref = np.stack([rgb2hsv(im.permute(1, 2, 0).numpy()) for im in images]).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(ours.numpy(), ref, atol=1e-12)


def test_rgb_to_hsv_on_ties_matches_scikit_image():
    # bytes in steps of 64: two or three channels often share the maximum or the minimum
    g = torch.Generator().manual_seed(3)
    images = (torch.randint(0, 5, (1, 3, 20, 20), generator=g) * 63.75 / 255).double()
    ours = rgb_to_hsv(images)
    ref = rgb2hsv(images[0].permute(1, 2, 0).numpy()).transpose(2, 0, 1)[None]
    np.testing.assert_allclose(ours.numpy(), ref, atol=1e-12)


@pytest.mark.parametrize("n", [1, 2, 7, 500])
@pytest.mark.parametrize("q", [0.0, 0.01, 0.3, 0.5, 0.99, 1.0])
def test_quantile_matches_torch(n, q):
    g = torch.Generator().manual_seed(n)
    values = torch.rand(3, n, generator=g)
    values[0] = values[0].round(decimals=1)  # ties
    assert torch.allclose(_quantile(values, q), torch.quantile(values, q, dim=1), atol=1e-6)


@pytest.mark.parametrize("images_at_once", [None, 2])  # all 5 at once; 2 at a time, then 1
def test_max_occurrence_against_brute_force(images_at_once, monkeypatch):
    g = torch.Generator().manual_seed(1)
    codes = torch.randint(0, 7, (5, 27, 19), generator=g)
    rows, cols = (27 - 10) // 5 + 1, (19 - 10) // 5 + 1
    if images_at_once is not None:  # a table of counts of 2 images' cells
        monkeypatch.setattr(lomo, "CELL_BYTES", images_at_once * (rows + 1) * (cols + 1) * 7)
    ours = _max_occurrence(codes, 7)
    ref = torch.zeros(5, rows, 7, dtype=torch.long)
    for b in range(5):
        for r in range(rows):
            for c in range(cols):
                window = codes[b, 5 * r : 5 * r + 10, 5 * c : 5 * c + 10]
                hist = torch.bincount(window.flatten(), minlength=7)
                ref[b, r] = torch.maximum(ref[b, r], hist)
    assert torch.equal(ours, ref)


def test_siltp_codes_against_brute_force():
    g = torch.Generator().manual_seed(2)
    gray = torch.rand(1, 12, 9, generator=g)
    ours = _siltp_codes(gray, 2, 0.3)
    h, w = gray.shape[-2:]
    for y in range(h):
        for x in range(w):
            centre = float(gray[0, y, x])
            code = 0
            offsets = [(0, 2), (-2, 0), (0, -2), (2, 0)]  # right, up, left, down
            for k, (dy, dx) in enumerate(offsets):
                value = float(gray[0, min(max(y + dy, 0), h - 1), min(max(x + dx, 0), w - 1)])
                state = (
                    1
                    if value > 1.3 * centre + lomo.ROUNDING
                    else 2
                    if value < 0.7 * centre - lomo.ROUNDING
                    else 0
                )
                code += state * 3**k
            assert int(ours[0, y, x]) == code


def _fills() -> torch.Tensor:
    """Crops of flat colours on the colour bins' edges (two equal channels: hue 0 or 1/2;
    saturation 1/2; grey 1/2), black, white, and two-tone outfits of them, as the conceal loop
    fills people."""
    colours = torch.tensor(
        [
            [0.8, 0.4, 0.4],
            [0.3, 0.6, 0.6],
            [0.5, 0.5, 0.5],
            [0.0, 0.0, 0.0],
            [1.0, 1.0, 1.0],
            [0.9, 0.45, 0.7],
        ]
    )
    crops = colours[:, :, None, None].expand(-1, -1, 128, 48).clone()
    outfits = crops[:3].clone()
    outfits[:, :, 64:] = colours[3:].view(3, 3, 1, 1)
    return torch.cat([crops, outfits])


def test_a_rounding_of_the_pixels_does_not_change_the_descriptor(monkeypatch):
    """Another thread count or CPU rounds a resize otherwise: a flat fill's descriptor must not
    follow (it did: grey pixels took their hue, flat crops their Retinex stretch, from it)."""
    crops = _fills()
    g = torch.Generator().manual_seed(0)
    rounded = (crops * (1 + (torch.rand(crops.shape, generator=g) - 0.5) * 2.4e-7)).clamp(0, 1)
    assert not torch.equal(crops, rounded)
    for use_retinex in (False, True):
        assert torch.equal(
            lomo_features(crops, use_retinex=use_retinex, flip=True),
            lomo_features(rounded, use_retinex=use_retinex, flip=True),
        )
    monkeypatch.setattr(lomo, "ROUNDING", 0.0)  # without the tolerance, as before
    monkeypatch.setattr(lomo, "RETINEX_MIN_RANGE", 1e-6)
    assert not torch.equal(lomo_features(crops, use_retinex=True), lomo_features(rounded, use_retinex=True))


def test_lomo_features_shape_dtype_and_norm():
    images = torch.rand(3, 3, 128, 48, dtype=torch.float64)
    features = lomo_features(images)
    assert features.shape == (3, 26960)
    assert features.dtype == torch.float64
    # three L2-normalized groups: HSV, SILTP radius 3, SILTP radius 5
    assert torch.allclose(features.norm(dim=1), torch.full((3,), 3**0.5, dtype=torch.float64))
    # any crop size is resized to 128 x 48 first
    assert lomo_features(torch.rand(2, 3, 256, 96)).shape == (2, 26960)
    assert lomo_features(torch.rand(0, 3, 128, 48)).shape == (0, 26960)


def test_mirrored_view_is_the_mirror_image_described():
    # on 1/8 levels, pooling and the gray weights round the same in both views: equal bit for bit
    g = torch.Generator().manual_seed(3)
    images = torch.randint(0, 9, (3, 3, 128, 48), generator=g).double() / 8
    both = lomo_features(images, flip=True)
    expected = (lomo_features(images) + lomo_features(images.flip(-1))) / 2
    assert torch.equal(both, expected)
    gray = images.mean(1)
    for radius in (3, 5):
        assert torch.equal(
            _mirror_siltp(_siltp_codes(gray, radius, 0.3)), _siltp_codes(gray.flip(-1), radius, 0.3)
        )
    # the Retinex-balanced view agrees up to the blur's float rounding
    flipped = lomo_features(images, use_retinex=True, flip=True)
    assert torch.allclose(flipped, lomo_features(images.flip(-1), use_retinex=True, flip=True), atol=1e-6)


def test_retinex_keeps_shape_and_range():
    out = retinex(torch.rand(2, 3, 128, 48))
    assert out.shape == (2, 3, 128, 48)
    assert float(out.min()) >= 0 and float(out.max()) <= 1


@pytest.mark.parametrize("metric", ["xqda", "pca", "none"])
def test_matcher_ranks_the_same_person_first(metric):
    images, labels = _persons(8)
    matcher = HandcraftedMatcher(metric=metric, pca_dim=10, xqda_dim=8).fit(images, labels)
    distmat = matcher.distance(images[0::2], images[1::2])
    assert distmat.shape == (8, 8)
    assert (distmat.argmin(dim=1) == torch.arange(8)).float().mean() >= 0.75


def test_xqda_embedding_distance_is_learnt_on_other_persons():
    train, train_labels = _persons(10, seed=0)
    test, _ = _persons(6, seed=1)
    matcher = HandcraftedMatcher(pca_dim=15).fit(train, train_labels)
    embeddings = matcher.embed(test)
    assert embeddings.ndim == 2 and embeddings.shape[1] <= 100
    distmat = torch.cdist(embeddings[0::2], embeddings[1::2])
    assert (distmat.argmin(dim=1) == torch.arange(6)).float().mean() >= 0.5


def test_matcher_bad_input():
    with pytest.raises(ValueError, match="metric must be one of"):
        HandcraftedMatcher(metric="kissme")
    with pytest.raises(ValueError, match="pca_dim must be > 0"):
        HandcraftedMatcher(pca_dim=0)
    with pytest.raises(RuntimeError, match="must be fit before"):
        HandcraftedMatcher().embed(torch.rand(1, 3, 128, 48))
    with pytest.raises(ValueError, match=r"labels must have shape \(2,\)"):
        HandcraftedMatcher().fit(torch.rand(2, 3, 128, 48), [0, 0, 1])
    with pytest.raises(ValueError, match="two or more images"):
        HandcraftedMatcher().fit(torch.rand(2, 3, 128, 48), [0, 1])
    with pytest.raises(ValueError, match=r"shape \(B, 3, H, W\)"):
        HandcraftedMatcher(metric="none").embed(torch.rand(3, 128, 48))
    assert HandcraftedMatcher(metric="none").fitted and not HandcraftedMatcher().fitted


@pytest.mark.viper
@pytest.mark.slow
def test_rank1_on_viper_seed_split_test_persons(viper_root):
    samples = load_viper(viper_root)
    split = seed_split(range(632), seed=0)
    train, test = select(samples, split.train), select(samples, split.test)
    matcher = HandcraftedMatcher().fit(load_images([s.path for s in train]), [s.person_id for s in train])
    metrics = retrieval_metrics(
        matcher.embed(load_images([s.path for s in test])),
        [s.person_id for s in test],
        [s.camera_id for s in test],
    )
    # Measured: rank-1 48.8%, mAP 62.4% on the 127 test persons (cam_a queries, cam_b gallery).
    assert metrics["rank1"] >= 0.35
    assert metrics["mAP"] >= 0.5

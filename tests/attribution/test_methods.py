"""explain: each method's shape and values, IG completeness, batching, errors."""

from __future__ import annotations

import pytest
import torch

from attribution import (
    METHODS,
    ConditionScore,
    DistanceScore,
    body_regions,
    cam_layer,
    explain,
    region_scores,
    stack_regions,
)
from reid_model import StripeEmbedder, TripletEmbedder, embed


class RecordingScore(DistanceScore):
    """A DistanceScore that remembers the largest batch the model saw."""

    largest = 0

    def __call__(self, images, *args):
        self.largest = max(self.largest, len(images))
        return super().__call__(images, *args)


@pytest.mark.parametrize("method", METHODS)
def test_each_method_returns_finite_maps_at_the_image_size(method, score, images):
    attributions = explain(score, images, method=method)
    assert attributions.shape == (4, 1, 128, 48)
    assert attributions.dtype == torch.float32
    assert torch.isfinite(attributions).all()
    assert attributions.abs().sum() > 0


@pytest.mark.parametrize("method", METHODS)
def test_other_resolutions_are_resized_and_mapped_back(method, score, images):
    big = torch.nn.functional.interpolate(images, size=(192, 72), mode="bilinear")
    attributions = explain(score, big, method=method)
    assert attributions.shape == (4, 1, 192, 72)
    assert torch.isfinite(attributions).all()


def test_resizing_keeps_the_attribution_sum(score, images):
    big = torch.nn.functional.interpolate(images, size=(256, 96), mode="bilinear", align_corners=False)
    small = explain(score, images, method="saliency", abs=False).sum(dim=(1, 2, 3))
    large = explain(score, big, method="saliency", abs=False).sum(dim=(1, 2, 3))
    resized = torch.nn.functional.interpolate(big, size=(128, 48), mode="bilinear", antialias=True)
    reference = explain(score, resized, method="saliency", abs=False).sum(dim=(1, 2, 3))
    assert torch.allclose(large, reference, rtol=1e-3, atol=1e-4)
    assert small.shape == large.shape


@pytest.mark.parametrize("baseline", ["black", "mean", 0.5])
def test_integrated_gradients_completeness(tiny_embedder, images, gallery, baseline):
    model = tiny_embedder.double()
    images, gallery = images.double(), gallery.double()
    score = DistanceScore(model, embed(model, gallery))
    attributions, delta = explain(score, images, baseline=baseline, n_steps=64, return_delta=True)
    assert delta is not None and delta.shape == (4,)
    if baseline == "black":
        base = torch.zeros_like(images)
    elif baseline == "mean":
        base = images.mean(dim=(2, 3), keepdim=True).expand_as(images)
    else:
        base = torch.full_like(images, 0.5)
    with torch.no_grad():
        gain = score(images) - score(base)
    total = attributions.sum(dim=(1, 2, 3))
    assert torch.all((total - gain).abs() <= delta.abs() + 1e-9)
    assert torch.all(delta.abs() < 0.02 * gain.abs())


def test_integrated_gradients_completeness_for_condition_c(tiny_embedder, images, gallery):
    positive, negative = embed(tiny_embedder, gallery), embed(tiny_embedder, gallery.flip(0))
    score = ConditionScore(tiny_embedder, positive, negative)
    attributions, delta = explain(score, images, n_steps=64, return_delta=True)
    with torch.no_grad():  # the default baseline: each image's mean colour
        gain = score(images) - score(images.mean(dim=(2, 3), keepdim=True).expand_as(images))
    assert delta is not None
    assert torch.all((attributions.sum(dim=(1, 2, 3)) - gain).abs() <= delta.abs() + 1e-5)


def test_feature_ablation_region_sums_are_the_score_drops(score, images):
    regions = stack_regions(body_regions(128, 48))
    attributions = explain(score, images, method="feature_ablation", regions=regions)
    got = region_scores(attributions, regions)
    mean = images.mean(dim=(2, 3), keepdim=True)
    with torch.no_grad():
        full = score(images)
        for r, region in enumerate(regions):
            hidden = torch.where(region, mean, images)
            assert torch.allclose(got[:, r], full - score(hidden), atol=1e-4)


@pytest.mark.parametrize("method", METHODS)
def test_model_calls_stay_within_the_internal_batch_size(method, tiny_embedder, gallery):
    images = torch.rand(12, 3, 128, 48, generator=torch.Generator().manual_seed(3))
    score = RecordingScore(tiny_embedder, embed(tiny_embedder, torch.cat([gallery] * 3)))
    explain(score, images, method=method, internal_batch_size=8)
    assert 0 < score.largest <= 8


@pytest.mark.parametrize(
    "method", ["integrated_gradients", "saliency", "feature_ablation", "occlusion", "grad_cam"]
)
def test_batching_does_not_change_deterministic_results(method, score, images):
    together = explain(score, images, method=method)
    one_by_one = explain(score, images, method=method, internal_batch_size=1)
    assert torch.allclose(together, one_by_one, atol=1e-5)


def test_reference_images_of_another_size_are_embedded(tiny_embedder, images, gallery):
    big_gallery = torch.nn.functional.interpolate(gallery, size=(256, 96), mode="bilinear")
    attributions = explain(tiny_embedder, images, reference=big_gallery, method="saliency")
    assert attributions.shape == (4, 1, 128, 48)


def test_grad_cam_layer_keeps_a_spatial_map(tiny_embedder):
    assert cam_layer(tiny_embedder) is tiny_embedder.conv
    triplet = TripletEmbedder().eval()
    # conv 4's ReLU (a 10 x 4 map); conv 5's map is 1 x 1
    assert cam_layer(triplet) is dict(triplet.named_modules())["features.3.1"]
    stripe = StripeEmbedder().eval()
    layer = cam_layer(stripe)
    shapes = []
    handle = layer.register_forward_hook(lambda m, i, o: shapes.append(o.shape))
    stripe(torch.rand(1, 3, 128, 48))
    handle.remove()
    assert shapes[-1][2] >= 8


def test_training_mode_is_restored(tiny_embedder, images, gallery):
    tiny_embedder.train()
    explain(tiny_embedder, images, reference=gallery, method="saliency")
    assert tiny_embedder.training


def test_empty_batch(tiny_embedder):
    score = DistanceScore(tiny_embedder, torch.zeros(8))
    assert explain(score, torch.rand(0, 3, 128, 48), method="saliency").shape == (0, 1, 128, 48)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"method": "lime"},
            ValueError,
            r"method must be one of \['feature_ablation', .*\], got 'lime'",
        ),
        ({"reference": None}, ValueError, "reference is required when explaining a model"),
        (
            {"reference": torch.zeros(3, 8)},
            ValueError,
            r"3 reference rows, which does not fit 4 images",
        ),
        (
            {"reference": torch.zeros(4, 5)},
            ValueError,
            r"reference must have shape \(B, 8\) or \(8,\), got \(4, 5\)",
        ),
        (
            {"baseline": torch.zeros(4, 3, 64, 24)},
            ValueError,
            r"baseline must have the images' size \(128, 48\), got \(64, 24\)",
        ),
        (
            {"baseline": "white"},
            ValueError,
            r"baseline must be one of \['black', 'blur', 'mean'\], got 'white'",
        ),
        (
            {"n_step": 4},
            TypeError,
            r"unknown options \['n_step'\]; it accepts \['method', 'n_steps'\]",
        ),
        ({"internal_batch_size": 0}, ValueError, "internal_batch_size must be > 0, got 0"),
    ],
)
def test_bad_arguments_raise_clearly(tiny_embedder, images, gallery, kwargs, error, message):
    options = {"reference": gallery, **kwargs}
    with pytest.raises(error, match=message):
        explain(tiny_embedder, images, **options)


def test_bad_images_and_score_arguments_raise(tiny_embedder, score, images):
    with pytest.raises(ValueError, match=r"images must have shape \(B, 3, H, W\), got \(3, 128, 48\)"):
        explain(score, images[0])
    with pytest.raises(ValueError, match="reference is only used with a model"):
        explain(score, images, reference=torch.zeros(4, 8))
    with pytest.raises(TypeError, match="model_or_score must be an embedder"):
        explain("model", images, reference=torch.zeros(4, 8))  # type: ignore[call-overload]

"""The colour-stripe embedder: histograms against a dense reference, gradients, fitting, bundling."""

import pytest
import torch

from reid_model import (
    ColorStripeEmbedder,
    embed,
    evaluate_embeddings,
    load_checkpoint,
    load_images,
    save_checkpoint,
    select,
    stripe_histograms,
)


def _dense_reference(images, bins, stripes):
    """Every pixel's triangular vote into every bin, materialized: the definition, slowly."""
    centres = torch.linspace(0, 1, bins, dtype=images.dtype)
    votes = (1 - (images[:, :, None] - centres.view(1, 1, bins, 1, 1)).abs() * (bins - 1)).clamp(min=0)
    joint = votes[:, 0, :, None, None] * votes[:, 1, None, :, None] * votes[:, 2, None, None, :]
    b, h = len(images), images.shape[2]
    per_stripe = joint.reshape(b, bins**3, stripes, h // stripes, -1).mean(dim=(3, 4))
    return (per_stripe.transpose(1, 2) + 1e-6).sqrt().reshape(b, -1)


@pytest.mark.parametrize(("bins", "stripes"), [(2, 1), (3, 4), (4, 8)])
def test_histograms_match_the_dense_definition(bins, stripes):
    images = torch.rand(3, 3, 16, 6, generator=torch.Generator().manual_seed(bins))
    images[0, :, :4] = 1.0  # values on the top bin centre
    images[1, :, :4] = 0.0
    assert torch.allclose(
        stripe_histograms(images, bins=bins, stripes=stripes),
        _dense_reference(images, bins, stripes),
        atol=1e-6,
    )


def test_values_outside_the_unit_range_count_as_its_ends():
    images = torch.rand(2, 3, 16, 6) * 1.6 - 0.3  # what GradientShap's noisy samples look like
    out = stripe_histograms(images, bins=4, stripes=2)
    assert torch.isfinite(out).all()
    assert torch.equal(out, stripe_histograms(images.clamp(0, 1), bins=4, stripes=2))


def test_each_stripe_is_a_distribution():
    histograms = stripe_histograms(torch.rand(2, 3, 128, 48)).reshape(2, 8, 64)
    assert torch.allclose((histograms**2).sum(2), torch.ones(2, 8), atol=1e-3)


def test_gradients_are_correct():
    images = torch.rand(1, 3, 4, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    images = (images * 0.9 + 0.05).requires_grad_()  # away from the kinks at bin centres
    assert torch.autograd.gradcheck(lambda x: stripe_histograms(x, bins=3, stripes=2), (images,))


def test_fit_embed_and_checkpoint_roundtrip(tmp_path):
    images = torch.rand(8, 3, 128, 48, generator=torch.Generator().manual_seed(1))
    model = ColorStripeEmbedder.fit(images, [0, 0, 1, 1, 2, 2, 3, 3], xqda_dim=3)
    embeddings = model(images)
    assert embeddings.shape == (8, model.embedding_dim)
    save_checkpoint(tmp_path / "color.safetensors", model, {"note": "test"})
    loaded = load_checkpoint(tmp_path / "color.safetensors")
    assert isinstance(loaded, ColorStripeEmbedder)
    assert torch.allclose(embed(loaded, images), embeddings, atol=1e-5)


def test_bad_arguments_raise_clearly():
    with pytest.raises(ValueError, match="height 10 must be a multiple of stripes=8"):
        stripe_histograms(torch.rand(1, 3, 10, 4))
    with pytest.raises(ValueError, match="bins must be >= 2, got 1"):
        ColorStripeEmbedder(bins=1)
    with pytest.raises(ValueError, match="stripes must divide the input height 128, got 7"):
        ColorStripeEmbedder(stripes=7)
    with pytest.raises(ValueError, match=r"labels must have shape \(4,\), got \(3,\)"):
        ColorStripeEmbedder.fit(torch.rand(4, 3, 128, 48), [0, 0, 1])


@pytest.mark.viper
def test_bundled_matcher_reproduces_its_test_scores(viper_root):
    from reid_model import COLOR_WEIGHTS, default_metadata, load_color_matcher, load_viper, read_metadata

    samples = select(load_viper(viper_root), default_metadata()["split"]["test"])
    metrics = evaluate_embeddings(
        embed(load_color_matcher(), load_images([s.path for s in samples])), samples
    )
    shipped = read_metadata(COLOR_WEIGHTS)["metrics"]["test"]
    assert metrics["rank1"] == pytest.approx(shipped["rank1"])
    assert metrics["rank1"] > 0.25  # chance is 1/127


def test_training_refuses_the_fitted_matcher():
    from reid_model import TrainConfig

    with pytest.raises(ValueError, match=r"arch must be one of \['stripe', 'triplet'\], got 'color_stripes'"):
        TrainConfig(arch="color_stripes")


def test_saturated_pixels_keep_their_gradient():
    images = torch.zeros(1, 3, 8, 2)
    images[..., 1] = 1.0
    images.requires_grad_()
    (stripe_histograms(images, bins=3, stripes=1) * torch.arange(27.0)).sum().backward()
    assert bool((images.grad != 0).all())

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from reid_model import StripeEmbedder, TripletEmbedder, build_embedder, embedders
from reid_model.embedders import conv_bn


def test_seed_network_matches_the_seed_table():
    model = TripletEmbedder().eval()
    assert sum(p.numel() for p in model.parameters()) == 941_440
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 128, 256, 256, 128]
    assert [c.kernel_size for c in convs] == [(7, 5), (6, 3), (5, 3), (3, 1), (3, 1)]
    dropouts = [m for m in model.modules() if isinstance(m, torch.nn.Dropout)]
    assert len(dropouts) == 3 and all(d.p == 0.25 for d in dropouts)
    with FlopCounterMode(display=False) as counter:
        model(torch.rand(1, 3, 128, 48))
    macs = counter.get_total_flops() / 2
    assert 300e6 < macs < 308e6


@pytest.mark.parametrize("arch", ["triplet", "stripe"])
def test_interface_shapes(arch):
    model = build_embedder(arch).eval()
    images = torch.rand(3, 3, 128, 48)
    features = model.forward_features(images)
    assert features.ndim == 4 and features.shape[0] == 3
    embeddings = model(images)
    assert embeddings.shape == (3, model.embedding_dim)
    assert torch.allclose(model.embed_features(features), embeddings)


def test_channels_last_gives_the_same_embeddings():
    model = StripeEmbedder().eval()
    images = torch.rand(2, 3, 128, 48)
    reference = model(images)
    fast = model.to(memory_format=torch.channels_last)(images.contiguous(memory_format=torch.channels_last))
    assert torch.allclose(reference, fast, atol=1e-4)


def test_wrong_input_size_is_a_clear_error():
    with pytest.raises(ValueError, match=r"128 high x 48 wide .* got \(1, 3, 64, 64\)"):
        TripletEmbedder()(torch.rand(1, 3, 64, 64))


def test_wrong_rank_is_a_clear_error():
    with pytest.raises(ValueError, match=r"images must have shape \(B, 3, H, W\), got \(3, 128, 48\)"):
        TripletEmbedder()(torch.rand(3, 128, 48))


def test_unknown_architecture():
    with pytest.raises(
        ValueError,
        match=r"arch must be one of \['color_stripes', 'fused', 'lomo_xqda', 'stripe', 'triplet'\], got 'resnet'",
    ):
        build_embedder("resnet")


def _trained_norm(norm: torch.nn.BatchNorm2d, g: torch.Generator) -> None:
    """Running statistics and an affine part as training leaves them (not the identity)."""
    with torch.no_grad():
        norm.running_mean.copy_(torch.randn(norm.num_features, generator=g))
        norm.running_var.copy_(torch.rand(norm.num_features, generator=g) + 0.5)
        norm.weight.copy_(torch.randn(norm.num_features, generator=g))
        norm.bias.copy_(torch.randn(norm.num_features, generator=g))


@pytest.mark.parametrize("bias", [False, True])
def test_conv_bn_folds_the_norm_out_of_training_only(bias):
    g = torch.Generator().manual_seed(0)
    conv, norm = torch.nn.Conv2d(3, 8, 3, 2, 1, bias=bias), torch.nn.BatchNorm2d(8)
    _trained_norm(norm, g)
    x = torch.rand(4, 3, 16, 12, generator=g, requires_grad=True)
    norm.eval()
    plain = norm(conv(x))
    (grad_plain,) = torch.autograd.grad(plain.square().sum(), x)
    folded = conv_bn(conv, norm, x)
    (grad_folded,) = torch.autograd.grad(folded.square().sum(), x)
    assert torch.allclose(folded, plain, atol=1e-5)
    assert torch.allclose(grad_folded, grad_plain, atol=1e-4)
    norm.train()  # training normalizes by the batch and updates the running statistics
    before = norm.running_mean.clone()
    assert torch.allclose(conv_bn(conv, norm, x), norm(conv(x)), atol=1e-6)
    assert not torch.equal(norm.running_mean, before)


def test_stripe_network_folded_gives_the_embeddings_of_its_layers(monkeypatch):
    g = torch.Generator().manual_seed(1)
    model = StripeEmbedder()
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            _trained_norm(module, g)
    model.eval()
    images = torch.rand(5, 3, 128, 48, generator=g)
    folded = model(images)
    monkeypatch.setattr(embedders, "conv_bn", lambda conv, norm, x: norm(conv(x)))
    assert torch.allclose(folded, model(images), atol=1e-4)

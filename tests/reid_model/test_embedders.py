import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from reid_model import StripeEmbedder, TripletEmbedder, build_embedder, same_embedder


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


def test_same_embedder_needs_one_architecture_normalization_and_every_weight():
    torch.manual_seed(0)
    model = StripeEmbedder(widths=(8, 16), embedding_dim=16)
    copy = StripeEmbedder(widths=(8, 16), embedding_dim=16)
    assert not same_embedder(model, copy)  # other random weights
    copy.load_state_dict(model.state_dict())
    assert same_embedder(model, copy) and same_embedder(copy, model)
    other_normalization = StripeEmbedder(widths=(8, 16), embedding_dim=16, mean=(0.5, 0.5, 0.5))
    other_normalization.load_state_dict(model.state_dict())
    assert not same_embedder(model, other_normalization)
    wider = StripeEmbedder(widths=(8, 16), embedding_dim=32)
    assert not same_embedder(model, wider)
    with torch.no_grad():
        copy.neck.running_var[3] += 1e-6  # one number of one buffer
    assert not same_embedder(model, copy)

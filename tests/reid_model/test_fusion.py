"""LOMO + XQDA as an embedder, and the fused embedder: the metric, the mirror, the fused distance, checkpoints."""

import json

import pytest
import torch

from reid_model import (
    CheckpointError,
    FusedEmbedder,
    HandcraftedMatcher,
    LomoEmbedder,
    build_embedder,
    embed,
    load_checkpoint,
    save_checkpoint,
)


def _persons(n=6, seed=0):
    """``n`` persons, two noisy views each of one random outfit."""
    g = torch.Generator().manual_seed(seed)
    outfits = torch.rand(n, 3, 128, 48, generator=g)
    views = (outfits.repeat_interleave(2, 0) + 0.05 * torch.randn(2 * n, 3, 128, 48, generator=g)).clamp(0, 1)
    return views, torch.arange(n).repeat_interleave(2)


def test_plain_lomo_embedder_is_the_handcrafted_matchers_metric():
    images, labels = _persons()
    lomo = LomoEmbedder.fit(images, labels, retinex=False, flip=False, pca_dim=10, xqda_dim=4)
    matcher = HandcraftedMatcher(pca_dim=10, xqda_dim=4).fit(images, labels)
    assert torch.allclose(
        torch.cdist(lomo(images), lomo(images)), matcher.distance(images, images), atol=1e-4
    )


def test_flipped_descriptor_does_not_see_the_mirror_and_retinex_doubles_it():
    images, labels = _persons()
    lomo = LomoEmbedder.fit(images, labels, pca_dim=10, xqda_dim=4)
    assert lomo.center.shape == (2 * 26_960,) and lomo.differentiable is False
    assert torch.allclose(lomo(images.flip(-1)), lomo(images), atol=1e-5)
    plain = LomoEmbedder.fit(images, labels, flip=False, pca_dim=10, xqda_dim=4)
    assert not torch.allclose(plain(images.flip(-1)), plain(images), atol=1e-3)


def test_the_fused_distance_is_the_weighted_sum_of_normalized_squared_distances():
    images, labels = _persons()
    network = build_embedder("triplet").eval()
    lomo = LomoEmbedder.fit(images, labels, pca_dim=10, xqda_dim=4)
    fused = FusedEmbedder.fuse([network, lomo], images, weights=[1.0, 3.0])
    assert fused.weights == [0.25, 0.75] and fused.embedding_dim == 128 + lomo.embedding_dim
    assert fused.differentiable is False
    d_net, d_lomo = (torch.cdist(embed(m, images), embed(m, images)).double() for m in (network, lomo))
    expected = 0.25 * d_net**2 / d_net.pow(2).mean() + 0.75 * d_lomo**2 / d_lomo.pow(2).mean()
    fused_d = torch.cdist(embed(fused, images), embed(fused, images)).double()
    assert torch.allclose(fused_d**2, expected, rtol=1e-3, atol=1e-4)


def test_fused_checkpoint_round_trip_and_its_parts_are_checked(tmp_path):
    images, labels = _persons()
    network = build_embedder("stripe", widths=[8, 16], stripes=2, embedding_dim=8).eval()
    network.mean.fill_(0.25)  # a part's own normalization survives the round trip
    lomo = LomoEmbedder.fit(images, labels, retinex=False, pca_dim=10, xqda_dim=4)
    fused = FusedEmbedder.fuse([network, lomo], images)
    path = save_checkpoint(tmp_path / "fused.safetensors", fused)
    again = load_checkpoint(path)
    assert torch.equal(embed(again, images), embed(fused, images))
    assert float(again.parts[0].mean[0, 0, 0, 0]) == 0.25
    meta = json.loads(path.with_suffix(".json").read_text())
    meta["arch_config"]["parts"][0]["arch"] = "fused"
    path.with_suffix(".json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=r"parts\[0\]\.arch must be one of the built-in architectures"):
        load_checkpoint(path)


def test_bad_fusions_raise_clearly():
    images, labels = _persons()
    network = build_embedder("triplet")
    with pytest.raises(ValueError, match="weights must all be > 0"):
        FusedEmbedder.fuse([network], images, weights=[0.0])
    with pytest.raises(
        ValueError, match="parts and weights must be non-empty and of one length, got 1 and 2"
    ):
        FusedEmbedder.fuse([network], images, weights=[1.0, 1.0])
    with pytest.raises(ValueError, match=r"labels must have shape \(12,\)"):
        LomoEmbedder.fit(images, labels[:-1])


def test_a_part_left_out_of_a_checkpoint_is_given_back_by_name(tmp_path):
    images, labels = _persons()
    network = build_embedder("stripe", widths=[8, 16], stripes=2, embedding_dim=8).eval()
    lomo = LomoEmbedder.fit(images, labels, retinex=False, pca_dim=10, xqda_dim=4)
    fused = FusedEmbedder.fuse([network, lomo], images)
    path = save_checkpoint(tmp_path / "fused.safetensors", fused, leave_out=("parts.0.",))
    given = {f"parts.0.{k}": v for k, v in network.state_dict().items()}
    again = load_checkpoint(path, given=given)
    assert torch.equal(embed(again, images), embed(fused, images))
    with pytest.raises(
        CheckpointError, match=r"does not fit architecture 'fused' \(Missing key\(s\).*parts\.0\."
    ):
        load_checkpoint(path)  # the network's weights are not in the file: which, said
    meta_file = tmp_path / "fused.json"
    meta_file.write_text(
        json.dumps({**json.loads(meta_file.read_text()), "parts_from": {"parts.0.": "default"}})
    )
    with pytest.raises(
        CheckpointError, match=r"leaves out .*parts\.0\.\* from the bundled 'default'.*--model"
    ):
        load_checkpoint(path)  # a bundled one says where they come from
    with pytest.raises(CheckpointError, match="holds weights it was also given"):
        load_checkpoint(path, given={**given, "scales": fused.scales})

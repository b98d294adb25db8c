"""Attackers: the uniform interface, each kind of attacker, and fine-tuning on concealed persons."""

from __future__ import annotations

import pytest
import torch

from deid.audit import (
    Attacker,
    adaptive_attacker,
    checkpoint_attacker,
    finetune,
    handcrafted_attacker,
    model_attacker,
)
from reid_model import HandcraftedMatcher, StripeEmbedder, embed, save_checkpoint


def _persons(
    n_persons: int = 6, views: int = 2, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Persons with their own colours, ``views`` noisy appearances each, camera = view index."""
    g = torch.Generator().manual_seed(seed)
    colours = torch.rand(n_persons, 3, 2, 1, generator=g)
    base = colours.repeat_interleave(64, dim=2).expand(-1, -1, -1, 48)
    images = base.repeat_interleave(views, dim=0) + 0.05 * torch.randn(
        n_persons * views, 3, 128, 48, generator=g
    )
    labels = torch.arange(n_persons).repeat_interleave(views)
    cameras = torch.arange(views).repeat(n_persons)
    return images.clamp(0, 1), labels, cameras


def _tiny_stripe() -> StripeEmbedder:
    torch.manual_seed(0)
    return StripeEmbedder(widths=(4, 8), stripes=2, embedding_dim=8).eval()


def test_embedding_attacker_distances_are_l2_between_embeddings():
    attacker = Attacker("mean colour", embed_fn=lambda x: x.mean(dim=(2, 3)))
    query, gallery = torch.rand(2, 3, 8, 4), torch.rand(5, 3, 8, 4)
    distmat = attacker(query, gallery)
    for q in range(2):
        for g in range(5):
            expected = (query[q].mean(dim=(1, 2)) - gallery[g].mean(dim=(1, 2))).norm()
            assert float(distmat[q, g]) == pytest.approx(float(expected), abs=1e-6)
    assert not attacker.adaptive and attacker.adapt(query, query, torch.zeros(2), torch.zeros(2)) is attacker


def test_distance_attacker_gets_the_images():
    attacker = Attacker("pixels", distance_fn=lambda q, g: torch.cdist(q.flatten(1), g.flatten(1), p=1))
    query, gallery = torch.rand(3, 3, 4, 4), torch.rand(2, 3, 4, 4)
    assert torch.equal(attacker.features(query), query)
    assert torch.allclose(attacker(query, gallery), (query[:, None] - gallery[None]).abs().flatten(2).sum(2))
    assert "distance" in repr(attacker)


def test_attacker_needs_exactly_one_function():
    with pytest.raises(ValueError, match="exactly one of embed_fn and distance_fn"):
        Attacker("none")
    with pytest.raises(ValueError, match="exactly one of embed_fn and distance_fn"):
        Attacker("both", embed_fn=lambda x: x, distance_fn=lambda q, g: q)
    with pytest.raises(ValueError, match=r"images must have shape \(B, 3, H, W\)"):
        Attacker("a", embed_fn=lambda x: x)(torch.rand(3, 8, 4), torch.rand(1, 3, 8, 4))


def test_model_attacker_embeds_with_the_model(tiny_embedder):
    images = torch.rand(4, 3, 128, 48)
    attacker = model_attacker(tiny_embedder, name="tiny")
    expected = torch.cdist(embed(tiny_embedder, images[:2]), embed(tiny_embedder, images[2:]))
    assert torch.allclose(attacker(images[:2], images[2:]), expected)
    assert attacker.name == "tiny"


def test_checkpoint_attacker_loads_any_checkpoint(tmp_path):
    model = _tiny_stripe()
    path = save_checkpoint(tmp_path / "independent.safetensors", model)
    attacker = checkpoint_attacker(path)
    images = torch.rand(3, 3, 128, 48)
    assert attacker.name == "independent"
    assert torch.allclose(
        attacker(images, images), torch.cdist(embed(model, images), embed(model, images)), atol=1e-5
    )


def test_handcrafted_attacker_needs_a_fitted_matcher():
    with pytest.raises(ValueError, match="must be fitted first"):
        handcrafted_attacker(HandcraftedMatcher())
    images, labels, _ = _persons(4)
    attacker = handcrafted_attacker(HandcraftedMatcher(metric="pca", pca_dim=5).fit(images, labels))
    distmat = attacker(images[0::2], images[1::2])
    assert (distmat.argmin(1) == torch.arange(4)).all()


def test_finetune_improves_matching_of_concealed_to_original_and_leaves_the_model_alone():
    images, labels, cameras = _persons(8)
    concealed = images.flip(3) * 0.5  # a stand-in concealment: mirrored and darkened
    model = _tiny_stripe()
    before = {k: v.clone() for k, v in model.state_dict().items()}

    def triplet_error(m):
        d = torch.cdist(embed(m, concealed), embed(m, images))
        same = labels[:, None] == labels[None, :]
        other_cam = cameras[:, None] != cameras[None, :]
        d_pos = d.masked_fill(~(same & other_cam), float("inf")).min(1).values
        d_neg = d.masked_fill(same, float("inf")).min(1).values
        return float((d_pos >= d_neg).float().mean())

    tuned = finetune(
        model,
        concealed,
        labels,
        cameras,
        original_images=images,
        epochs=30,
        lr=3e-3,
        persons_per_batch=4,
    )
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    assert not tuned.training
    assert triplet_error(tuned) < triplet_error(model)  # measured: 0.69 -> 0.19


def test_finetune_bad_input(tiny_embedder):
    images, labels, cameras = _persons(3)
    with pytest.raises(ValueError, match=r"labels must have shape \(6,\)"):
        finetune(tiny_embedder, images, labels[:5], cameras)
    with pytest.raises(ValueError, match="original_images must have the shape"):
        finetune(tiny_embedder, images, labels, cameras, original_images=images[:2])
    with pytest.raises(ValueError, match="loss must be one of"):
        finetune(tiny_embedder, images, labels, cameras, loss="hinge")
    with pytest.raises(ValueError, match="epochs must be > 0"):
        finetune(tiny_embedder, images, labels, cameras, epochs=0)


def test_adaptive_attacker_adapts_to_a_new_model(tiny_embedder):
    images, labels, cameras = _persons(6)
    attacker = adaptive_attacker(tiny_embedder, epochs=1, persons_per_batch=2)
    assert attacker.adaptive
    assert torch.allclose(attacker(images, images), model_attacker(tiny_embedder)(images, images))
    adapted = attacker.adapt(images * 0.5, images, labels, cameras)
    assert adapted.name == "adaptive" and not adapted.adaptive
    assert not torch.allclose(adapted(images, images), attacker(images, images))

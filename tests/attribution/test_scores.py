"""Match scores: values against direct formulas, broadcasting and bad inputs."""

from __future__ import annotations

import pytest
import torch

from attribution import ConditionScore, DistanceScore
from reid_model import embed


def test_distance_score_is_negative_l2_distance(tiny_embedder, images, gallery):
    reference = embed(tiny_embedder, gallery)
    score = DistanceScore(tiny_embedder, reference)(images)
    expected = -(embed(tiny_embedder, images) - reference).norm(dim=1)
    assert score.shape == (4,)
    assert torch.allclose(score, expected, atol=1e-5)


def test_distance_score_broadcasts_one_reference(tiny_embedder, images, gallery):
    reference = embed(tiny_embedder, gallery)[0]
    score = DistanceScore(tiny_embedder, reference)(images)
    expected = -(embed(tiny_embedder, images) - reference).norm(dim=1)
    assert torch.allclose(score, expected, atol=1e-5)


def test_condition_score_is_softmax_of_distances(tiny_embedder, images, gallery):
    positive = embed(tiny_embedder, gallery)
    negative = embed(tiny_embedder, gallery.flip(0))
    score = ConditionScore(tiny_embedder, positive, negative)(images)
    x = embed(tiny_embedder, images)
    d_pos, d_neg = (x - positive).norm(dim=1), (x - negative).norm(dim=1)
    expected = torch.softmax(torch.stack([d_pos, d_neg], dim=1), dim=1)[:, 1]
    assert torch.allclose(score, expected, atol=1e-5)
    assert torch.equal(score > 0.5, d_pos < d_neg)


def test_score_resizes_other_sizes_and_has_gradients(score, images):
    big = torch.nn.functional.interpolate(images, size=(256, 96), mode="bilinear").requires_grad_()
    value = score(big)
    (grad,) = torch.autograd.grad(value.sum(), big)
    assert value.shape == (4,) and grad.shape == big.shape and grad.abs().sum() > 0


def test_score_gradient_is_finite_at_zero_distance(tiny_embedder, images):
    x = images[:1].clone().requires_grad_()
    value = DistanceScore(tiny_embedder, embed(tiny_embedder, images[:1]))(x)
    (grad,) = torch.autograd.grad(value.sum(), x)
    assert torch.isfinite(grad).all()


def test_mismatched_reference_rows_raise(tiny_embedder, images):
    score = DistanceScore(tiny_embedder, torch.zeros(3, 8))
    with pytest.raises(ValueError, match=r"3 reference rows.*4 images"):
        score(images)
    with pytest.raises(ValueError, match="expected 1 or 4 rows"):
        score.check_batch(4)


def test_bad_reference_shapes_raise(tiny_embedder):
    with pytest.raises(ValueError, match=r"reference must have shape \(B, 8\) or \(8,\), got \(2, 5\)"):
        DistanceScore(tiny_embedder, torch.zeros(2, 5))
    with pytest.raises(TypeError, match=r"reference must be a torch\.Tensor"):
        DistanceScore(tiny_embedder, [0.0] * 8)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="same number of rows"):
        ConditionScore(tiny_embedder, torch.zeros(2, 8), torch.zeros(3, 8))

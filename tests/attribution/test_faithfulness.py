"""Deletion curves: end points, a known-faithful attribution beats random order, bad inputs."""

from __future__ import annotations

import pytest
import torch

from attribution import DistanceScore, MatchScore, deletion_curves, explain


class TopScore(MatchScore):
    """A score that is the brightness of the top quarter of the image: only those pixels matter."""

    def __init__(self) -> None:
        self.model = torch.nn.Identity()
        self.reference = torch.zeros(1, 1)

    def embed(self, images):
        return images[:, :, :32].mean(dim=(1, 2, 3))[:, None]

    def forward_args(self):
        return (self.reference,)

    def compare(self, embeddings, *args):
        return embeddings[:, 0]


def test_curves_start_at_the_score_and_end_fully_deleted(score, images):
    attributions = explain(score, images, method="saliency")
    curves = deletion_curves(score, images, attributions, steps=4, repeats=2, fill="mean")
    assert curves.fractions.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert curves.attribution.shape == curves.random.shape == (4, 5)
    with torch.no_grad():
        assert torch.allclose(curves.attribution[:, 0], score(images), atol=1e-5)
        filled = images.mean(dim=(2, 3), keepdim=True).expand_as(images)
        assert torch.allclose(curves.attribution[:, -1], score(filled), atol=1e-5)
        assert torch.allclose(curves.random[:, -1], curves.attribution[:, -1], atol=1e-5)


def test_a_faithful_attribution_deletes_faster_than_random():
    images = torch.rand(3, 3, 128, 48, generator=torch.Generator().manual_seed(0)) * 0.5 + 0.5
    images[:, :, 32:] = 0.0  # the image mean is below the top's brightness, so filling lowers the score
    attributions = torch.zeros(3, 1, 128, 48)
    attributions[:, :, :32] = 1.0
    curves = deletion_curves(TopScore(), images, attributions, steps=8, repeats=2)
    auc_attribution, auc_random = curves.auc()
    assert torch.all(auc_attribution < auc_random - 0.2)
    assert torch.allclose(curves.normalized(curves.attribution)[:, 0], torch.ones(3))


def test_deletion_is_reproducible_with_a_seed(score, images):
    attributions = torch.zeros(4, 1, 128, 48)  # all ties: broken at random by the seed
    first = deletion_curves(score, images, attributions, steps=3, repeats=1, seed=5)
    second = deletion_curves(score, images, attributions, steps=3, repeats=1, seed=5)
    assert torch.equal(first.attribution, second.attribution) and torch.equal(first.random, second.random)


def test_bad_inputs_raise(tiny_embedder, score, images):
    with pytest.raises(
        ValueError, match=r"attributions must have shape \(4, 1, 128, 48\), got \(4, 1, 64, 24\)"
    ):
        deletion_curves(score, images, torch.zeros(4, 1, 64, 24))
    with pytest.raises(ValueError, match="steps must be > 0, got 0"):
        deletion_curves(score, images, torch.zeros(4, 1, 128, 48), steps=0)
    with pytest.raises(ValueError, match="fill must be one of"):
        deletion_curves(score, images, torch.zeros(4, 1, 128, 48), fill="noise")
    with pytest.raises(ValueError, match="expected 1 or 2 rows"):
        deletion_curves(
            DistanceScore(tiny_embedder, torch.zeros(4, 8)), images[:2], torch.zeros(2, 1, 128, 48)
        )

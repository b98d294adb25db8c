"""The adversary's privacy check against a brute-force loop over triplets."""

import pytest
import torch

from deid.adversary import Adversary, match_pairs
from tests.conftest import TinyEmbedder


def _brute_force(concealed, originals, gallery, groups, max_match_rate, top_k):
    """Per appearance: worst match rate and best rank over its pairs, by explicit loops."""
    n = len(groups)
    rates, ranks = [0.0] * n, [float("inf")] * n
    for a, b in zip(*match_pairs(groups), strict=True):
        x, x_pos = concealed[a], originals[b]
        d_pos = float((x - x_pos).norm())
        d_negs = [float((x - neg).norm()) for neg in gallery]
        holds = sum(d_pos < d_neg for d_neg in d_negs)  # condition C, concealed image as anchor
        rates[a] = max(rates[a], holds / len(gallery))
        ranks[a] = min(ranks[a], 1 + sum(d_neg < d_pos for d_neg in d_negs))
    private = [r <= max_match_rate and k > top_k for r, k in zip(rates, ranks, strict=True)]
    return rates, ranks, private


@pytest.mark.parametrize("seed", range(4))
def test_check_matches_brute_force(seed):
    g = torch.Generator().manual_seed(seed)
    groups = torch.tensor([0, 0, 1, 2, 2, 2])
    originals = torch.randn(6, 8, generator=g)
    concealed = originals + torch.randn(6, 8, generator=g) * (0.5 + seed)
    gallery = torch.randn(15, 8, generator=g)
    adversary = Adversary([TinyEmbedder()], [gallery], max_match_rate=0.5, top_k=3)
    check = adversary.check([concealed], [originals], groups)
    rates, ranks, private = _brute_force(concealed, originals, gallery, groups, 0.5, 3)
    assert check.match_rate.tolist() == pytest.approx(rates)
    assert check.rank.tolist() == ranks
    assert check.private.tolist() == private


def _points(*xs):
    """Embeddings on a line: ``(len(xs), 8)`` with the values in the first coordinate."""
    return torch.nn.functional.pad(torch.tensor(xs, dtype=torch.float32)[:, None], (0, 7))


def test_chance_target_puts_the_true_identity_in_the_worse_half():
    gallery = _points(1, 2, 3, 5, 6, 7, 8, 9, 10, 11)
    original = _points(4)
    adversary = Adversary([TinyEmbedder()], [gallery], max_match_rate=0.5, top_k=3)
    # Concealed image at 0: its original (distance 4) beats 7 of the 10 negatives.
    check = adversary.check([_points(0)], [original], torch.tensor([0]))
    assert check.match_rate.item() == pytest.approx(0.7)
    assert check.rank.item() == 4.0
    assert not bool(check.private.item())
    # At 12 the original (distance 8) beats only 3 negatives: the worse half, private.
    moved = adversary.check([_points(12)], [original], torch.tensor([0]))
    assert moved.match_rate.item() == pytest.approx(0.3)
    assert moved.rank.item() == 8.0
    assert bool(moved.private.item())

import numpy as np
import pytest
import torch

from reid_model import cmc_map, triplet_error


def _brute_force(dist, q_ids, g_ids, max_rank):
    cmc, aps = np.zeros(max_rank), []
    for q in range(len(q_ids)):
        order = sorted(range(len(g_ids)), key=lambda g: (dist[q][g], g))
        matches = [g_ids[g] == q_ids[q] for g in order]
        if not any(matches):
            continue
        first = matches.index(True)
        for k in range(first, max_rank):
            cmc[k] += 1
        hits, precisions = 0, []
        for rank, m in enumerate(matches, 1):
            if m:
                hits += 1
                precisions.append(hits / rank)
        aps.append(sum(precisions) / len(precisions))
    return cmc / len(aps), sum(aps) / len(aps)


def test_cmc_map_against_brute_force():
    rng = np.random.default_rng(0)
    dist = rng.random((9, 15))
    q_ids = rng.integers(0, 5, 9)
    g_ids = rng.integers(0, 5, 15)
    cmc, mean_ap = cmc_map(dist, q_ids, g_ids, max_rank=10)
    ref_cmc, ref_map = _brute_force(dist, q_ids, g_ids, 10)
    np.testing.assert_allclose(cmc, ref_cmc)
    assert mean_ap == pytest.approx(ref_map)


def test_same_camera_matches_are_left_out():
    dist = torch.tensor([[0.0, 1.0, 2.0]])
    cmc, mean_ap = cmc_map(dist, [0], [0, 1, 0], [0], [0, 1, 1], max_rank=3)
    assert cmc.tolist() == [0.0, 1.0, 1.0]
    assert mean_ap == pytest.approx(0.5)


def test_no_true_match_is_an_error():
    with pytest.raises(ValueError, match="no query has a true match"):
        cmc_map(torch.zeros(1, 2), [0], [1, 2])


def test_triplet_error():
    assert triplet_error(torch.tensor([1.0, 1.0]), torch.tensor([2.0, 1.0])) == 0.5
    with pytest.raises(ValueError, match="non-empty"):
        triplet_error(torch.tensor([]), torch.tensor([]))

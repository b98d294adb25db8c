import itertools

import numpy as np
import pytest
import torch

from reid_model import (
    cmc_map,
    expected_average_precision,
    retrieval_scores,
    seed_error,
    seed_triplets,
    triplet_error,
)


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


def _brute_rank1_map(distmat, labels, cameras, query_camera=0):
    hits, aps = [], []
    for q in range(len(labels)):
        if cameras[q] != query_camera:
            continue
        gallery = [g for g in range(len(labels)) if cameras[g] != query_camera]
        order = sorted(gallery, key=lambda g: (float(distmat[q, g]), g))
        relevant = [labels[g] == labels[q] for g in order]
        hits.append(relevant[0])
        precisions = [sum(relevant[: k + 1]) / (k + 1) for k, r in enumerate(relevant) if r]
        aps.append(np.mean(precisions))
    return np.mean(hits), np.mean(aps)


def test_retrieval_scores_against_brute_force():
    g = torch.Generator().manual_seed(0)
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 4])
    cameras = torch.tensor([0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 1])
    distmat = torch.rand(11, 11, generator=g)
    scores = retrieval_scores(distmat, labels, cameras)
    rank1, mean_ap = _brute_rank1_map(distmat, labels.tolist(), cameras.tolist())
    assert scores["rank1"] == pytest.approx(rank1)
    assert scores["mAP"] == pytest.approx(mean_ap)
    assert 0 <= scores["seed_error"] <= 1 and scores["seed_error_chance"] == 0.5
    # chance: each query has 1 match among 6 gallery items, person 4 has 2
    assert scores["rank1_chance"] == pytest.approx(np.mean([1 / 6] * 4 + [2 / 6]))


def test_retrieval_scores_seed_error_uses_rows_as_anchors():
    labels, cameras = torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 0, 1])
    perfect = torch.tensor([[9, 1, 5, 5], [1, 9, 5, 5], [5, 5, 9, 1], [5, 5, 1, 9]], dtype=torch.float32)
    assert retrieval_scores(perfect, labels, cameras)["seed_error"] == 0.0
    assert retrieval_scores(-perfect, labels, cameras)["seed_error"] == 1.0
    with pytest.raises(ValueError, match=r"distmat must have shape \(4, 4\)"):
        retrieval_scores(perfect[:3], labels, cameras)


@pytest.mark.parametrize(("matches", "gallery"), [(1, 1), (1, 5), (2, 5), (3, 4), (4, 4)])
def test_expected_ap_of_a_random_ranking_by_enumeration(matches, gallery):
    aps = []
    for relevant in itertools.combinations(range(gallery), matches):
        positions = np.array(sorted(relevant)) + 1
        aps.append(np.mean(np.arange(1, matches + 1) / positions))
    assert expected_average_precision(matches, gallery) == pytest.approx(np.mean(aps))


def test_seed_error_with_a_gallery_takes_anchors_from_the_embeddings():
    g = torch.Generator().manual_seed(0)
    labels, cameras = [0, 0, 1, 1, 2, 2, 3, 3], [0, 1] * 4
    anchors, gallery = torch.randn(8, 5, generator=g), torch.randn(8, 5, generator=g)
    triplets = seed_triplets(labels, cameras, seed=3)
    a, p, n = triplets.unbind(1)
    brute = [
        float(torch.dist(anchors[i], gallery[j]) >= torch.dist(anchors[i], gallery[k]))
        for i, j, k in zip(a.tolist(), p.tolist(), n.tolist(), strict=True)
    ]
    assert seed_error(anchors, labels, cameras, gallery=gallery, seed=3) == pytest.approx(np.mean(brute))
    assert seed_error(anchors, labels, cameras, gallery=anchors, seed=3) == seed_error(
        anchors, labels, cameras, seed=3
    )
    with pytest.raises(ValueError, match=r"gallery must have the embeddings' shape \(8, 5\), got \(7, 5\)"):
        seed_error(anchors, labels, cameras, gallery=gallery[:7])

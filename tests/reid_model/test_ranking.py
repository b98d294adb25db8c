"""query_gallery_metrics: CMC, mAP and mINP against a plain loop over queries."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reid_model import RankingMetrics, cmc_map, query_gallery_metrics


def brute_force(dist, q_ids, g_ids, q_cams=None, g_cams=None, max_rank=20):
    """Each query alone: sort the gallery (ties by index), drop same person + same camera, score."""
    cmc, aps, inps, skipped = np.zeros(max_rank), [], [], 0
    for q in range(len(q_ids)):
        order = sorted(range(len(g_ids)), key=lambda g: (float(dist[q][g]), g))
        if q_cams is not None:
            order = [g for g in order if not (g_ids[g] == q_ids[q] and g_cams[g] == q_cams[q])]
        matches = [g_ids[g] == q_ids[q] for g in order]
        if not any(matches):
            skipped += 1
            continue
        first = matches.index(True)  # 0-based
        for k in range(first, max_rank):
            cmc[k] += 1
        ranks = [rank for rank, m in enumerate(matches, 1) if m]
        aps.append(np.mean([(i + 1) / rank for i, rank in enumerate(ranks)]))
        inps.append(len(ranks) / ranks[-1])
    return cmc / len(aps), np.mean(aps), np.mean(inps), len(aps), skipped


def check_against_brute_force(result: RankingMetrics, reference) -> None:
    cmc, mean_ap, mean_inp, valid, skipped = reference
    np.testing.assert_allclose(result.cmc.numpy(), cmc)
    assert result.mean_ap == pytest.approx(mean_ap)
    assert result.mean_inp == pytest.approx(mean_inp)
    assert (result.num_valid, result.num_skipped) == (valid, skipped)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("chunk_size", [1, 3, 128])
def test_random_embeddings_with_cameras(seed, chunk_size):
    rng = np.random.default_rng(seed)
    query, gallery = torch.randn(11, 4, dtype=torch.float64), torch.randn(40, 4, dtype=torch.float64)
    dist = torch.cdist(query, gallery)  # no two distances of a row are equal
    q_ids, g_ids = rng.integers(0, 6, 11), rng.integers(0, 6, 40)
    q_cams, g_cams = rng.integers(0, 3, 11), rng.integers(0, 3, 40)
    result = query_gallery_metrics(dist, q_ids, g_ids, q_cams, g_cams, max_rank=10, chunk_size=chunk_size)
    check_against_brute_force(result, brute_force(dist, q_ids, g_ids, q_cams, g_cams, max_rank=10))


def test_ties_keep_the_gallery_order():
    rng = np.random.default_rng(3)
    dist = torch.as_tensor(rng.integers(0, 4, (9, 25)), dtype=torch.float32)
    q_ids, g_ids = rng.integers(0, 4, 9).tolist(), rng.integers(0, 4, 25).tolist()
    q_cams, g_cams = rng.integers(0, 2, 9).tolist(), rng.integers(0, 2, 25).tolist()
    result = query_gallery_metrics(dist, q_ids, g_ids, q_cams, g_cams, max_rank=5, chunk_size=4)
    check_against_brute_force(result, brute_force(dist, q_ids, g_ids, q_cams, g_cams, max_rank=5))
    result = query_gallery_metrics(dist, q_ids, g_ids, max_rank=5)
    check_against_brute_force(result, brute_force(dist, q_ids, g_ids, max_rank=5))


@pytest.mark.parametrize("dtype", [torch.int64, torch.float16, torch.float64])
def test_ties_negative_and_infinite_distances(dtype):
    """Integer distances tie often; every gallery item of one row is the query's person; some
    distances are negative (a ranking turned backwards) or infinite."""
    rng = np.random.default_rng(5)
    values = rng.integers(-3, 3, (8, 30))
    dist = torch.as_tensor(values).to(dtype)
    if dtype.is_floating_point:
        dist[0, :5] = float("inf")
    q_ids, g_ids = [0, *rng.integers(0, 3, 7).tolist()], [0] * 10 + rng.integers(0, 3, 20).tolist()
    q_cams, g_cams = rng.integers(0, 2, 8).tolist(), rng.integers(0, 2, 30).tolist()
    result = query_gallery_metrics(dist, q_ids, g_ids, q_cams, g_cams, max_rank=30, chunk_size=3)
    check_against_brute_force(result, brute_force(dist, q_ids, g_ids, q_cams, g_cams, max_rank=30))
    every = [0] * 30  # the whole gallery is the query's person
    result = query_gallery_metrics(dist[:1], [0], every, max_rank=30)
    check_against_brute_force(result, brute_force(dist[:1], [0], every, max_rank=30))
    assert result.mean_ap == result.mean_inp == 1.0


def test_values_by_hand():
    # Query 0 (person 1, camera 0): the gallery in distance order is person 1 camera 0 (left out),
    # 1, 2, 2, 1: matches at ranks 1 and 4 among the items kept.
    dist = torch.tensor([[0.0, 0.1, 0.2, 0.3, 0.4]])
    result = query_gallery_metrics(dist, [1], [1, 1, 2, 2, 1], [0], [0, 1, 1, 1, 1], max_rank=3)
    assert result.cmc.tolist() == [1.0, 1.0, 1.0]
    assert result.mean_ap == pytest.approx((1 / 1 + 2 / 4) / 2)
    assert result.mean_inp == pytest.approx(2 / 4)
    assert result.cmc.dtype == torch.float64


def test_left_out_items_tied_at_infinity_do_not_count():
    # Query (person 1, camera 0): item 0, its person from its camera, is left out though it ties
    # at +inf with the true match (item 2) ahead of it; the match is second among the items kept.
    inf = float("inf")
    dist = torch.tensor([[inf, 0.5, inf, inf]])
    args = ([1], [1, 2, 1, 2], [0], [0, 1, 1, 1])
    result = query_gallery_metrics(dist, *args, max_rank=3)
    assert result.cmc.tolist() == [0.0, 1.0, 1.0]
    assert result.mean_ap == result.mean_inp == 0.5
    check_against_brute_force(result, brute_force(dist, *args, max_rank=3))


def test_a_query_with_only_same_camera_matches_is_skipped():
    dist = torch.tensor([[0.5, 0.1, 0.2], [0.3, 0.2, 0.1]])
    # Query 0 (person 3, camera 1) has person 3 only from camera 1 in the gallery.
    result = query_gallery_metrics(dist, [3, 4], [3, 4, 5], [1, 0], [1, 1, 1], max_rank=3)
    assert (result.num_valid, result.num_skipped) == (1, 1)
    assert result.cmc.tolist() == [0.0, 1.0, 1.0]  # query 1 alone: its match is second
    assert result.mean_ap == pytest.approx(0.5) and result.mean_inp == pytest.approx(0.5)


def test_cmc_longer_than_the_gallery_stays_flat():
    result = query_gallery_metrics(torch.tensor([[0.2, 0.1]]), [0], [0, 1], max_rank=4)
    assert result.cmc.tolist() == [0.0, 1.0, 1.0, 1.0]


def test_cmc_map_is_the_same_ranking():
    rng = np.random.default_rng(4)
    dist, q_ids, g_ids = rng.random((7, 20)), rng.integers(0, 4, 7), rng.integers(0, 4, 20)
    q_cams, g_cams = rng.integers(0, 2, 7), rng.integers(0, 2, 20)
    cmc, mean_ap = cmc_map(dist, q_ids, g_ids, q_cams, g_cams, max_rank=6)
    result = query_gallery_metrics(dist, q_ids, g_ids, q_cams, g_cams, max_rank=6)
    np.testing.assert_array_equal(cmc, result.cmc.numpy())
    assert mean_ap == result.mean_ap


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((torch.zeros(2, 3), [0, 1], [0, 1]), {}, r"gallery_ids must have shape \(3,\), got \(2,\)"),
        ((torch.zeros(2, 3), [0], [0, 1, 2]), {}, r"query_ids must have shape \(2,\), got \(1,\)"),
        ((torch.zeros(3), [0], [0]), {}, r"distmat must have shape \(Q, G\), got \(3,\)"),
        ((torch.zeros(1, 1), [0], [0], [0], None), {}, "both be given or both be None"),
        ((torch.zeros(1, 1), [0], [0]), {"max_rank": 0}, "max_rank and chunk_size must be >= 1"),
        ((torch.zeros(1, 2), [0], [1, 2]), {}, "no query has a true match"),
        ((torch.zeros(1, 0), [0], []), {}, "no query has a true match"),
    ],
)
def test_bad_input_is_refused(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        query_gallery_metrics(*args, **kwargs)

"""How long does ranking Market-1501's test set take? Batched torch against a loop over queries.

    python benchmarks/market_ranking.py [--queries 3368] [--gallery 15913] [--threads 2]

Market-1501's protocol ranks 15913 gallery images for each of 3368 queries. This times
:func:`reid_model.query_gallery_metrics` (queries in chunks of 128: a stable argsort of each row,
then cumulative sums over the sorted masks) against torchreid's way (one argsort of every row,
then a Python loop over queries), on random distances of that size with Market's numbers of
persons and cameras, checks that both give the same figures, and prints the times and their ratio
from one run.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from reid_model import query_gallery_metrics


def loop_over_queries(
    dist: np.ndarray, q_ids: np.ndarray, g_ids: np.ndarray, q_cams: np.ndarray, g_cams: np.ndarray
) -> tuple[np.ndarray, float, float]:
    """torchreid's ``eval_market1501``: rank-1..20, mAP and mINP, one query at a time."""
    order = np.argsort(dist, axis=1, kind="stable")
    cmc, aps, inps = np.zeros(20), [], []
    for q in range(len(q_ids)):
        ranked = order[q]
        ranked = ranked[~((g_ids[ranked] == q_ids[q]) & (g_cams[ranked] == q_cams[q]))]
        matches = g_ids[ranked] == q_ids[q]
        if not matches.any():
            continue
        hits = np.cumsum(matches)
        positions = np.flatnonzero(matches) + 1
        cmc[positions[0] - 1 :] += 1
        aps.append(np.mean(hits[matches] / positions))
        inps.append(len(positions) / positions[-1])
    return cmc / len(aps), float(np.mean(aps)), float(np.mean(inps))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--queries", type=int, default=3368)
    parser.add_argument("--gallery", type=int, default=15913)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    q_ids, g_ids = rng.integers(1, 751, args.queries), rng.integers(0, 751, args.gallery)
    q_cams, g_cams = rng.integers(0, 6, args.queries), rng.integers(0, 6, args.gallery)
    dist = rng.random((args.queries, args.gallery), dtype=np.float32)

    start = time.perf_counter()
    batched = query_gallery_metrics(torch.from_numpy(dist), q_ids, g_ids, q_cams, g_cams, max_rank=20)
    batched_s = time.perf_counter() - start
    start = time.perf_counter()
    cmc, mean_ap, mean_inp = loop_over_queries(dist, q_ids, g_ids, q_cams, g_cams)
    loop_s = time.perf_counter() - start

    same = np.allclose(batched.cmc.numpy(), cmc) and np.isclose(batched.mean_ap, mean_ap)
    same = same and np.isclose(batched.mean_inp, mean_inp)
    print(f"{args.queries} queries x {args.gallery} gallery, {args.threads} threads")
    print(f"batched torch (query_gallery_metrics): {batched_s:6.2f} s")
    print(f"loop over queries (torchreid's way):   {loop_s:6.2f} s")
    print(f"loop / batched: {loop_s / batched_s:.2f}; same figures: {same}")


if __name__ == "__main__":
    main()

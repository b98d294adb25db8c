"""Query/gallery ranking scored the re-id way: CMC, mAP and mINP, batched over queries with torch.

:func:`query_gallery_metrics` is the one implementation; :func:`reid_model.cmc_map` and the
Market-1501 protocol (:mod:`reid_model.protocols`) call it. For each chunk of queries, every
row is sorted (a stable argsort, so ties keep the gallery order), the match and kept masks are read
in that order, and their cumulative sums give each true match's rank among the kept items; CMC,
AP and INP follow from those ranks. The sort is most of the cost
(``python benchmarks/market_ranking.py`` times it against torchreid's loop over queries).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

Ids = Sequence[int] | np.ndarray | torch.Tensor


@dataclass(frozen=True, eq=False)
class RankingMetrics:
    """The scores of one query/gallery ranking; every mean is over the valid queries.

    Attributes:
        cmc: ``(max_rank,)`` float64; ``cmc[k - 1]`` is the rank-k accuracy.
        mean_ap: mean average precision.
        mean_inp: mean inverse negative penalty: per query, the number of true matches over
            the rank of the last (hardest) one.
        num_valid: queries with at least one true match left in the gallery.
        num_skipped: queries with none left, which no mean counts.
    """

    cmc: torch.Tensor
    mean_ap: float
    mean_inp: float
    num_valid: int
    num_skipped: int


def _as_ids(values: Ids, name: str, length: int, device: torch.device) -> torch.Tensor:
    ids = torch.as_tensor(np.asarray(values) if not isinstance(values, torch.Tensor) else values)
    if ids.shape != (length,):
        raise ValueError(f"{name} must have shape ({length},), got {tuple(ids.shape)}")
    return ids.to(device=device, dtype=torch.long)


def query_gallery_metrics(
    distmat: torch.Tensor | np.ndarray,
    query_ids: Ids,
    gallery_ids: Ids,
    query_cams: Ids | None = None,
    gallery_cams: Ids | None = None,
    *,
    max_rank: int = 20,
    chunk_size: int = 128,
) -> RankingMetrics:
    """CMC, mAP and mINP of ranking the gallery for each query, as torchreid and fast-reid score it.

    Each query's gallery is sorted by distance (ties keep the gallery order). When cameras are
    given, gallery items of the query's person seen by the query's camera are left out of its
    ranking. A query with no true match left is skipped and counted in ``num_skipped``. Queries
    are processed ``chunk_size`` at a time; the work follows ``distmat``'s device.

    Args:
        distmat: ``(Q, G)`` distances, smaller is more similar.
        query_ids: ``(Q,)`` person ids of the queries.
        gallery_ids: ``(G,)`` person ids of the gallery.
        query_cams: ``(Q,)`` camera ids, or None (then ``gallery_cams`` must be None too) to
            keep every gallery item.
        gallery_cams: ``(G,)`` camera ids, or None.
        max_rank: length of the CMC curve.
        chunk_size: queries ranked at once; memory grows as ``chunk_size * G``.

    Returns:
        The :class:`RankingMetrics`.

    Raises:
        ValueError: a shape does not match ``distmat``, only one of the camera arguments is
            given, ``max_rank`` or ``chunk_size`` is below 1, or no query has a true match.

    Example:
        >>> m = query_gallery_metrics(torch.tensor([[0.1, 0.9], [0.2, 0.1]]), [0, 1], [0, 1], max_rank=2)
        >>> m.cmc.tolist(), m.mean_ap, m.mean_inp
        ([1.0, 1.0], 1.0, 1.0)
    """
    dist = (distmat if isinstance(distmat, torch.Tensor) else torch.as_tensor(np.asarray(distmat))).detach()
    if not dist.is_floating_point():
        dist = dist.double()  # integer distances: exact up to 2**53
    if dist.ndim != 2:
        raise ValueError(f"distmat must have shape (Q, G), got {tuple(dist.shape)}")
    if max_rank < 1 or chunk_size < 1:
        raise ValueError(f"max_rank and chunk_size must be >= 1, got {max_rank} and {chunk_size}")
    if (query_cams is None) != (gallery_cams is None):
        raise ValueError("query_cams and gallery_cams must both be given or both be None")
    num_q, num_g = dist.shape
    device = dist.device
    q_ids = _as_ids(query_ids, "query_ids", num_q, device)
    g_ids = _as_ids(gallery_ids, "gallery_ids", num_g, device)
    cams = None
    if query_cams is not None and gallery_cams is not None:
        cams = (
            _as_ids(query_cams, "query_cams", num_q, device),
            _as_ids(gallery_cams, "gallery_cams", num_g, device),
        )
    firsts, aps, inps = [], [], []
    for start in range(0, num_q if num_g else 0, chunk_size):
        stop = min(start + chunk_size, num_q)
        hits = g_ids == q_ids[start:stop, None]  # (B, G)
        kept = torch.ones_like(hits)
        if cams is not None:  # the query's person seen by the query's camera: out of its ranking
            kept = ~(hits & (cams[1] == cams[0][start:stop, None]))
        # Sort each row (ties keep the gallery order) and read both masks in rank order.
        order = dist[start:stop].argsort(dim=1, stable=True)
        kept = kept.gather(1, order)
        hits = hits.gather(1, order) & kept
        rows, cols = hits.nonzero(as_tuple=True)  # the true matches, row by row in rank order
        rank = kept.cumsum(dim=1)[rows, cols]  # each match's rank among the kept items
        found = hits.cumsum(dim=1)[rows, cols]  # 1, 2, ...: the k-th match of its row
        num_hits = hits.sum(dim=1)
        valid = num_hits > 0
        ap = torch.zeros(stop - start, dtype=torch.float64, device=device)
        ap.index_add_(0, rows, found / rank.double())
        aps.append(ap[valid] / num_hits[valid])
        firsts.append(rank[found == 1])
        last = found == num_hits[rows]
        inps.append(found[last] / rank[last].double())
    first = torch.cat(firsts) if firsts else torch.empty(0, dtype=torch.long, device=device)
    if len(first) == 0:
        raise ValueError("no query has a true match in the gallery; check the person and camera ids")
    ranks = torch.arange(1, max_rank + 1, device=device)
    cmc = (first[:, None] <= ranks).double().mean(dim=0).cpu()
    return RankingMetrics(
        cmc=cmc,
        mean_ap=float(torch.cat(aps).mean()),
        mean_inp=float(torch.cat(inps).mean()),
        num_valid=len(first),
        num_skipped=num_q - len(first),
    )

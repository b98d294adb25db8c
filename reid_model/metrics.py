"""Re-identification metrics: the seed's triplet error (Eq. 3), CMC and mAP."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def condition_c(d_pos: torch.Tensor, d_neg: torch.Tensor) -> torch.Tensor:
    """Condition C per triplet: ``softmax(d+, d-)[0] < softmax(d+, d-)[1]``, that is ``d+ < d-``."""
    return d_pos < d_neg


def triplet_error(d_pos: torch.Tensor, d_neg: torch.Tensor) -> float:
    """The seed's error (Eq. 3): the fraction of triplets for which condition C does not hold.

    Example:
        >>> triplet_error(torch.tensor([1.0, 2.0, 3.0, 1.0]), torch.tensor([2.0, 1.0, 4.0, 1.0]))
        0.5
    """
    if d_pos.shape != d_neg.shape or d_pos.numel() == 0:
        raise ValueError(
            f"d_pos and d_neg must be non-empty and of one shape, got {tuple(d_pos.shape)} and {tuple(d_neg.shape)}"
        )
    return float((~condition_c(d_pos, d_neg)).float().mean())


def cmc_map(
    distmat: torch.Tensor | np.ndarray,
    query_ids: Sequence[int] | np.ndarray | torch.Tensor,
    gallery_ids: Sequence[int] | np.ndarray | torch.Tensor,
    query_cams: Sequence[int] | np.ndarray | torch.Tensor | None = None,
    gallery_cams: Sequence[int] | np.ndarray | torch.Tensor | None = None,
    *,
    max_rank: int = 20,
) -> tuple[np.ndarray, float]:
    """CMC curve and mean average precision, the usual re-id way.

    Gallery items of the query's own person seen by the query's own camera are left out (when
    cameras are given); queries with no true match left are skipped.

    Args:
        distmat: ``(Q, G)`` distances, smaller is more similar.
        query_ids: ``(Q,)`` person ids; gallery_ids: ``(G,)``.
        query_cams, gallery_cams: camera ids, or None to keep all gallery items.
        max_rank: length of the returned CMC curve.

    Returns:
        ``cmc`` of length ``max_rank`` (``cmc[k-1]`` is rank-k accuracy) and ``mAP``.

    Example:
        >>> cmc, mAP = cmc_map(torch.tensor([[0.1, 0.9], [0.2, 0.1]]), [0, 1], [0, 1], max_rank=2)
        >>> cmc.tolist(), mAP
        ([1.0, 1.0], 1.0)
    """
    dist = distmat.detach().cpu().numpy() if isinstance(distmat, torch.Tensor) else np.asarray(distmat)
    q_ids, g_ids = np.asarray(query_ids), np.asarray(gallery_ids)
    if dist.shape != (len(q_ids), len(g_ids)):
        raise ValueError(f"distmat must have shape ({len(q_ids)}, {len(g_ids)}), got {dist.shape}")
    q_cams = None if query_cams is None else np.asarray(query_cams)
    g_cams = None if gallery_cams is None else np.asarray(gallery_cams)
    order = np.argsort(dist, axis=1, kind="stable")
    cmc_sum = np.zeros(max_rank)
    aps = []
    for q in range(len(q_ids)):
        ranked = order[q]
        if q_cams is not None and g_cams is not None:
            keep = ~((g_ids[ranked] == q_ids[q]) & (g_cams[ranked] == q_cams[q]))
            ranked = ranked[keep]
        matches = g_ids[ranked] == q_ids[q]
        if not matches.any():
            continue
        first = int(np.argmax(matches))
        if first < max_rank:
            cmc_sum[first:] += 1
        hits = np.cumsum(matches)
        precision = hits[matches] / (np.flatnonzero(matches) + 1)
        aps.append(precision.mean())
    if not aps:
        raise ValueError("no query has a true match in the gallery; check the person and camera ids")
    return cmc_sum / len(aps), float(np.mean(aps))

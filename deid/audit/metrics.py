"""Retrieval scores of the audit: rank-1/5, mAP and the seed's error from a distance matrix."""

from __future__ import annotations

import numpy as np
import torch

from reid_model import TripletSampler, cmc_map, triplet_error


def _expected_ap(matches: int, gallery: int) -> float:
    """Expected average precision of a random ranking: ``matches`` true items among ``gallery``."""
    harmonic = float(np.sum(1.0 / np.arange(1, gallery + 1)))
    if gallery == 1:
        return 1.0
    return ((matches - 1) / (gallery - 1) * (gallery - harmonic) + harmonic) / gallery


def retrieval_scores(
    distmat: torch.Tensor,
    labels: torch.Tensor,
    cameras: torch.Tensor,
    *,
    query_camera: int = 0,
    seed: int = 0,
    negatives_per_anchor: int = 10,
) -> dict[str, float]:
    """Rank-1/5, mAP and the seed's error from a square ``distmat (N, N)``: two views of one set.

    Row ``i`` and column ``i`` are the same appearance (say, concealed and original). Queries are
    the rows from ``query_camera``, the gallery the columns from the other cameras. The seed's
    error uses fixed-seed triplets (anchor row, positive column of the same person from another
    camera, negative column of another person). Chance levels are returned beside them.

    Args:
        distmat: ``(N, N)`` distances, smaller = more similar.
        labels: ``(N,)`` person ids; cameras: ``(N,)`` camera ids.

    Example:
        >>> d = torch.tensor([[9.0, 1, 5, 6], [1, 9, 6, 5], [5, 6, 9, 1], [6, 5, 1, 9]])
        >>> retrieval_scores(d, torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 0, 1]))["rank1"]
        1.0
    """
    n = len(labels)
    if distmat.shape != (n, n):
        raise ValueError(f"distmat must have shape ({n}, {n}), got {tuple(distmat.shape)}")
    labels, cameras = labels.cpu(), cameras.cpu()
    query = cameras == query_camera
    distmat = distmat.detach().float().cpu()
    cmc, mean_ap = cmc_map(
        distmat[query][:, ~query], labels[query].numpy(), labels[~query].numpy(), max_rank=5
    )
    triplets = TripletSampler(
        labels=labels.tolist(),
        cameras=cameras.tolist(),
        negatives_per_anchor=negatives_per_anchor,
        seed=seed,
    ).sample(epoch=0)
    a, p, neg = triplets.unbind(1)
    gallery_labels = labels[~query]
    matches = [int((gallery_labels == q).sum()) for q in labels[query].tolist()]
    valid = [m for m in matches if m > 0]
    return {
        "rank1": float(cmc[0]),
        "rank5": float(cmc[4]),
        "mAP": mean_ap,
        "seed_error": triplet_error(distmat[a, p], distmat[a, neg]),
        "rank1_chance": float(np.mean([m / len(gallery_labels) for m in valid])),
        "mAP_chance": float(np.mean([_expected_ap(m, len(gallery_labels)) for m in valid])),
        "seed_error_chance": 0.5,
    }

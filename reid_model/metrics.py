"""Re-identification metrics, the one place for them: the seed's error (Eq. 3), rank-k and mAP.

:func:`seed_error` (from embeddings) and :func:`retrieval_scores` (from a distance matrix, with
the chance figures) share one fixed-seed triplet draw, :func:`seed_triplets`; rank-k and mAP
come from :func:`cmc_map`, a thin form of :func:`reid_model.ranking.query_gallery_metrics` (which
adds mINP). ``reid_model.evaluation``, ``attribution`` and ``deid``'s audit use these rather than
their own copies.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from reid_model.ranking import query_gallery_metrics
from reid_model.sampling import TripletSampler

#: Negatives drawn per anchor for the seed's error; the draw is fixed by ``seed``.
NEGATIVES_PER_ANCHOR = 10


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
    cameras are given); queries with no true match left are skipped. A thin form of
    :func:`reid_model.ranking.query_gallery_metrics`, which also gives mINP and the skipped count.

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
    result = query_gallery_metrics(
        distmat, query_ids, gallery_ids, query_cams, gallery_cams, max_rank=max_rank
    )
    return result.cmc.numpy(), result.mean_ap


def seed_triplets(
    labels: Sequence[int],
    cameras: Sequence[int],
    *,
    seed: int = 0,
    negatives_per_anchor: int = NEGATIVES_PER_ANCHOR,
) -> torch.Tensor:
    """The fixed-seed triplets of the seed's error: ``(T, 3)`` indices (anchor, positive, negative).

    The positive is the anchor's person from another camera, the negative another person.
    """
    return TripletSampler(
        labels=labels, cameras=cameras, negatives_per_anchor=negatives_per_anchor, seed=seed
    ).sample(epoch=0)


def seed_error(
    embeddings: torch.Tensor,
    labels: Sequence[int],
    cameras: Sequence[int],
    *,
    gallery: torch.Tensor | None = None,
    seed: int = 0,
    negatives_per_anchor: int = NEGATIVES_PER_ANCHOR,
) -> float:
    """The seed's error over fixed-seed triplets (:func:`seed_triplets`) of embeddings ``(N, D)``.

    Args:
        embeddings: ``(N, D)`` the anchors' embeddings.
        labels: ``(N,)`` person ids; cameras: ``(N,)`` camera ids.
        gallery: ``(N, D)`` the positives' and negatives' embeddings, aligned with
            ``embeddings`` (say, originals against concealed anchors); None uses ``embeddings``.
        seed: fixes the triplet draw.
        negatives_per_anchor: negatives drawn per anchor.

    Example:
        >>> seed_error(torch.tensor([[0.0], [0.1], [5.0], [5.1]]), [0, 0, 1, 1], [0, 1, 0, 1])
        0.0
    """
    others = embeddings if gallery is None else gallery
    if others.shape != embeddings.shape:
        raise ValueError(
            f"gallery must have the embeddings' shape {tuple(embeddings.shape)}, got {tuple(others.shape)}"
        )
    triplets = seed_triplets(labels, cameras, seed=seed, negatives_per_anchor=negatives_per_anchor)
    anchor = embeddings[triplets[:, 0]]
    d_pos = (anchor - others[triplets[:, 1]]).norm(dim=1)
    d_neg = (anchor - others[triplets[:, 2]]).norm(dim=1)
    return triplet_error(d_pos, d_neg)


def retrieval_metrics(
    embeddings: torch.Tensor, labels: Sequence[int], cameras: Sequence[int], *, query_camera: int = 0
) -> dict[str, float]:
    """Rank-1/5/10/20 and mAP with queries from ``query_camera`` and the gallery from the others."""
    labels_t, cameras_t = torch.as_tensor(labels), torch.as_tensor(cameras)
    is_query = cameras_t == query_camera
    if not is_query.any() or is_query.all():
        raise ValueError(f"retrieval needs images from camera {query_camera} and from another camera")
    distmat = torch.cdist(embeddings[is_query], embeddings[~is_query])
    cmc, mean_ap = cmc_map(
        distmat, labels_t[is_query], labels_t[~is_query], cameras_t[is_query], cameras_t[~is_query]
    )
    return {
        "rank1": float(cmc[0]),
        "rank5": float(cmc[4]),
        "rank10": float(cmc[9]),
        "rank20": float(cmc[19]),
        "mAP": mean_ap,
    }


def expected_average_precision(matches: int, gallery: int) -> float:
    """Expected average precision of a random ranking: ``matches`` true items among ``gallery``.

    Example:
        >>> expected_average_precision(1, 1)
        1.0
    """
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
    negatives_per_anchor: int = NEGATIVES_PER_ANCHOR,
) -> dict[str, float]:
    """Rank-1/5, mAP and the seed's error from a square ``distmat (N, N)``: two views of one set.

    Row ``i`` and column ``i`` are the same appearance (say, concealed and original). Queries are
    the rows from ``query_camera``, the gallery the columns from the other cameras. The seed's
    error uses the triplets of :func:`seed_triplets` (anchor row, positive column of the same
    person from another camera, negative column of another person). Chance levels are returned
    beside them.

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
    triplets = seed_triplets(
        labels.tolist(), cameras.tolist(), seed=seed, negatives_per_anchor=negatives_per_anchor
    )
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
        "mAP_chance": float(np.mean([expected_average_precision(m, len(gallery_labels)) for m in valid])),
        "seed_error_chance": 0.5,
    }

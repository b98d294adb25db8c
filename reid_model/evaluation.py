"""Evaluate an embedder on a split: the seed's error on train/val/test, CMC and mAP on test."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from reid_model.data import Sample
from reid_model.embedders import Embedder
from reid_model.inference import embed
from reid_model.io import load_images
from reid_model.metrics import cmc_map, triplet_error
from reid_model.sampling import TripletSampler
from reid_model.splits import Split, select

#: Negatives drawn per anchor for the seed's error; the draw is fixed by ``seed``.
NEGATIVES_PER_ANCHOR = 10


def seed_error(
    embeddings: torch.Tensor,
    labels: Sequence[int],
    cameras: Sequence[int],
    *,
    seed: int = 0,
    negatives_per_anchor: int = NEGATIVES_PER_ANCHOR,
) -> float:
    """The seed's error over fixed-seed triplets of a set of embeddings ``(N, D)``."""
    triplets = TripletSampler(
        labels=labels, cameras=cameras, negatives_per_anchor=negatives_per_anchor, seed=seed
    ).sample(epoch=0)
    a, p, n = embeddings[triplets[:, 0]], embeddings[triplets[:, 1]], embeddings[triplets[:, 2]]
    return triplet_error((a - p).norm(dim=1), (a - n).norm(dim=1))


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


def evaluate_embeddings(
    embeddings: torch.Tensor, samples: Sequence[Sample], *, seed: int = 0
) -> dict[str, float]:
    """Seed error, CMC and mAP of one person set's embeddings ``(N, D)``."""
    labels = [s.person_id for s in samples]
    cameras = [s.camera_id for s in samples]
    metrics = {"seed_error": seed_error(embeddings, labels, cameras, seed=seed)}
    metrics.update(retrieval_metrics(embeddings, labels, cameras))
    metrics["num_persons"] = float(len(set(labels)))
    return metrics


def evaluate(
    model: Embedder,
    samples: Sequence[Sample],
    split: Split,
    *,
    seed: int = 0,
    images: torch.Tensor | None = None,
) -> dict[str, dict[str, float]]:
    """Evaluate ``model`` on each non-empty part of ``split``.

    Args:
        model: the embedder.
        samples: the whole dataset.
        split: which persons are train, val and test.
        seed: fixes the triplets of the seed's error.
        images: optional preloaded ``(N, 3, 128, 48)`` images aligned with ``samples``.

    Returns:
        ``{"train": {...}, "val": {...}, "test": {...}}`` with ``seed_error``, ``rank1``, ``rank5``,
        ``rank10``, ``rank20``, ``mAP`` and ``num_persons`` for each part.
    """
    index = {s: i for i, s in enumerate(samples)}
    results = {}
    for part in ("train", "val", "test"):
        ids = getattr(split, part)
        if not ids:
            continue
        subset = select(samples, ids)
        batch = (
            images[[index[s] for s in subset]]
            if images is not None
            else load_images([s.path for s in subset])
        )
        results[part] = evaluate_embeddings(embed(model, batch), subset, seed=seed)
    return results

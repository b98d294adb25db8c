"""Evaluate an embedder: on a split (the seed's error, CMC and mAP per part), or queries against a gallery."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from reid_model.data import Sample
from reid_model.embedders import Embedder
from reid_model.inference import embed
from reid_model.io import load_images
from reid_model.metrics import retrieval_metrics, seed_error
from reid_model.ranking import query_gallery_metrics
from reid_model.splits import Split, select


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


def _embed_files(model: Embedder, samples: Sequence[Sample], batch_size: int) -> torch.Tensor:
    chunks = [
        embed(model, load_images([s.path for s in samples[start : start + batch_size]]))
        for start in range(0, len(samples), batch_size)
    ]
    return torch.cat(chunks) if chunks else torch.empty(0, model.embedding_dim)


def evaluate_query_gallery(
    model: Embedder, query: Sequence[Sample], gallery: Sequence[Sample], *, batch_size: int = 256
) -> dict[str, float]:
    """Rank-1/5/10/20, mAP and mINP of ``query`` images against a ``gallery``: a fixed protocol.

    Each query ranks the whole gallery by Euclidean distance, leaving out the images of its own
    person from its own camera (:func:`reid_model.ranking.query_gallery_metrics`). Images are
    read and embedded ``batch_size`` at a time: only the embeddings and the ``(Q, G)`` distances
    are held at once (Market-1501: about 210 MB of distances).

    Args:
        model: the embedder.
        query: the query images.
        gallery: the gallery images; persons no query has (say, distractors) are wrong matches.
        batch_size: images read at once.

    Returns:
        ``rank1``, ``rank5``, ``rank10``, ``rank20``, ``mAP`` and ``mINP`` over the queries with
        a true match left, ``num_persons`` (query persons), ``num_queries``, ``num_gallery`` and
        ``num_skipped`` (queries with no true match left, in no mean).

    Raises:
        ValueError: no query has a true match in the gallery.

    Example:
        >>> query, gallery = market1501_query_gallery("Market-1501")  # doctest: +SKIP
        >>> evaluate_query_gallery(load_default(), query, gallery)["num_queries"]
        3368.0
    """
    scores = query_gallery_metrics(
        torch.cdist(_embed_files(model, query, batch_size), _embed_files(model, gallery, batch_size)),
        [s.person_id for s in query],
        [s.person_id for s in gallery],
        [s.camera_id for s in query],
        [s.camera_id for s in gallery],
        max_rank=20,
    )
    cmc = scores.cmc.tolist()
    return {
        "rank1": cmc[0],
        "rank5": cmc[4],
        "rank10": cmc[9],
        "rank20": cmc[19],
        "mAP": scores.mean_ap,
        "mINP": scores.mean_inp,
        "num_persons": float(len({s.person_id for s in query})),
        "num_queries": float(len(query)),
        "num_gallery": float(len(gallery)),
        "num_skipped": float(scores.num_skipped),
    }

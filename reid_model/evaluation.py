"""Evaluate an embedder on a split: the seed's error, CMC and mAP (from :mod:`reid_model.metrics`) per part."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from reid_model.data import Sample
from reid_model.embedders import Embedder
from reid_model.inference import embed
from reid_model.io import load_images
from reid_model.metrics import retrieval_metrics, seed_error
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

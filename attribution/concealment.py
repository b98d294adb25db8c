"""How much concealing a body region breaks matching: rank-1 and the seed's error, before and after.

The threat model is ``deid``'s: the query views are concealed, the adversary's gallery holds the
original views. Every person has two views ``a`` and ``b`` (two cameras).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from attribution._fills import fill_masked
from reid_model import Embedder, cmc_map, embed, seed_error
from reid_model.checks import check_images, check_same_length


def person_errors(query: torch.Tensor, gallery: torch.Tensor) -> torch.Tensor:
    """Per person, the fraction of other persons' gallery embeddings closer than their own.

    ``query (P, D)`` and ``gallery (P, D)`` are aligned by person. The mean over persons is the
    seed's error (Eq. 3) over all negatives: the chance that condition C fails for a random one.

    Example:
        >>> person_errors(torch.eye(3), torch.eye(3))
        tensor([0., 0., 0.])
    """
    check_same_length("query", query, "gallery", gallery)
    distmat = torch.cdist(query, gallery)
    own = distmat.diagonal()[:, None]
    closer = (distmat < own).float()
    return closer.sum(dim=1) / max(1, len(query) - 1)


def _rank1(query: torch.Tensor, gallery: torch.Tensor) -> float:
    """Rank-1 of ``query (P, D)`` against ``gallery (P, D)``, aligned by person."""
    persons = torch.arange(len(query))
    cmc, _ = cmc_map(torch.cdist(query, gallery), persons, persons, max_rank=1)
    return float(cmc[0])


def region_concealment(
    model: Embedder,
    views_a: torch.Tensor,
    views_b: torch.Tensor,
    regions: Mapping[str, torch.Tensor],
    *,
    fill: str = "mean",
    seed: int = 0,
) -> tuple[list[dict[str, float | str]], dict[str, torch.Tensor]]:
    """Conceal each region in every query view and measure matching against the original views.

    Args:
        model: the embedder.
        views_a, views_b: ``(P, 3, H, W)``, person ``p``'s two views at index ``p``.
        regions: name -> ``(H, W)`` bool masks at the views' resolution, or ``(2P, H, W)`` per
            view (views a, then views b: e.g. body parts from each view's pose). A row ``none``
            (nothing concealed) and a row ``everything`` (the whole crop) are added for reference.
        fill: ``"mean"`` (each image's mean colour) or ``"blur"``.
        seed: fixes the triplets of the seed's error (the same draw as ``reid_model.seed_error``).

    Returns:
        One row per region (``rank1`` with queries from view a, ``seed_error``, ``person_error``
        and their changes), and per region the per-person error ``(P,)`` after concealing it.

    Example:
        >>> rows, errors = region_concealment(model, a, b, body_regions(128, 48))  # doctest: +SKIP
    """
    check_images(views_a, "views_a")
    check_images(views_b, "views_b")
    if views_a.shape != views_b.shape or len(views_a) < 2:
        raise ValueError(
            f"views_a and views_b must have one shape with at least 2 persons, got "
            f"{tuple(views_a.shape)} and {tuple(views_b.shape)}"
        )
    count = len(views_a)
    labels = list(range(count)) * 2
    cameras = [0] * count + [1] * count
    views = torch.cat([views_a, views_b])
    original = embed(model, views)
    h, w = views.shape[-2:]
    masks = {
        "none": torch.zeros(h, w, dtype=torch.bool),
        **dict(regions),
        "everything": torch.ones(h, w, dtype=torch.bool),
    }
    rows: list[dict[str, float | str]] = []
    errors: dict[str, torch.Tensor] = {}
    for name, mask in masks.items():
        if tuple(mask.shape) not in ((h, w), (2 * count, h, w)):
            raise ValueError(
                f"region {name!r} must have shape ({h}, {w}) or ({2 * count}, {h}, {w}) to match the "
                f"views, got {tuple(mask.shape)}"
            )
        if name == "none":
            concealed = original
        else:
            per_view = mask.to(views.device)
            hidden = fill_masked(
                views, per_view[:, None] if per_view.ndim == 3 else per_view[None, None], fill=fill
            )
            concealed = embed(model, hidden)
        per_person = (
            person_errors(concealed[:count], original[count:])
            + person_errors(concealed[count:], original[:count])
        ) / 2
        errors[name] = per_person
        rows.append(
            {
                "region": name,
                "area": float(mask.float().mean()),
                "rank1": _rank1(concealed[:count], original[count:]),
                "seed_error": seed_error(concealed, labels, cameras, gallery=original, seed=seed),
                "person_error": float(per_person.mean()),
            }
        )
    before = rows[0]
    for row in rows:
        row["rank1_drop"] = float(before["rank1"]) - float(row["rank1"])
        row["seed_error_increase"] = float(row["seed_error"]) - float(before["seed_error"])
    return rows, errors

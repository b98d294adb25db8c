"""The privacy search over mask sizes: grid-cell masks, the check of each size, the binary refinement."""

from __future__ import annotations

import torch

from deid.adversary import Adversary
from deid.loop.appearances import People, private_people
from deid.operators.base import Operator
from deid.operators.outfit import Outfits


def cell_masks(cells: torch.Tensor, chosen: torch.Tensor) -> torch.Tensor:
    """Masks ``(P, 1, H, W)`` from chosen cells ``(P, R)`` over cells ``(R, H, W)``."""
    r, h, w = cells.shape
    return (chosen.float() @ cells.reshape(r, -1).float()).clamp(max=1.0).reshape(-1, 1, h, w)


def check_people(
    batch: People,
    operator: Operator | Outfits,
    adversary: Adversary,
    masks: torch.Tensor,
    originals: list[torch.Tensor],
    people: torch.Tensor,
    latest: list[torch.Tensor],
    *,
    private_only: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Render and check the appearances of ``people`` ``(P,)`` bool with ``masks``.

    ``latest`` holds, per model, the embeddings ``(A, D)`` of every appearance under its
    person's current mask; the rows of ``people`` (with ``private_only``, of those found
    private) are overwritten with this check's embeddings, so the final check needs no new
    forward pass.

    Returns per-person privacy ``(P,)`` (False outside ``people``) and the rendered model-size
    views of those appearances.
    """
    subset = people[batch.groups]
    view = batch.render(operator, masks, subset)[1]
    embeddings = adversary.embed(view)
    check = adversary.check(embeddings, [o[subset] for o in originals], batch.groups[subset])
    private = private_people(check, batch.groups[subset], len(people)) & people
    rows = (private if private_only else people)[batch.groups[subset]]
    for full, part in zip(latest, embeddings, strict=True):
        full[torch.nonzero(subset).flatten()[rows]] = part[rows]
    return private, view


def refine(
    batch: People,
    operator: Operator | Outfits,
    adversary: Adversary,
    cells: torch.Tensor,
    order: torch.Tensor,
    people: torch.Tensor,
    low: int,
    originals: list[torch.Tensor],
    latest: list[torch.Tensor],
) -> None:
    """Binary-search the shortest private prefix of each person's ranked cells.

    ``people`` were not private with their first ``low`` cells and are private with all of their
    cells; each round checks all of them at once. Cells beyond the shortest private prefix leave
    the mask (``order`` is updated in place, and ``latest`` as in :func:`check_people`).
    """
    total = (order < len(cells) + 1).sum(1)
    lo = torch.full_like(total, low)
    hi = total.clone()
    while True:
        searching = people & (hi - lo > 1)
        if not bool(searching.any()):
            break
        mid = (lo + hi) // 2
        masks = cell_masks(cells, order < mid[:, None])
        private, _ = check_people(
            batch, operator, adversary, masks, originals, searching, latest, private_only=True
        )
        hi = torch.where(searching & private, mid, hi)
        lo = torch.where(searching & ~private, mid, lo)
    order[people[:, None] & (order >= hi[:, None])] = len(cells) + 1

"""The conceal loop's last resort: the whole crop, with the first treatment that defeats the adversary."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from deid.adversary import Adversary, PrivacyCheck
from deid.loop.appearances import People, private_people
from deid.operators.base import Operator
from deid.operators.fill import Fill
from deid.operators.outfit import Outfits
from deid.operators.registry import build_operator

if TYPE_CHECKING:
    from deid.loop.config import ConcealConfig


def fallback_operators(
    config: ConcealConfig, operator: Operator | Outfits, outfits: Outfits | None = None
) -> list[tuple[str, Operator | Outfits]]:
    """Whole-crop treatments tried in order by the fallback, the loop's own ``operator`` first.

    With ``"auto"`` the palette ends with ``outfits`` (each person's drawn outfit), when given
    and not already the loop's own fill: a fixed colour defeats the chance-level target for
    only part of the people, a drawn outfit for nearly all.
    """
    first: list[tuple[str, Operator | Outfits]] = [(config.operator, operator)]
    if config.fallback_operator != "auto":
        return [*first, (config.fallback_operator, build_operator(config.fallback_operator, 1.0))]
    palette: list[tuple[str, Operator | Outfits]] = [
        ("fill grey", Fill(color=0.5)),
        ("fill black", Fill(color=0.0)),
        ("fill white", Fill(color=1.0)),
        ("noise+color_shift", build_operator("noise+color_shift", 1.0)),
    ]
    if outfits is not None and outfits is not operator:
        palette.append(("outfit", outfits))
    return first + palette


def conceal_whole_crops(
    batch: People,
    adversary: Adversary,
    config: ConcealConfig,
    operator: Operator | Outfits,
    masks: torch.Tensor,
    originals: list[torch.Tensor],
    failed: torch.Tensor,
    names: list[str | None],
    concealed: list[torch.Tensor | None],
    embeddings: list[torch.Tensor],
    outfits: Outfits | None = None,
) -> tuple[list[torch.Tensor | None], PrivacyCheck]:
    """Conceal the whole crop of the ``failed`` people; try each fallback operator in turn.

    ``concealed`` and ``embeddings`` are the loop's final images and their embeddings (updated
    in place); only the failed people's appearances are rendered and embedded again. A person
    takes the first treatment that makes them private, or else the one that leaves the lowest
    match rate. ``names`` records each person's treatment.
    """
    groups = batch.groups
    n_people = len(failed)
    best_rate = torch.full((n_people,), float("inf"))
    pending = failed.clone()
    for name, op in fallback_operators(config, operator, outfits):
        if not bool(pending.any()):
            break
        subset = pending[groups]
        images, trial_view = batch.render(op, masks, subset)
        trial = adversary.embed(trial_view)
        check = adversary.check(trial, [o[subset] for o in originals], groups[subset])
        private = private_people(check, groups[subset], n_people) & pending
        rate = torch.zeros(n_people).scatter_reduce(0, groups[subset], check.match_rate, "amax")
        better = pending & (private | (rate < best_rate))
        rows, keep = torch.nonzero(better[groups]).flatten(), better[groups[subset]]
        for i in rows.tolist():
            concealed[i] = images[i]
        for full, part in zip(embeddings, trial, strict=True):
            full[rows] = part[keep]
        for p in torch.nonzero(better).flatten().tolist():
            names[p] = name
        best_rate = torch.where(better, rate, best_rate)
        pending &= ~private
    return concealed, adversary.check(embeddings, originals, groups)

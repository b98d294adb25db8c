"""The conceal loop's last resort: the whole crop, with the first treatment that defeats the adversary."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from deid._people import People, private_people
from deid.adversary import Adversary, PrivacyCheck
from deid.operators import Fill, Operator, build_operator

if TYPE_CHECKING:
    from deid.conceal import ConcealConfig


def fallback_operators(config: ConcealConfig) -> list[tuple[str, Operator]]:
    """Whole-crop treatments tried in order by the fallback."""
    first = [(config.operator, build_operator(config.operator, config.strength))]
    if config.fallback_operator != "auto":
        return [*first, (config.fallback_operator, build_operator(config.fallback_operator, 1.0))]
    palette = [
        ("fill grey", Fill(color=0.5)),
        ("fill black", Fill(color=0.0)),
        ("fill white", Fill(color=1.0)),
        ("noise+color_shift", build_operator("noise+color_shift", 1.0)),
    ]
    return first + palette


def conceal_whole_crops(
    batch: People,
    adversary: Adversary,
    config: ConcealConfig,
    masks: torch.Tensor,
    originals: list[torch.Tensor],
    failed: torch.Tensor,
    names: list[str | None],
) -> tuple[list[torch.Tensor | None], torch.Tensor, PrivacyCheck]:
    """Conceal the whole crop of the ``failed`` people; try each fallback operator in turn.

    A person takes the first treatment that makes them private, or else the one that leaves the
    lowest match rate. ``names`` records each person's treatment.
    """
    groups = batch.groups
    n_people = len(failed)
    concealed, view = batch.render(build_operator(config.operator, config.strength), masks)
    best_rate = torch.full((n_people,), float("inf"))
    pending = failed.clone()
    for name, op in fallback_operators(config):
        if not bool(pending.any()):
            break
        subset = pending[groups]
        images, trial_view = batch.render(op, masks, subset)
        check = adversary.check(adversary.embed(trial_view), [o[subset] for o in originals], groups[subset])
        private = private_people(check, groups[subset], n_people) & pending
        rate = torch.zeros(n_people).scatter_reduce(0, groups[subset], check.match_rate, "amax")
        better = pending & (private | (rate < best_rate))
        for i in torch.nonzero(subset).flatten().tolist():
            if better[groups[i]]:
                concealed[i] = images[i]
        view[torch.nonzero(better[groups]).flatten()] = trial_view[better[groups[subset]]]
        for p in torch.nonzero(better).flatten().tolist():
            names[p] = name
        best_rate = torch.where(better, rate, best_rate)
        pending &= ~private
    return concealed, view, adversary.check(adversary.embed(view), originals, groups)

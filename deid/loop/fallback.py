"""The conceal loop's last resort: the whole crop, with the first treatment that defeats the adversary."""

from __future__ import annotations

import torch

from deid.loop.config import ConcealConfig
from deid.loop.state import Concealment, Problem
from deid.operators.base import Operator
from deid.operators.figure import Figure
from deid.operators.filling import Fill
from deid.operators.outfit import OutfitFill
from deid.operators.registry import build_operator


def fallback_operators(
    config: ConcealConfig, operator: Operator, outfits: OutfitFill | None = None, *, figure: bool = False
) -> list[tuple[str, Operator]]:
    """Whole-crop treatments tried in order by the fallback, the loop's own ``operator`` first
    (and alone with ``fallback_operator="own"``); with ``figure`` (the box, not a body) and
    :func:`figures` on, the stand-in figure in the outfit before it.

    With ``"auto"`` the palette ends with ``outfits`` (each person's drawn outfit, unshaded at
    full opacity: the whole-crop image it was drawn for), when given and not already the loop's
    own fill: a fixed colour defeats the chance-level target for only part of the people, a
    drawn outfit for nearly all. (A redressed outfit keeps the crop's shading, which carries
    the person's and the background's shapes to the hand-crafted attacker.)
    """
    first: list[tuple[str, Operator]] = [(config.operator, operator)]
    if config.fallback_operator == "own":
        return first
    worn = outfits if outfits is not None else operator if isinstance(operator, OutfitFill) else None
    if figure and figures(config) and worn is not None:
        first.insert(0, ("figure", Figure(worn.flat())))
    if config.fallback_operator != "auto":
        return [*first, (config.fallback_operator, build_operator(config.fallback_operator, 1.0))]
    palette: list[tuple[str, Operator]] = [
        ("fill grey", Fill(color=0.5)),
        ("fill black", Fill(color=0.0)),
        ("fill white", Fill(color=1.0)),
        ("noise+color_shift", build_operator("noise+color_shift", 1.0)),
    ]
    flat = None if outfits is None else outfits.flat()
    if flat is not None and flat is not operator:
        palette.append(("outfit", flat))
    return first + palette


def figures(config: ConcealConfig) -> bool:
    """Whether whoever is concealed by box gets a stand-in figure first (``config.figure``, with
    the body's shape, the automatic fallback and outfits)."""
    return (
        config.figure
        and config.shape == "body"
        and config.fallback_operator == "auto"
        and config.colors == "outfit"
    )


def conceal_whole_crops(
    problem: Problem, concealment: Concealment, people: torch.Tensor, palette: list[tuple[str, Operator]]
) -> Concealment:
    """Conceal the whole crop of ``people (P,)`` bool; try each treatment of ``palette`` in turn.

    Only those people's appearances are rendered and embedded again. A person takes the first
    treatment that makes them private, or else the one that leaves the lowest match rate; the
    returned concealment records it.
    """
    concealment = concealment.whole(people)
    best_rate = torch.full((len(people),), float("inf"))
    pending = people.clone()
    for name, operator in palette:
        if not bool(pending.any()):
            break
        trial = problem.trial(concealment.masks, pending, operator)
        rate = torch.zeros(len(people)).scatter_reduce(0, trial.groups, trial.check.match_rate, "amax")
        better = pending & (trial.private | (rate < best_rate))
        concealment = concealment.treated(better, trial, name)
        best_rate = torch.where(better, rate, best_rate)
        pending = pending & ~trial.private
    return concealment

"""The conceal loop's last resort: the whole crop, with the first treatment that defeats the adversary."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch

from deid.loop.config import ConcealConfig
from deid.loop.state import Concealment, Problem, Trial
from deid.operators.base import Operator
from deid.operators.figure import FIGURE_OUTFITS, Figure
from deid.operators.filling import Fill
from deid.operators.outfit import OutfitFill
from deid.operators.registry import build_operator

#: The fallback's whole-crop treatments, named, in the order they are tried.
Palette = list[tuple[str, Operator]]


def fallback_operators(
    config: ConcealConfig,
    operator: Operator,
    outfits: OutfitFill | None = None,
    *,
    figure: OutfitFill | None = None,
) -> Palette:
    """Whole-crop treatments tried in order by the fallback, the loop's own ``operator`` first
    (and alone with ``fallback_operator="own"``); with ``figure`` (the outfits a stand-in figure
    wears: on the box or a widened body, not the narrow body) and :func:`figures` on, the figure
    before it.

    With ``"auto"`` the palette ends with ``outfits`` (each person's drawn outfit, unshaded at
    full opacity: the whole-crop image it was drawn for), when given and not already the loop's
    own fill: a fixed colour defeats the chance-level target for only part of the people, a
    drawn outfit for nearly all. (A redressed outfit keeps the crop's shading, which carries
    the person's and the background's shapes to the hand-crafted attacker.)
    """
    first: Palette = [(config.operator, operator)]
    if config.fallback_operator == "own":
        return first
    if figure is not None and figures(config):
        first.insert(0, ("figure", Figure(figure.flat(), upright=figures_upright(config))))
    if config.fallback_operator != "auto":
        return [*first, (config.fallback_operator, build_operator(config.fallback_operator, 1.0))]
    palette: Palette = [
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


def figures_upright(config: ConcealConfig) -> bool:
    """Whether the stand-in figures stand upright (``config.figure_pose``) rather than in each
    person's own pose."""
    return config.figure_pose == "upright"


def choose_figures(
    problem: Problem,
    concealment: Concealment,
    people: torch.Tensor,
    draws: Sequence[OutfitFill],
    chosen: OutfitFill | None = None,
    *,
    upright: bool = False,
) -> OutfitFill:
    """The outfits the stand-in figures of ``people (P,)`` bool wear: per person, the first of
    ``draws`` (each one outfit per person) whose figure (in the person's own poses, or
    ``upright``), on the whole crop, makes them private, else the one that leaves the lowest
    match rate. The other people keep their row of ``chosen`` (or of the first draw)."""
    rows = torch.zeros(len(people), dtype=torch.long)
    masks = concealment.whole(people).masks
    figures = [Figure(draw, upright=upright) for draw in draws]
    for k, _, took in _first_private(problem, masks, people, figures):
        rows[took] = k
    worn = draws[0]
    for k, draw in enumerate(draws[1:], start=1):
        worn = worn.where(rows == k, draw)
    return worn if chosen is None else chosen.where(people, worn)


def own_first(outfits: OutfitFill, draws: Sequence[OutfitFill]) -> list[OutfitFill]:
    """The outfits a figure tries: each person's own (``outfits``, flat) in place of the first
    draw where the figure shows on it (:data:`deid.operators.figure.FIGURE_OUTFITS`), then the
    other draws. Whoever the figure in their own outfit made private (before the draws) is."""
    own = outfits.flat()
    shows = FIGURE_OUTFITS.allowed(own.tops, own.bottoms, own.pattern_index())
    return [draws[0].where(shows, own), *draws[1:]]


def conceal_whole_crops(
    problem: Problem, concealment: Concealment, people: torch.Tensor, palette: Palette
) -> Concealment:
    """Conceal the whole crop of ``people (P,)`` bool; try each treatment of ``palette`` in turn.

    Only those people's appearances are rendered and embedded again. A person takes the first
    treatment that makes them private, or else the one that leaves the lowest match rate; the
    returned concealment records it.
    """
    concealment = concealment.whole(people)
    for k, trial, took in _first_private(problem, concealment.masks, people, [op for _, op in palette]):
        concealment = concealment.treated(took, trial, palette[k][0])
    return concealment


def _first_private(
    problem: Problem, masks: torch.Tensor, people: torch.Tensor, operators: Sequence[Operator]
) -> Iterator[tuple[int, Trial, torch.Tensor]]:
    """Try each of ``operators`` in turn with ``masks`` on those of ``people (P,)`` bool still
    matched; yield ``(k, trial, took)``: the people that take operator ``k`` for now (private
    with it, or matched at a lower rate than with any before)."""
    best_rate = torch.full((len(people),), float("inf"))
    pending = people.clone()
    for k, operator in enumerate(operators):
        if not bool(pending.any()):
            break
        trial = problem.trial(masks, pending, operator)
        rate = torch.zeros(len(people)).scatter_reduce(0, trial.groups, trial.check.match_rate, "amax")
        took = pending & (trial.private | (rate < best_rate))
        yield k, trial, took
        best_rate = torch.where(took, rate, best_rate)
        pending = pending & ~trial.private

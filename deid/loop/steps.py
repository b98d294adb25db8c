"""The steps of the mask search: check each person's current mask, and refine the one that reached privacy.

Each step takes the :class:`~deid.loop.state.SearchState` and returns a new one.
"""

from __future__ import annotations

import torch

from deid.loop.state import Problem, SearchState, Trial, cell_masks


def check_people(problem: Problem, state: SearchState, people: torch.Tensor) -> tuple[Trial, SearchState]:
    """Render and check the appearances of ``people (P,)`` bool under their current masks.

    Returns the trial (per-person privacy, False outside ``people``, and the rendered model-size
    views) and the state with these embeddings as the latest of ``people``.
    """
    trial = problem.trial(state.masks(problem.cells), people)
    return trial, state.seen(trial, people)


def refine(problem: Problem, state: SearchState, people: torch.Tensor, low: int) -> SearchState:
    """Binary-search the shortest private prefix of each person's ranked cells.

    ``people (P,)`` were not private with their first ``low`` cells and are private with all of
    their cells; each round checks all of them at once. In the returned state the cells beyond
    the shortest private prefix have left the mask, and the latest embeddings are those of it.
    """
    hi = state.chosen.sum(1)
    lo = torch.full_like(hi, low)
    while True:
        searching = people & (hi - lo > 1)
        if not bool(searching.any()):
            break
        mid = (lo + hi) // 2
        trial = problem.trial(cell_masks(problem.cells, state.order < mid[:, None]), searching)
        state = state.seen(trial, trial.private)
        hi = torch.where(searching & trial.private, mid, hi)
        lo = torch.where(searching & ~trial.private, mid, lo)
    return state.cut(people, hi)

"""The conceal loop's state: what stays fixed while it runs, and what it has found so far.

:class:`Problem` is fixed for a call: the people, the adversary that judges them, the operator
and the grid cells masks are made of. :class:`SearchState` is what the mask search knows per
person; :class:`Concealment` is what the loop hands back before the check of the written bytes.
Both are frozen: a step takes a state and returns a new one, it never changes the one it got.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch

from deid.adversary import Adversary, PrivacyCheck
from deid.loop.appearances import People, private_people
from deid.operators.base import Operator


def cell_masks(cells: torch.Tensor, chosen: torch.Tensor) -> torch.Tensor:
    """Masks ``(P, 1, H, W)`` from chosen cells ``(P, R)`` over cells ``(R, H, W)``."""
    r, h, w = cells.shape
    return (chosen.float() @ cells.reshape(r, -1).float()).clamp(max=1.0).reshape(-1, 1, h, w)


def _with_rows(
    embeddings: Sequence[torch.Tensor], index: torch.Tensor, rows: Sequence[torch.Tensor]
) -> tuple[torch.Tensor, ...]:
    """Per model, ``embeddings (A, D)`` with rows ``index`` replaced by ``rows``; no input changes."""
    return tuple(full.index_copy(0, index, part) for full, part in zip(embeddings, rows, strict=True))


@dataclass(frozen=True, eq=False)
class Trial:
    """Some people rendered under masks, as the adversary sees them written and decoded.

    Attributes:
        subset: ``(A,)`` bool, the appearances rendered.
        groups: ``(n,)`` the person of each rendered appearance.
        images: per appearance, the concealed image at input resolution (None outside ``subset``).
        view: ``(n, 3, h, w)`` the rendered appearances at the adversary's size, as written.
        embeddings: per model, ``(n, D)`` embeddings of ``view``.
        check: the adversary's verdict on the rendered appearances.
        private: ``(P,)`` per person, whether all of their appearances are private (False for
            people not tried).
    """

    subset: torch.Tensor
    groups: torch.Tensor
    images: list[torch.Tensor | None]
    view: torch.Tensor
    embeddings: list[torch.Tensor]
    check: PrivacyCheck
    private: torch.Tensor


@dataclass(frozen=True, eq=False)
class Problem:
    """What one call of the loop conceals, against whom and how: fixed while it runs.

    Attributes:
        people: the appearances of the people.
        adversary: the judge (its privacy target included).
        operator: how pixels change inside a mask (each person's outfit, say).
        originals: per model, ``(A, D)`` embeddings of the original appearances.
        cells: ``(R, h, w)`` the grid cells masks are made of, at the adversary's input size.
    """

    people: People
    adversary: Adversary
    operator: Operator
    originals: tuple[torch.Tensor, ...]
    cells: torch.Tensor

    @property
    def groups(self) -> torch.Tensor:
        """``(A,)`` the person of each appearance."""
        return self.people.groups

    @property
    def n_people(self) -> int:
        return int(self.groups.max()) + 1

    def check(self, embeddings: Sequence[torch.Tensor]) -> PrivacyCheck:
        """The adversary's verdict on every appearance from their embeddings ``(A, D)`` per model."""
        return self.adversary.check(embeddings, self.originals, self.groups)

    def private(self, check: PrivacyCheck) -> torch.Tensor:
        """Per person ``(P,)``, from a verdict on every appearance."""
        return private_people(check, self.groups, self.n_people)

    def trial(self, masks: torch.Tensor, people: torch.Tensor, operator: Operator | None = None) -> Trial:
        """Render ``people (P,)`` bool with ``masks (P, 1, h, w)`` and the ``operator`` (default
        the loop's), embed them as written, and check them against their originals."""
        subset = people[self.groups]
        groups = self.groups[subset]
        images, view = self.people.render(operator or self.operator, masks, subset)
        embeddings, check = self.adversary.judge(view, [o[subset] for o in self.originals], groups)
        private = private_people(check, groups, len(people)) & people
        return Trial(subset, groups, images, view, embeddings, check, private)

    def written(self, images: Sequence[torch.Tensor | None]) -> tuple[list[bytes], PrivacyCheck]:
        """Encode every final appearance in its output format, decode it, and check what was decoded."""
        encoded, decoded = [], []
        for i, image in enumerate(images):
            if image is None:
                raise RuntimeError(f"appearance {i} was never rendered")
            data, back = self.people.written(i, image)
            encoded.append(data)
            decoded.append(back.to(image))
        return encoded, self.check(self.adversary.embed(self.adversary.views(decoded)))


@dataclass(frozen=True, eq=False)
class SearchState:
    """What the mask search knows, per person.

    Attributes:
        order: ``(P, R)`` when each cell joined the person's mask (0, 1, 2, ...), or ``R + 1``
            if it never did; a mask is the cells below a rank.
        latest: per model, ``(A, D)`` embeddings of every appearance under its person's current
            mask (as written), so the final check needs no new forward pass.
        done: ``(P,)`` whether the person is private and their search over.
        steps: ``(P,)`` mask-growing steps taken.
    """

    order: torch.Tensor
    latest: tuple[torch.Tensor, ...]
    done: torch.Tensor
    steps: torch.Tensor

    @classmethod
    def start(cls, originals: Sequence[torch.Tensor], n_people: int, n_cells: int) -> SearchState:
        """Nobody done, no cell chosen, the original embeddings as the latest."""
        return cls(
            order=torch.full((n_people, n_cells), n_cells + 1, dtype=torch.long),
            latest=tuple(originals),
            done=torch.zeros(n_people, dtype=torch.bool),
            steps=torch.zeros(n_people, dtype=torch.long),
        )

    @property
    def chosen(self) -> torch.Tensor:
        """``(P, R)`` bool, the cells in each person's mask."""
        return self.order < self.order.shape[1] + 1

    def masks(self, cells: torch.Tensor) -> torch.Tensor:
        """Each person's mask ``(P, 1, h, w)`` over ``cells (R, h, w)``."""
        return cell_masks(cells, self.chosen)

    def seen(self, trial: Trial, people: torch.Tensor) -> SearchState:
        """The state with the trial's embeddings as the latest of ``people (P,)`` bool (all tried)."""
        rows = people[trial.groups]
        index = torch.nonzero(trial.subset).flatten()[rows]
        return replace(self, latest=_with_rows(self.latest, index, [e[rows] for e in trial.embeddings]))

    def finished(self, private: torch.Tensor) -> SearchState:
        """The state with ``private (P,)`` people done."""
        return replace(self, done=self.done | private)

    def grown(self, scores: torch.Tensor, start: int, stop: int) -> SearchState:
        """Each unfinished person's mask grown by the ``stop - start`` best-scoring new cells.

        ``scores (P, R)`` rank the cells; the new cells take ranks ``start .. stop - 1`` in
        ``order``, best first, and the person's step count grows by one.
        """
        ranked = scores.masked_fill(self.chosen, float("-inf")).topk(stop - start, dim=1).indices
        rows = torch.nonzero(~self.done).flatten()
        order = self.order.clone()
        order[rows[:, None], ranked[rows]] = start + torch.arange(stop - start)
        return replace(self, order=order, steps=self.steps + (~self.done).long())

    def cut(self, people: torch.Tensor, ranks: torch.Tensor) -> SearchState:
        """The state with the cells of ``people (P,)`` bool ranked at or beyond ``ranks (P,)`` dropped."""
        order = self.order.masked_fill(
            people[:, None] & (self.order >= ranks[:, None]), self.order.shape[1] + 1
        )
        return replace(self, order=order)


@dataclass(frozen=True, eq=False)
class Concealment:
    """What the loop hands back for each person, before the check of the written bytes.

    Attributes:
        masks: ``(P, 1, h, w)`` each person's mask (all ones after the fallback).
        images: per appearance, the concealed image at input resolution.
        embeddings: per model, ``(A, D)`` embeddings of ``images`` as written.
        fallback: ``(P,)`` whether the person's whole crop was concealed by the fallback.
        treatments: per person, the fallback's treatment (an operator name), or None.
    """

    masks: torch.Tensor
    images: tuple[torch.Tensor | None, ...]
    embeddings: tuple[torch.Tensor, ...]
    fallback: torch.Tensor
    treatments: tuple[str | None, ...]

    @classmethod
    def of_search(cls, problem: Problem, state: SearchState) -> Concealment:
        """The search's masks applied to every appearance; nobody fallen back yet."""
        masks = state.masks(problem.cells)
        images = problem.people.render(problem.operator, masks)[0]
        n_people = len(masks)
        return cls(
            masks, tuple(images), state.latest, torch.zeros(n_people, dtype=torch.bool), (None,) * n_people
        )

    def whole(self, people: torch.Tensor) -> Concealment:
        """The concealment with the masks of ``people (P,)`` bool covering the whole crop, fallen back."""
        masks = self.masks.masked_fill(people[:, None, None, None], 1.0)
        return replace(self, masks=masks, fallback=self.fallback | people)

    def treated(self, people: torch.Tensor, trial: Trial, name: str) -> Concealment:
        """The concealment with the appearances of ``people (P,)`` bool (all tried) as in ``trial``."""
        rows = people[trial.groups]
        index = torch.nonzero(trial.subset).flatten()[rows]
        images = list(self.images)
        for i in index.tolist():
            images[i] = trial.images[i]
        treatments = tuple(name if bool(b) else t for b, t in zip(people, self.treatments, strict=True))
        return replace(
            self,
            images=tuple(images),
            embeddings=_with_rows(self.embeddings, index, [e[rows] for e in trial.embeddings]),
            treatments=treatments,
        )

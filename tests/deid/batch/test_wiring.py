"""The default wiring: the run's ConcealConfig reaches the loop whole, the loop's results compose."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import deid.loop.search
from deid import Adversary, BatchConfig, ConcealConfig
from deid.batch import BatchError
from deid.batch.results import CropResult, crop_outcome
from deid.batch.wiring import build_adversary, person_concealer
from deid.loop.results import PersonResult
from reid_model import embed


def test_the_loop_gets_the_runs_concealconfig_and_its_results_are_composed(monkeypatch, tiny_embedder):
    loop = ConcealConfig(grid=(8, 3), first_cells=4, budget=2, refine=False, seed=3)
    config = BatchConfig(inputs=("in",), output="out", loop=loop, progress=False)
    gallery = embed(tiny_embedder, torch.rand(6, 3, 128, 48, generator=torch.Generator().manual_seed(1)))
    adversary = Adversary([tiny_embedder], [gallery])
    people = [[torch.rand(3, 128, 48, generator=torch.Generator().manual_seed(i))] for i in range(2)]
    calls = []

    def conceal_people(batch, **options):
        calls.append(options)
        return [
            PersonResult(
                images=[torch.zeros_like(image) for image in person],
                mask=torch.ones(1, 128, 48),
                steps=2,
                success=i == 0,
                fallback=i == 1,
                fallback_operator=None,
                area=0.75,
                scores_before={"match_rate": 1.0, "rank": 1.0},
                scores_after={"match_rate": 0.1, "rank": 40.0},
                outfit={"top": [0.1, 0.2, 0.3], "bottom": [0.4, 0.5, 0.6], "pattern": "plain"},
                encoded=[b"bytes"] * len(person),
            )
            for i, person in enumerate(batch)
        ]

    monkeypatch.setattr(deid.loop.search, "conceal_people", conceal_people)
    results = person_concealer(config, adversary)(people, [[Path("a.png")], [Path("b.png")]])
    assert calls and all(call["config"] is loop for call in calls)  # whole, not rebuilt field by field
    first, second = results[0][0], results[1][0]
    assert isinstance(first, CropResult) and first.success is True and second.success is False
    assert first.encoded == b"bytes" and first.person.mask is not None  # the loop's own result
    fields = crop_outcome(second)
    assert fields["success"] is False and fields["fallback"] is True and fields["area"] == 0.75
    assert fields["outfit"] == {"top": [0.1, 0.2, 0.3], "bottom": [0.4, 0.5, 0.6], "pattern": "plain"}
    assert fields["steps"] == 2
    assert "still matches" in fields["note"]


def test_the_default_adversary_is_the_strong_one_fast_drops_the_fused_model_a_wrong_name_is_refused():
    default = build_adversary(BatchConfig(inputs=("in",), output="out"))
    fast = build_adversary(BatchConfig(inputs=("in",), output="out", adversary="fast", top_k=5))
    assert [m.arch for m in default.models] == ["stripe", "color_stripes", "fused"]
    assert [m.arch for m in fast.models] == ["stripe", "color_stripes"] and fast.top_k == 5
    with pytest.raises(BatchError, match=r"adversary must be one of \['strong', 'fast'\], got 'weak'"):
        BatchConfig(inputs=("in",), output="out", adversary="weak")


def _shifted(person: list[torch.Tensor], shift: float, top: list[int] | None = None) -> PersonResult:
    """A stand-in loop's private result: each appearance ``shift`` brighter, in an outfit of that top."""
    return PersonResult(
        images=[image + shift for image in person],
        mask=None,
        steps=1,
        success=True,
        fallback=False,
        fallback_operator=None,
        area=1.0,
        scores_before=None,
        scores_after=None,
        outfit=None if top is None else {"top": top, "bottom": [0, 0, 0]},
    )


def test_split_groups_still_matched_are_concealed_again_together_in_one_call(monkeypatch):
    # Three claimed groups the adversary splits; the first two still match across their parts,
    # so both are concealed again as one person each, in a single call of the loop; a group
    # whose second try is still matched keeps its first results, reported not private.
    from deid.batch import wiring
    from deid.loop import appearances

    people = [[torch.full((3, 8, 4), (g + 1) / 10 + k / 100) for k in range(2)] for g in range(3)]
    splits = [
        type("Split", (), {"parts": [[0], [1]], "reasons": ["split from its group"] * 2})() for _ in people
    ]
    monkeypatch.setattr("deid.loop.grouping.split_groups", lambda adversary, groups: splits)
    calls: list[list[list[torch.Tensor]]] = []

    def conceal_people(batch, **options):
        calls.append(batch)
        again = len(calls) > 1
        return [_shifted(person, 0.5 if again else 0.25) for person in batch]

    def private_recut(adversary, originals, written, *, groups=None):
        # first outputs (+0.25): group 2's pass, groups 0 and 1 still match; again (+0.5): group 0's pass
        group = [round(float(o.mean()) * 10) - 1 for o in originals]
        again = [float((w - o).mean()) > 0.4 for o, w in zip(originals, written, strict=True)]
        return [g == 0 if a else g == 2 for g, a in zip(group, again, strict=True)]

    monkeypatch.setattr(deid.loop.search, "conceal_people", conceal_people)
    monkeypatch.setattr(appearances, "private_recut", private_recut)
    config = BatchConfig(inputs=("in",), output="out", progress=False)
    paths = [[Path(f"{g}_{k}.png") for k in range(2)] for g in range(3)]
    results = wiring.person_concealer(config, object())(people, paths)  # type: ignore[arg-type]
    assert len(calls) == 2  # the parts of every group together, then the redone groups together
    assert [len(person) for person in calls[1]] == [4, 4]  # groups 0 and 1, each appearance twice
    assert torch.equal(calls[1][0][0], people[0][0]) and torch.equal(calls[1][1][0], people[1][0])
    group0, group1, group2 = results
    assert all(r.success and "concealed again with the group" in r.group_reason for r in group0)
    assert all(torch.equal(r.image, o + 0.5) for r, o in zip(group0, people[0], strict=True))
    assert all(not r.success and "NOT private" in r.group_reason for r in group1)
    assert all(torch.equal(r.image, o + 0.25) for r, o in zip(group1, people[1], strict=True))
    assert all(r.success and torch.equal(r.image, o + 0.25) for r, o in zip(group2, people[2], strict=True))


def test_link_none_conceals_each_appearance_alone_and_again_alone_when_its_group_still_matches(monkeypatch):
    # Two claimed groups under --link none: never split by the adversary, each appearance is
    # concealed as a person of its own. The first tries give both appearances of a group the same
    # colours (a link), and group 1's appearance 0 still matches its group. Each such appearance
    # is concealed again alone, itself twice then its group's other original (judged against
    # both), with its treatment drawn anew: the second appearances now wear colours of their own;
    # appearance 0 of group 1 still matches at every draw and keeps its first try, NOT private.
    from deid.batch import wiring
    from deid.loop import appearances

    people = [[torch.full((3, 8, 4), (g + 1) / 10 + k / 100) for k in range(2)] for g in range(2)]
    monkeypatch.setattr("deid.loop.grouping.split_groups", lambda *a: pytest.fail("split under --link none"))
    calls: list[list[list[torch.Tensor]]] = []
    seeds: list[int | None] = []

    def conceal_people(batch, **options):
        calls.append(batch)
        seeds.append(options["config"].seed)
        first = len(calls) == 1
        return [
            _shifted(
                person,
                0.25 if first else 0.5,
                [round(float(person[0][0, 0, 0]) * 10) - 1, 0, 0] if first else [len(calls), p, 0],
            )
            for p, person in enumerate(batch)
        ]

    def private_recut(adversary, originals, written, *, groups=None):
        keys = [(round(float(o[0, 0, 0]) * 10) - 1, round(float(o[0, 0, 0]) * 100) % 10) for o in originals]
        return [key != (1, 0) for key in keys]  # group 1's appearance 0 matches whatever is done

    monkeypatch.setattr(deid.loop.search, "conceal_people", conceal_people)
    monkeypatch.setattr(appearances, "private_recut", private_recut)
    config = BatchConfig(
        inputs=("in",), output="out", progress=False, link="none", loop=ConcealConfig(seed=5)
    )
    paths = [[Path(f"{g}_{k}.png") for k in range(2)] for g in range(2)]
    group0, group1 = wiring.person_concealer(config, object())(people, paths)  # type: ignore[arg-type]
    assert [len(person) for person in calls[0]] == [1, 1, 1, 1]  # every appearance alone
    assert [len(call) for call in calls] == [4, 3, 1, 1] and seeds == [5, 6, 7, 8]  # drawn anew
    again01, again10, again11 = calls[1]
    for again, (g, k) in ((again01, (0, 1)), (again10, (1, 0)), (again11, (1, 1))):
        assert all(
            torch.equal(a, b)
            for a, b in zip(again, [people[g][k], people[g][k], people[g][1 - k]], strict=True)
        )
    assert group0[0].success and torch.equal(group0[0].image, people[0][0] + 0.25)
    assert group0[1].success and torch.equal(group0[1].image, people[0][1] + 0.5)
    assert "concealed again, on its own" in group0[1].group_reason
    assert group0[1].person.outfit != group0[0].person.outfit
    assert not group1[0].success and "NOT private" in group1[0].group_reason
    assert torch.equal(group1[0].image, people[1][0] + 0.25)  # the first try kept, flagged
    assert group1[1].success and torch.equal(group1[1].image, people[1][1] + 0.5)
    assert "linkable" not in group1[1].group_reason


def test_link_none_notes_two_appearances_whose_colours_no_draw_sets_apart(monkeypatch):
    # Every draw gives both appearances the same colours: the second is drawn anew three times,
    # stays private, and both records say they are linkable by their colours.
    from deid.batch import wiring
    from deid.loop import appearances

    people = [[torch.full((3, 8, 4), 0.1 + k / 100) for k in range(2)]]
    calls: list[list[list[torch.Tensor]]] = []

    def conceal_people(batch, **options):
        calls.append(batch)
        return [_shifted(person, 0.25, [1, 1, 1]) for person in batch]

    monkeypatch.setattr(deid.loop.search, "conceal_people", conceal_people)
    monkeypatch.setattr(
        appearances, "private_recut", lambda adversary, originals, written, **_: [True] * len(written)
    )
    config = BatchConfig(
        inputs=("in",), output="out", progress=False, link="none", loop=ConcealConfig(seed=0)
    )
    (person,) = wiring.person_concealer(config, object())(people, [[Path("a.png"), Path("b.png")]])  # type: ignore[arg-type]
    assert [len(call) for call in calls] == [2, 1, 1, 1]  # the second appearance, drawn anew 3 times
    assert all(r.success and r.group_reason.endswith(wiring._LINKED) for r in person)

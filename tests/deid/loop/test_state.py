"""The loop's state and steps: each step returns a new state and leaves the one it got alone."""

import pytest
import torch

from attribution import grid_regions
from deid.adversary import Adversary
from deid.loop.appearances import People
from deid.loop.bodies import Body
from deid.loop.config import ConcealConfig
from deid.loop.fallback import choose_figures, conceal_whole_crops, fallback_operators, own_first
from deid.loop.state import Concealment, Problem, SearchState, cell_masks
from deid.loop.steps import check_people, refine
from deid.operators import Figure, Fill, Noise, OutfitFill
from deid.operators.outfit import COLORS
from reid_model import embed


def _problem(model, *, top_k=2):
    g = torch.Generator().manual_seed(11)
    gallery = embed(model, torch.rand(20, 3, 128, 48, generator=g))
    adversary = Adversary([model], [gallery], top_k=top_k)
    people = [[torch.rand(3, 128, 48, generator=g) for _ in range(n)] for n in (2, 1, 2)]
    batch = People(people, adversary)
    originals = tuple(adversary.embed(batch.model_inputs))
    cells = grid_regions(128, 48, rows=4, cols=2)
    return Problem(batch, adversary, Fill(color=0.5), originals, cells)


def _snapshot(state):
    return [state.order.clone(), [t.clone() for t in state.latest], state.done.clone(), state.steps.clone()]


def _same(state, snapshot):
    order, latest, done, steps = snapshot
    return (
        torch.equal(state.order, order)
        and all(torch.equal(a, b) for a, b in zip(state.latest, latest, strict=True))
        and torch.equal(state.done, done)
        and torch.equal(state.steps, steps)
    )


def test_grown_adds_the_best_new_cells_to_unfinished_people_only():
    state = SearchState.start([torch.zeros(4, 8)], 3, 8).finished(torch.tensor([False, True, False]))
    before = _snapshot(state)
    scores = torch.arange(24, dtype=torch.float32).reshape(3, 8)  # the last cells score highest
    grown = state.grown(scores, 0, 3)
    assert _same(state, before)
    assert grown.order[0].tolist() == [9, 9, 9, 9, 9, 2, 1, 0]
    assert grown.order[1].tolist() == [9] * 8  # done: untouched
    assert grown.steps.tolist() == [1, 0, 1]
    again = grown.grown(scores, 3, 5)  # chosen cells are not chosen twice
    assert again.order[2].tolist() == [9, 9, 9, 4, 3, 2, 1, 0]
    cut = again.cut(torch.tensor([True, False, False]), torch.tensor([2, 0, 0]))
    assert cut.order[0].tolist() == [9, 9, 9, 9, 9, 9, 1, 0] and torch.equal(cut.order[2], again.order[2])
    assert torch.equal(again.order[0], torch.tensor([9, 9, 9, 4, 3, 2, 1, 0]))


def test_check_people_returns_a_state_with_the_checked_embeddings(tiny_embedder):
    problem = _problem(tiny_embedder)
    state = SearchState.start(problem.originals, 3, len(problem.cells))
    state = state.grown(torch.rand(3, len(problem.cells), generator=torch.Generator().manual_seed(0)), 0, 4)
    before = _snapshot(state)
    people = torch.tensor([True, False, True])
    trial, checked = check_people(problem, state, people)
    assert _same(state, before)
    rendered = problem.people.render(problem.operator, state.masks(problem.cells))[1]
    expected = problem.adversary.embed(rendered)[0]
    rows = people[problem.groups]
    assert torch.equal(checked.latest[0][rows], expected[rows])
    assert torch.equal(checked.latest[0][~rows], problem.originals[0][~rows])
    assert trial.view.shape == (int(rows.sum()), 3, 128, 48)
    assert not bool(trial.private[1])  # not tried: never private


def test_refine_keeps_the_shortest_private_prefix_and_leaves_its_input_alone(tiny_embedder):
    problem = _problem(tiny_embedder, top_k=0)
    n_cells = len(problem.cells)
    scores = torch.rand(3, n_cells, generator=torch.Generator().manual_seed(1))
    state = SearchState.start(problem.originals, 3, n_cells).grown(scores, 0, n_cells)  # every cell
    trial, state = check_people(problem, state, torch.ones(3, dtype=torch.bool))
    private = trial.private
    if not bool(private.any()):
        pytest.skip("no person private under the whole mask with this tiny adversary")
    before = _snapshot(state)
    refined = refine(problem, state, private, 0)
    assert _same(state, before)
    for p in torch.nonzero(private).flatten().tolist():
        kept = int(refined.chosen[p].sum())
        one = torch.zeros(3, dtype=torch.bool)
        one[p] = True
        assert problem.trial(cell_masks(problem.cells, state.order < kept), one).private[p]
        if kept > 1:
            assert not problem.trial(cell_masks(problem.cells, state.order < kept - 1), one).private[p]
        assert torch.equal(refined.chosen[p], state.order[p] < kept)
    unrefined = ~private
    assert torch.equal(refined.order[unrefined], state.order[unrefined])


def test_whole_crop_fallback_records_its_treatment_and_leaves_its_input_alone(tiny_embedder):
    problem = _problem(tiny_embedder)
    state = SearchState.start(problem.originals, 3, len(problem.cells))
    concealment = Concealment.of_search(problem, state)
    images = [image.clone() for image in concealment.images]
    people = torch.tensor([True, False, True])
    palette = [("fill", problem.operator), ("noise", Noise(std=0.5))]
    done = conceal_whole_crops(problem, concealment, people, palette)
    assert all(torch.equal(a, b) for a, b in zip(concealment.images, images, strict=True))
    assert concealment.treatments == (None, None, None) and not bool(concealment.fallback.any())
    assert concealment.masks.sum() == 0
    assert done.fallback.tolist() == [True, False, True]
    assert done.treatments[1] is None and done.treatments[0] in ("fill", "noise")
    assert bool((done.masks[people] == 1).all()) and bool((done.masks[1] == 0).all())
    for i, p in enumerate(problem.groups.tolist()):
        if p == 1:  # not fallen back: the very same image
            assert done.images[i] is concealment.images[i]
        else:
            assert not torch.equal(done.images[i], images[i])
    checked = problem.check(done.embeddings)
    rows = people[problem.groups]
    fresh = problem.adversary.embed(problem.adversary.views([done.images[i] for i in range(5)]))
    assert torch.allclose(done.embeddings[0][rows], fresh[0][rows], atol=1e-5)
    assert checked.private.shape == (5,)


def test_the_head_is_concealed_before_the_operator_so_a_whole_crop_fill_is_exactly_the_fill(tiny_embedder):
    """A fill over the head is what is written there (the adversary judged the fill that was
    scored, not a blurred one); where the mask leaves the head, the head is blurred."""
    g = torch.Generator().manual_seed(3)
    adversary = Adversary([tiny_embedder], [embed(tiny_embedder, torch.rand(4, 3, 128, 48, generator=g))])
    image = torch.rand(3, 128, 48, generator=g)
    batch = People([[image]], adversary, bodies=[Body.whole(128, 48)], head="blur")
    outfit = OutfitFill(COLORS[[3]], COLORS[[20]], patterns=torch.tensor([3]))
    filled = batch.draw(outfit, torch.ones(1, 1, 128, 48))[0]
    expected = outfit(image[None], torch.ones(1, 1, 128, 48))[0]
    assert torch.equal(filled, (expected * 255).round() / 255)  # written as uint8 levels
    kept = batch.draw(outfit, torch.zeros(1, 1, 128, 48))[0]
    assert torch.equal(kept[:, 64:], image[:, 64:]) and not torch.equal(kept[:, :20], image[:, :20])


def test_the_fallback_palette_ends_with_the_drawn_outfit_as_it_was_scored():
    shaded = OutfitFill(COLORS[[3]], COLORS[[20]], contrast=0.5, patterns=torch.tensor([1]))
    names = dict(fallback_operators(ConcealConfig(operator="redress"), shaded, shaded))
    assert list(names) == ["redress", "fill grey", "fill black", "fill white", "noise+color_shift", "outfit"]
    assert names["outfit"].contrast is None and torch.equal(names["outfit"].patterns, shaded.patterns)
    flat = shaded.flat()
    own = dict(fallback_operators(ConcealConfig(), flat, flat))
    assert "outfit" not in own  # the loop's own fill already
    # "own": the loop's operator at its strength and nothing else
    alone = fallback_operators(ConcealConfig(operator="redress", fallback_operator="own"), shaded, shaded)
    assert [(name, op) for name, op in alone] == [("redress", shaded)]


def test_each_person_wears_the_first_figure_that_makes_them_private(tiny_embedder):
    problem = _problem(tiny_embedder, top_k=0)
    g = torch.Generator().manual_seed(5)
    draws = [
        OutfitFill(
            *COLORS[torch.randint(27, (2, 3), generator=g)], patterns=torch.randint(4, (3,), generator=g)
        )
        for _ in range(6)
    ]
    concealment = Concealment.of_search(problem, SearchState.start(problem.originals, 3, len(problem.cells)))
    people = torch.tensor([True, True, False])
    everyone = torch.ones(3, dtype=torch.bool)
    trials = [problem.trial(concealment.whole(everyone).masks, everyone, Figure(draw)) for draw in draws]
    private = torch.stack([t.private for t in trials])  # (draws, P)
    rates = torch.stack(
        [torch.zeros(3).scatter_reduce(0, t.groups, t.check.match_rate, "amax") for t in trials]
    )
    assert private.any() and not private.all()  # the draws tell people apart
    chosen = OutfitFill(COLORS[[0, 1, 2]], COLORS[[3, 4, 5]], patterns=torch.tensor([0, 1, 2]))
    worn = choose_figures(problem, concealment, people, draws, chosen)
    assert worn.describe(2) == chosen.describe(2)  # not asked: keeps its row of chosen
    first = [
        int(private[:, p].float().argmax()) if private[:, p].any() else int(rates[:, p].argmin())
        for p in (0, 1)
    ]
    assert max(first) > 0  # someone's first draw is not private in their figure
    for p, k in zip((0, 1), first, strict=True):
        assert worn.describe(p) == draws[k].describe(p)


def test_the_figure_tries_the_persons_own_outfit_first_where_it_shows():
    # own outfits: red over blue checks (the figure shows), plain white over plain grey (half the
    # figure would vanish: the first draw stays), red over blue in bands at half opacity
    own = OutfitFill(COLORS[[18, 26, 18]], COLORS[[2, 13, 2]], 0.5, patterns=torch.tensor([3, 0, 1]))
    draws = [
        OutfitFill(COLORS[[9, 9, 9]], COLORS[[1, 1, 1]], patterns=torch.tensor([2, 2, 2])) for _ in range(3)
    ]
    tried = own_first(own, draws)
    assert len(tried) == 3 and tried[1:] == draws[1:]
    assert [tried[0].describe(p) for p in range(3)] == [
        own.describe(0),
        draws[0].describe(1),
        own.describe(2),
    ]
    assert tried[0].opacity == 1.0  # drawn whole, as the figure wears it

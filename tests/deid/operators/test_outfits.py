"""Per-person outfits: canvases, the fill, the private draw, and the shipped embeddings."""

import pytest
import torch

from deid.adversary import Adversary
from deid.operators import Operator, OutfitFill
from deid.operators.figure import FIGURE_OUTFITS
from deid.operators.outfit import (
    COLORS,
    PATTERN_AMPLITUDE,
    PATTERNS,
    PLAIN,
    OutfitTable,
    _all_outfits,
    choose_outfits,
    draw_outfits,
    load_outfit_embeddings,
    outfit_canvases,
    pattern_offsets,
)
from reid_model import embed
from tests.conftest import TinyEmbedder


def test_canvas_is_top_colour_above_the_split_and_bottom_colour_below():
    top, bottom = torch.tensor([[1.0, 0.0, 0.5]]), torch.tensor([[0.0, 0.5, 1.0]])
    canvas = outfit_canvases(top, bottom, (10, 4))
    assert canvas.shape == (1, 3, 10, 4)
    assert torch.equal(canvas[0, :, :5], top.view(3, 1, 1).expand(3, 5, 4))
    assert torch.equal(canvas[0, :, 5:], bottom.view(3, 1, 1).expand(3, 5, 4))


def test_patterns_alternate_light_and_dark_cells_and_look_the_same_at_any_size():
    offsets = pattern_offsets(torch.arange(len(PATTERNS)), (128, 48))
    half = PATTERN_AMPLITUDE / 2
    assert offsets.shape == (4, 1, 128, 48) and bool((offsets[0] == 0).all())
    bands, stripes, checks = offsets[1, 0], offsets[2, 0], offsets[3, 0]
    assert bands[:4].eq(half).all() and bands[4:8].eq(-half).all() and bands[:, 0].equal(bands[:, -1])
    assert stripes[:, :8].eq(half).all() and stripes[:, 8:16].eq(-half).all()
    assert stripes[0].equal(stripes[-1])
    assert checks[:8, :8].eq(-half).all() and checks[:8, 8:16].eq(half).all()
    assert checks[8:16, :8].eq(half).all()
    larger = pattern_offsets(torch.arange(4), (256, 96))
    assert torch.equal(larger[..., ::2, ::2], offsets)  # the cells scale with the size


def test_a_woven_outfit_is_its_colours_plus_the_pattern_clamped():
    tops, bottoms = COLORS[[0, 26]], COLORS[[13, 13]]  # black, white over grey
    canvas = outfit_canvases(tops, bottoms, (32, 12), torch.tensor([3, 1]))
    plain = outfit_canvases(tops, bottoms, (32, 12))
    assert torch.equal(canvas, (plain + pattern_offsets(torch.tensor([3, 1]), (32, 12))).clamp(0, 1))
    assert set(canvas[0, :, :16].unique().tolist()) == {0.0, 0.25}
    assert set(canvas[1, :, :16].unique().tolist()) == {0.75, 1.0}
    fill = OutfitFill(tops, bottoms, patterns=torch.tensor([3, 1]))
    assert torch.equal(fill(torch.rand(2, 3, 32, 12), torch.ones(2, 1, 32, 12)), canvas)
    assert fill.describe(0) == {"top": [0.0, 0.0, 0.0], "bottom": [0.5, 0.5, 0.5], "pattern": "checks"}
    assert fill.for_people(torch.tensor([1, 1])).describe(1)["pattern"] == "bands"
    assert OutfitFill(tops, bottoms).describe(1)["pattern"] == "plain"


def test_flat_is_the_unshaded_full_opacity_outfit_that_was_scored():
    shaded = OutfitFill(COLORS[[4]], COLORS[[9]], 0.5, 0.5, torch.tensor([2]))
    flat = shaded.flat()
    assert (flat.opacity, flat.contrast) == (1.0, None) and torch.equal(flat.patterns, shaded.patterns)
    assert flat.flat() is flat
    canvas = outfit_canvases(shaded.tops, shaded.bottoms, (16, 8), shaded.patterns)
    assert torch.equal(flat(torch.rand(1, 3, 16, 8), torch.ones(1, 1, 16, 8)), canvas)


def test_fill_keeps_unmasked_pixels_and_paints_each_persons_outfit():
    outfits = OutfitFill(COLORS[[0, 26]], COLORS[[26, 0]])  # black/white and white/black
    images = torch.rand(3, 3, 8, 4)
    fill = outfits.for_people(torch.tensor([0, 1, 1]))
    assert isinstance(fill, Operator)
    assert torch.equal(fill(images, torch.zeros(3, 1, 8, 4)), images)
    filled = fill(images, torch.ones(3, 1, 8, 4))
    assert torch.equal(filled[0, :, :4], torch.zeros(3, 4, 4)) and torch.equal(
        filled[0, :, 4:], torch.ones(3, 4, 4)
    )
    assert torch.equal(filled[1], filled[2]) and torch.equal(filled[1, :, :4], torch.ones(3, 4, 4))
    assert outfits.colors(1) == [[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]


class _WideEmbedder(TinyEmbedder):
    """The tiny embedder on 256 x 96 inputs: another model input size."""

    input_size = (256, 96)


def _adversary(model, **kw):
    gallery = embed(model, torch.rand(30, 3, *model.input_size, generator=torch.Generator().manual_seed(3)))
    return Adversary([model], [gallery], **kw)


def test_check_shared_equals_check_with_each_image_given_to_every_appearance(tiny_embedder):
    adversary = _adversary(tiny_embedder, top_k=2)
    groups = torch.tensor([0, 0, 1, 2, 2])
    originals = adversary.embed(torch.rand(5, 3, 128, 48, generator=torch.Generator().manual_seed(4)))
    shared = adversary.embed(torch.rand(6, 3, 128, 48, generator=torch.Generator().manual_seed(5)))
    together = adversary.check_shared(shared, originals, groups)
    for k in range(6):
        alone = adversary.check([shared[0][k : k + 1].expand(5, -1)], originals, groups)
        assert torch.equal(together.match_rate[k], alone.match_rate)
        assert torch.equal(together.rank[k], alone.rank)
        assert torch.equal(together.private[k], alone.private)


def test_draw_is_private_reproducible_and_random(tiny_embedder):
    adversary = _adversary(tiny_embedder)
    groups = torch.tensor([0, 0, 1, 2, 3])
    originals = adversary.embed(torch.rand(5, 3, 128, 48, generator=torch.Generator().manual_seed(6)))

    def draw(seed):
        generator = torch.Generator().manual_seed(seed)
        return choose_outfits(adversary, originals, groups, generator=generator)

    first = draw(0)
    assert torch.equal(first.tops, draw(0).tops) and torch.equal(first.bottoms, draw(0).bottoms)
    assert any(not torch.equal(first.tops, draw(s).tops) for s in range(1, 5))
    assert first.tops.shape == first.bottoms.shape == (4, 3)
    canvases = outfit_canvases(first.tops, first.bottoms, adversary.input_size, first.patterns)
    check = adversary.check(adversary.embed(canvases[groups]), originals, groups)
    shared = adversary.check_shared(adversary.cache[f"outfits {adversary.input_size}"], originals, groups)
    for p in range(4):
        rows = groups == p
        if bool(shared.private[:, rows].all(1).any()):  # some outfit is private for this person
            assert bool(check.private[rows].all())


@pytest.mark.parametrize("table", [PLAIN, FIGURE_OUTFITS], ids=["plain", "figure"])
def test_shipped_outfit_embeddings_are_current(table):
    default = Adversary.default()
    fresh = Adversary(default.models, default.galleries)
    assert table.bundled is not None and load_outfit_embeddings(fresh, table.bundled, table)
    shipped = fresh.cache[f"{table.key} {fresh.input_size}"]
    assert all(len(s) == len(PATTERNS) * 27 * 27 for s in shipped)
    every = torch.cartesian_prod(torch.arange(4), torch.arange(27), torch.arange(27))
    patterns, tops, bottoms = every[::97].unbind(1)
    recomputed = fresh.embed(table.draw(COLORS[tops], COLORS[bottoms], fresh.input_size, patterns))
    for s, r in zip(shipped, recomputed, strict=True):
        assert torch.allclose(s[::97], r, atol=1e-4), "run scripts/bundle_outfits.py"


def test_outfits_need_the_palette_they_were_made_with(tmp_path):
    adversary = _adversary(TinyEmbedder())
    from deid.operators.outfit import save_outfit_embeddings

    save_outfit_embeddings(adversary, tmp_path / "o.safetensors")
    assert load_outfit_embeddings(_adversary(TinyEmbedder()), tmp_path / "o.safetensors")
    assert not load_outfit_embeddings(adversary, tmp_path / "missing.safetensors")
    assert not load_outfit_embeddings(_adversary(_WideEmbedder()), tmp_path / "o.safetensors")
    two_models = Adversary([TinyEmbedder(), TinyEmbedder()], [adversary.galleries[0]] * 2)
    assert not load_outfit_embeddings(two_models, tmp_path / "o.safetensors")
    # a table drawn otherwise (the figure's marks) is not the plain one, nor one of another figure
    save_outfit_embeddings(adversary, tmp_path / "f.safetensors", FIGURE_OUTFITS)
    assert not load_outfit_embeddings(_adversary(TinyEmbedder()), tmp_path / "f.safetensors")
    fresh = _adversary(TinyEmbedder())
    assert load_outfit_embeddings(fresh, tmp_path / "f.safetensors", FIGURE_OUTFITS)
    assert (
        f"figure outfits {fresh.input_size}" in fresh.cache
        and f"outfits {fresh.input_size}" not in fresh.cache
    )
    other = OutfitTable("figure outfits", None, FIGURE_OUTFITS.draw, lambda size: {"grey": torch.tensor(0.3)})
    assert not load_outfit_embeddings(_adversary(TinyEmbedder()), tmp_path / "f.safetensors", other)


def test_draws_are_private_in_their_table(tiny_embedder):
    adversary = _adversary(tiny_embedder)
    groups = torch.tensor([0, 0, 1, 2])
    originals = adversary.embed(torch.rand(4, 3, 128, 48, generator=torch.Generator().manual_seed(8)))
    draws = draw_outfits(
        adversary, originals, groups, 5, table=FIGURE_OUTFITS, generator=torch.Generator().manual_seed(0)
    )
    assert len(draws) == 5 and all(d.tops.shape == (3, 3) for d in draws)
    assert len({tuple(d.tops.flatten().tolist()) for d in draws}) > 1  # five draws, not one five times
    shared = adversary.check_shared(
        adversary.cache[f"figure outfits {adversary.input_size}"], originals, groups
    )
    shows = FIGURE_OUTFITS.allowed(*_all_outfits())
    assert 0 < int((~shows).sum()) < 100  # the plain outfits with a part in the figure's grey
    for draw in draws:
        images = FIGURE_OUTFITS.draw(draw.tops, draw.bottoms, adversary.input_size, draw.patterns)
        check = adversary.check(adversary.embed(images[groups]), originals, groups)
        for p in range(3):
            rows = groups == p
            if bool(shared.private[shows][:, rows].all(1).any()):  # a private outfit the figure shows on
                assert bool(check.private[rows].all())
    grey = torch.tensor([0.5, 0.5, 0.5])
    for d in draw_outfits(adversary, originals, groups, 300, table=FIGURE_OUTFITS):
        # never a plain part in the figure's grey, where the figure would vanish
        assert not (((d.tops == grey).all(1) | (d.bottoms == grey).all(1)) & (d.patterns == 0)).any()


@pytest.mark.parametrize("colors", ["outfit", "fixed"])
def test_conceal_reports_the_outfit_only_when_it_used_one(tiny_embedder, colors):
    from deid import conceal_person

    adversary = _adversary(tiny_embedder)
    images = [torch.rand(3, 128, 48, generator=torch.Generator().manual_seed(s)) for s in (7, 8)]
    result = conceal_person(images, adversary=adversary, colors=colors, seed=0)
    if colors == "outfit":
        assert set(result.outfit) == {"top", "bottom", "pattern"} and result.outfit["pattern"] in PATTERNS
        assert len(result.outfit["top"]) == len(result.outfit["bottom"]) == 3
        assert result.summary()["outfit"] == result.outfit
    else:
        assert result.outfit is None


@pytest.mark.parametrize("opacity", [1.0, 0.7, 0.3])
def test_outfit_fill_keeps_the_operator_contract_bit_for_bit(opacity):
    """The fill as an Operator gives exactly the pixels of the loop's former outfit blend."""
    g = torch.Generator().manual_seed(int(opacity * 10))
    outfits = OutfitFill(COLORS[[3, 26, 9]], COLORS[[20, 0, 14]], opacity)
    images = torch.rand(4, 3, 20, 7, generator=g)
    mask = torch.rand(4, 1, 20, 7, generator=g).round() * torch.rand(4, 1, 20, 7, generator=g)
    persons = torch.tensor([2, 0, 0, 1])
    canvas = outfit_canvases(outfits.tops[persons], outfits.bottoms[persons], (20, 7))
    former = torch.lerp(images, torch.lerp(images, canvas, opacity), mask)
    assert torch.equal(outfits.for_people(persons)(images, mask), former)


def test_outfit_fill_bad_input():
    with pytest.raises(ValueError, match=r"tops must be RGB colours of shape \(N, 3\), got \(3,\)"):
        OutfitFill(COLORS[0], COLORS[[0]])
    with pytest.raises(ValueError, match="tops and bottoms must give one colour per outfit, got 2 and 1"):
        OutfitFill(COLORS[[0, 1]], COLORS[[0]])
    with pytest.raises(ValueError, match=r"opacity must be in \(0, 1\], got 0.0"):
        OutfitFill(COLORS[[0]], COLORS[[0]], 0.0)
    with pytest.raises(ValueError, match=r"patterns must be one index in \[0, 4\) per outfit \(1\)"):
        OutfitFill(COLORS[[0]], COLORS[[0]], patterns=torch.tensor([4]))
    with pytest.raises(ValueError, match=r"patterns must be one index"):
        OutfitFill(COLORS[[0]], COLORS[[0]], patterns=torch.tensor([0, 1]))
    two = OutfitFill(COLORS[[0, 1]], COLORS[[2, 3]])
    with pytest.raises(ValueError, match=r"images must be one per outfit \(2\), got 3; .*for_people"):
        two(torch.rand(3, 3, 8, 4), torch.ones(3, 1, 8, 4))
    with pytest.raises(ValueError, match=r"images must have values in \[0, 1\]"):
        two(torch.full((2, 3, 8, 4), 2.0), torch.ones(2, 1, 8, 4))


def test_a_persons_draw_depends_on_their_own_generator_alone(tiny_embedder):
    adversary = _adversary(tiny_embedder)
    groups = torch.tensor([0, 0, 1, 2])
    originals = adversary.embed(torch.rand(4, 3, 128, 48, generator=torch.Generator().manual_seed(7)))

    def generators(*seeds):
        return [torch.Generator().manual_seed(s) for s in seeds]

    together = choose_outfits(adversary, originals, groups, generator=generators(1, 2, 3))
    last = torch.tensor([0])
    alone = choose_outfits(adversary, [o[3:] for o in originals], last, generator=generators(3))
    assert torch.equal(together.tops[2], alone.tops[0]) and torch.equal(together.bottoms[2], alone.bottoms[0])
    with pytest.raises(ValueError, match="one per person"):
        choose_outfits(adversary, originals, groups, generator=generators(1, 2))

"""The whole-box fallback for a track's sightings still matched: which treatment, on which frames."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest
import torch

import deid.video.boxing as boxing
from deid.loop import ConcealConfig
from deid.loop.results import PersonResult
from deid.operators.base import Compose
from deid.operators.figure import Figure
from deid.operators.filling import Fill
from deid.operators.noising import Noise
from deid.operators.outfit import OutfitFill

OWN = 0.3  # the track's own treatment (a fill, for the stand-ins)


def _render(
    track: Sequence[Any], bodies: Sequence[Any], result: PersonResult, *_: object
) -> list[torch.Tensor]:
    """Stand-in renderer: each sighting one colour, the fill's (a noisy copy of a fill: its colour
    plus 0.02 per seed; other treatments 0.7), plus 0.01 as a box."""
    op, colour = result.operator, 0.7
    if isinstance(op, Fill) and isinstance(op.color, float):
        colour = op.color
    elif isinstance(op, Compose) and isinstance(op.operators[0], Fill) and isinstance(op.operators[1], Noise):
        colour = float(op.operators[0].color) + 0.02 * op.operators[1].seed  # type: ignore[arg-type]
    return [torch.full((3, 8, 4), colour + (0.01 if result.shape == "box" else 0.0)) for _ in track]


class Judge:
    """Stand-in judge: ``rule(sighting, colour)`` says whether a sighting drawn so is private."""

    def __init__(self, rule: Callable[[int, float], bool]) -> None:
        self.rule = rule

    def check(
        self, t: int, crops: Sequence[torch.Tensor], indices: Sequence[int] | None = None
    ) -> list[bool]:
        indices = range(len(crops)) if indices is None else indices
        return [self.rule(i, round(float(c.mean()), 2)) for i, c in zip(indices, crops, strict=True)]


def _boxed(
    rule: Callable[[int, float], bool],
    monkeypatch: pytest.MonkeyPatch,
    *,
    operator: Any = None,
    render: Callable[..., list[torch.Tensor]] = _render,
    shape: str = "body",
) -> tuple[list[float], str | None]:
    """Ten sightings drawn with the own treatment (``operator``, a fill by default, in ``shape``),
    then :func:`boxing.box_matched` on them."""
    monkeypatch.setattr(boxing, "render_track", render)
    operator = Fill(color=OWN) if operator is None else operator
    result = PersonResult(
        [], torch.zeros(1, 128, 48), 1, True, False, None, 0.5, {}, {}, operator=operator, shape=shape
    )
    track: list[Any] = [None] * 10
    crops = render(track, track, result)
    judge = Judge(rule)
    boxed = boxing.box_matched(
        0, track, track, result, crops, judge.check(0, crops), judge, None, ConcealConfig()
    )  # type: ignore[arg-type]
    return [round(float(c.mean()), 2) for c in crops], boxed


def test_a_palette_colour_that_keeps_every_frame_private_is_drawn_on_the_whole_track(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the own treatment is private on frames 0-5; a white box on every frame
    colours, boxed = _boxed(lambda i, c: (c == OWN and i < 6) or c == 1.01, monkeypatch)
    assert colours == [1.01] * 10
    assert boxed == "all 10 frames' whole box (fill white), for one look over the track; 0 still matched"


def test_a_palette_colour_stays_on_the_matched_frames_when_the_whole_track_would_leave_more(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # white is private on frames 6-9 only: on the whole track it would match frames 0-5
    colours, boxed = _boxed(lambda i, c: c == (OWN if i < 6 else 1.01), monkeypatch)
    assert colours == [OWN] * 6 + [1.01] * 4
    assert boxed == "4 frames' whole box (fill white 4); 0 still matched"


def test_the_own_treatment_boxed_is_drawn_on_the_matched_frames_only(monkeypatch: pytest.MonkeyPatch) -> None:
    colours, boxed = _boxed(lambda i, c: (c == OWN and i < 6) or c == OWN + 0.01, monkeypatch)
    assert colours == [OWN] * 6 + [OWN + 0.01] * 4
    assert boxed == "4 frames' whole box (own 4); 0 still matched"


def test_a_noisy_copy_of_the_own_treatment_comes_before_other_colours(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # frames 6-9: the second noisy copy and white would both make them private (0-5: only the own)
    colours, boxed = _boxed(
        lambda i, c: (c == OWN and i < 6) or (i >= 6 and c in (OWN + 0.05, 1.01)), monkeypatch
    )
    assert colours == [OWN] * 6 + [OWN + 0.05] * 4
    assert boxed == "4 frames' whole box (own+noise 2 4); 0 still matched"


def test_each_matched_frame_takes_the_first_treatment_that_makes_it_private(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # frames 6-7 are private in white only, 8-9 in black only
    def rule(i: int, c: float) -> bool:
        return (c == OWN and i < 6) or (c == 1.01 and i in (6, 7)) or (c == 0.01 and i in (8, 9))

    colours, boxed = _boxed(rule, monkeypatch)
    assert colours == [OWN] * 6 + [1.01, 1.01, 0.01, 0.01]
    assert boxed == "4 frames' whole box (fill black 2, fill white 2); 0 still matched"


def test_a_track_still_matched_keeps_its_colours_on_frames_another_colour_would_make_private(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # as above, but nothing makes frame 9 private: white and black on frames 6-8 would hide
    # nothing of a person frame 9 shows, so they keep the own treatment (boxed); a noisy copy
    # (frame 5, the same colours) stays
    def rule(i: int, c: float) -> bool:
        return (
            (c == OWN and i < 5)
            or (i == 5 and c == round(OWN + 0.03, 2))
            or (c == 1.01 and i in (6, 7))
            or (c == 0.01 and i == 8)
        )

    colours, boxed = _boxed(rule, monkeypatch)
    assert colours == [OWN] * 5 + [round(OWN + 0.03, 2)] + [OWN + 0.01] * 4
    assert boxed == (
        "5 frames' whole box (own 4, own+noise 1 1); 4 still matched "
        "(3 of them another colour would make private: the track stays matched)"
    )


@pytest.mark.parametrize(
    ("rule", "boxed"),
    [
        (lambda i, c: (c == OWN and i < 6) or c == OWN + 0.01, [False] * 6 + [True] * 4),  # own, boxed
        (lambda i, c: (c == OWN and i < 6) or c == 1.01, [True] * 10),  # white on the whole track
    ],
)
def test_a_sighting_boxed_covers_its_whole_box(
    rule: Callable[[int, float], bool], boxed: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(boxing, "render_track", _render)
    result = PersonResult(
        [], torch.zeros(1, 128, 48), 1, True, False, None, 0.5, {}, {}, operator=Fill(color=OWN), shape="body"
    )
    track: list[Any] = [None] * 10
    crops = _render(track, track, result)
    covers = [torch.zeros(8, 4, dtype=torch.bool) for _ in track]  # the body's: none, for the stand-in
    judge = Judge(rule)
    boxing.box_matched(
        0, track, track, result, crops, judge.check(0, crops), judge, None, ConcealConfig(), covers=covers
    )  # type: ignore[arg-type]
    assert [bool(c.all()) for c in covers] == boxed
    assert not any(bool(c.any()) for c, whole in zip(covers, boxed, strict=True) if not whole)


def test_nothing_is_boxed_when_every_sighting_is_private(monkeypatch: pytest.MonkeyPatch) -> None:
    colours, boxed = _boxed(lambda i, c: True, monkeypatch)
    assert colours == [OWN] * 10 and boxed is None


def _red_and_blue(contrast: float | None = None) -> OutfitFill:
    """One person's outfit: a red top over blue trousers."""
    return OutfitFill(torch.tensor([[1.0, 0.0, 0.0]]), torch.tensor([[0.0, 0.0, 1.0]]), contrast=contrast)


def test_the_noisy_copies_wear_the_own_outfit_unshaded() -> None:
    redressed = _red_and_blue(contrast=0.4)
    palette = boxing.box_palette(ConcealConfig(), redressed)
    assert [name for name, _ in palette] == [
        "figure",
        "own",
        "own+noise 1",
        "own+noise 2",
        "own+noise 3",
        "fill grey",
        "fill black",
        "fill white",
        "noise+color_shift",
    ]
    figure, copy = palette[0][1], palette[2][1]
    assert isinstance(figure, Figure) and figure.outfits.contrast is None
    assert isinstance(copy, Compose) and isinstance(copy.operators[0], OutfitFill)
    assert copy.operators[0].contrast is None and copy.operators[0].opacity == 1.0
    assert boxing.box_palette(ConcealConfig(fallback_operator="own"), redressed) == [("own", redressed)]
    assert [name for name, _ in boxing.box_palette(ConcealConfig(figure=False), redressed)][:2] == [
        "own",
        "own+noise 1",
    ]


OUTFIT, FIGURE = 0.4, 0.6  # a track wearing an outfit, and its stand-in figure (stand-in colours)
BOXED = {OUTFIT: 0.41, FIGURE: 0.61}  # the same as a box


def _render_outfit(
    track: Sequence[Any], bodies: Sequence[Any], result: PersonResult, *_: object
) -> list[torch.Tensor]:
    """Stand-in renderer for a track wearing an outfit: the figure one colour, the outfit another,
    each another as a box."""
    colour = FIGURE if isinstance(result.operator, Figure) else OUTFIT
    return [torch.full((3, 8, 4), BOXED[colour] if result.shape == "box" else colour) for _ in track]


def _boxed_outfit(
    rule: Callable[[int, float], bool], monkeypatch: pytest.MonkeyPatch, shape: str = "body"
) -> tuple[list[float], str | None]:
    return _boxed(rule, monkeypatch, operator=_red_and_blue(), render=_render_outfit, shape=shape)


def test_a_track_wearing_an_outfit_is_boxed_with_its_figure_first(monkeypatch: pytest.MonkeyPatch) -> None:
    # frames 0-5 private in the outfit; 6-7 in the figure; 8-9 in nothing: they keep the figure
    colours, boxed = _boxed_outfit(
        lambda i, c: (c == OUTFIT and i < 6) or (c == BOXED[FIGURE] and i in (6, 7)), monkeypatch
    )
    assert colours == [OUTFIT] * 6 + [BOXED[FIGURE]] * 4
    assert boxed == "4 frames' whole box (figure 4); 2 still matched"


def test_the_outfit_boxed_does_not_take_the_whole_track_from_its_figure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the figure makes frame 6 private, the outfit's box frames 6-9: most, but like the figure the
    # track's own look, so it is not drawn on the frames private in the body's shape
    colours, boxed = _boxed_outfit(
        lambda i, c: (
            (c == OUTFIT and i < 6) or (c == BOXED[FIGURE] and i == 6) or (c == BOXED[OUTFIT] and i >= 6)
        ),
        monkeypatch,
    )
    assert colours == [OUTFIT] * 6 + [BOXED[FIGURE]] + [BOXED[OUTFIT]] * 3
    assert boxed == "4 frames' whole box (figure 1, own 3); 0 still matched"


def test_a_track_whose_outfit_is_on_its_whole_box_tries_its_figure_after_its_own_colours() -> None:
    names = [name for name, _ in boxing.box_palette(ConcealConfig(), _red_and_blue(), figure_first=False)]
    assert names == [
        "own",
        "own+noise 1",
        "own+noise 2",
        "own+noise 3",
        "figure",
        "fill grey",
        "fill black",
        "fill white",
        "noise+color_shift",
    ]


def test_a_boxed_track_still_matched_does_not_switch_to_its_figure_on_a_few_frames(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the loop left the track in its outfit on the whole box: frames 0-5 private in it, 6-7 only
    # in the figure, 8-9 in nothing; the track stays matched, so 6-7 keep the outfit's box too
    colours, boxed = _boxed_outfit(
        lambda i, c: (c == BOXED[OUTFIT] and i < 6) or (c == BOXED[FIGURE] and i in (6, 7)),
        monkeypatch,
        shape="box",
    )
    assert colours == [BOXED[OUTFIT]] * 10
    assert boxed == (
        "4 frames' whole box (own 4); 4 still matched (2 of them another colour would make private: "
        "the track stays matched)"
    )


def test_a_boxed_track_takes_its_figure_where_that_leaves_no_frame_matched(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    colours, boxed = _boxed_outfit(
        lambda i, c: (c == BOXED[OUTFIT] and i < 6) or (c == BOXED[FIGURE] and i >= 6),
        monkeypatch,
        shape="box",
    )
    assert colours == [BOXED[OUTFIT]] * 6 + [BOXED[FIGURE]] * 4
    assert boxed == "4 frames' whole box (figure 4); 0 still matched"

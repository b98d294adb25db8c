"""The whole-box fallback for a track's sightings still matched: which treatment, on which frames."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest
import torch

import deid.video.run as run
from deid.loop import ConcealConfig
from deid.loop.results import PersonResult
from deid.operators.filling import Fill

OWN = 0.3  # the track's own treatment (a fill, for the stand-ins)


def _render(
    track: Sequence[Any], bodies: Sequence[Any], result: PersonResult, *_: object
) -> list[torch.Tensor]:
    """Stand-in renderer: each sighting one colour, the fill's (noise: 0.7), plus 0.01 as a box."""
    fill = result.operator.color if isinstance(result.operator, Fill) else 0.7
    colour = fill if isinstance(fill, float) else 0.7
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
    rule: Callable[[int, float], bool], monkeypatch: pytest.MonkeyPatch
) -> tuple[list[float], str | None]:
    """Ten sightings drawn with the own treatment, then :func:`run._box_matched` on them."""
    monkeypatch.setattr(run, "_render", _render)
    result = PersonResult(
        [], torch.zeros(1, 128, 48), 1, True, False, None, 0.5, {}, {}, operator=Fill(color=OWN), shape="body"
    )
    track: list[Any] = [None] * 10
    crops = _render(track, track, result)
    boxed = run._box_matched(0, track, track, result, crops, Judge(rule), None, ConcealConfig())  # type: ignore[arg-type]
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
    assert boxed == "4 frames' whole box (fill white); 0 still matched"


def test_the_own_treatment_boxed_is_drawn_on_the_matched_frames_only(monkeypatch: pytest.MonkeyPatch) -> None:
    colours, boxed = _boxed(lambda i, c: (c == OWN and i < 6) or c == OWN + 0.01, monkeypatch)
    assert colours == [OWN] * 6 + [OWN + 0.01] * 4
    assert (
        boxed is not None and boxed.startswith("4 frames' whole box (") and boxed.endswith("0 still matched")
    )


def test_nothing_is_boxed_when_every_sighting_is_private(monkeypatch: pytest.MonkeyPatch) -> None:
    colours, boxed = _boxed(lambda i, c: True, monkeypatch)
    assert colours == [OWN] * 10 and boxed is None

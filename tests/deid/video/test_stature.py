"""A whole person's height at a place of the view, fitted on the people seen whole."""

from __future__ import annotations

from deid.boxes import Box
from deid.video.stature import FEW, Stature


def _people(tops: range, *, tall: float = 0.5) -> list[Box]:
    return [Box(0, top, 10, round(40 + tall * top)) for top in tops]


def test_the_fit_holds_a_few_boxes_far_from_the_line_out() -> None:
    people = _people(range(10, 250, 8))
    sitting = [Box(0, top, 10, 20) for top in (60, 120, 180)]  # or boxes of two people
    stature = Stature.fit(people + sitting, 360)
    assert stature is not None
    assert abs(stature.expected(100) - 90) < 1 and abs(stature.slope - 0.5) < 0.01


def test_no_fit_with_too_few_boxes_or_people_shorter_lower_down() -> None:
    assert Stature.fit(_people(range(10, 10 + 8 * (FEW - 1), 8)), 360) is None
    assert Stature.fit(_people(range(10, 10 + 8 * FEW, 8)), 360) is not None
    upside_down = [Box(0, top, 10, 200 - top // 2) for top in range(10, 250, 8)]
    assert Stature.fit(upside_down, 360) is None
    # boxes at the frame's top or bottom edge are cut by it, not fitted
    assert Stature.fit([Box(0, 0, 10, 40 + i) for i in range(30)], 360) is None


def test_short_boxes_reach_down_never_up_or_in() -> None:
    stature = Stature(40.0, 0.5)  # 90 tall at row 100
    assert stature.short(Box(5, 100, 10, 60)) and not stature.short(Box(5, 100, 10, 70))
    assert not stature.short(Box(5, 0, 10, 20))  # its top is the frame's
    assert not stature.short(Box(5, 100, 10, 20))  # a hand or a foot: under a quarter of a person
    grown = stature.reach(Box(5, 100, 10, 30), 360, 480)
    assert (grown.y, grown.y + grown.h) == (100, 190) and grown.x == 0 and grown.x + grown.w > 15
    assert (
        stature.reach(Box(5, 300, 10, 30), 360, 480).y + stature.reach(Box(5, 300, 10, 30), 360, 480).h == 360
    )

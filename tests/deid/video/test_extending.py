"""People in view from a video's first frame but found late, concealed from the first frame: their
first box followed back over the moving pixels (mean shift), and the tracks so extended by
:func:`deid.video.recut.recut`."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from deid.boxes import Box
from deid.video import Frame
from deid.video.extending import STEP, followed_back
from deid.video.recut import recut
from tests.deid.video.test_recut import _posed

HEIGHT, WIDTH = 100, 140


def _walker(frames: int, x0: int = 40, speed: int = 3) -> tuple[list[Frame], np.ndarray]:
    """``frames`` frames of a still grey scene with a 10x30 person walking right from ``x0`` at
    ``speed`` pixels a frame (top at row 30), and the scene without them."""
    background = np.full((HEIGHT, WIDTH, 3), 90, dtype=np.uint8)
    frames_ = []
    for i in range(frames):
        pixels = background.copy()
        pixels[30:60, x0 + speed * i : x0 + speed * i + 10] = (200, 40, 40)
        frames_.append(Frame(i, pixels))
    return frames_, background


def _moved(frame: Frame, background: np.ndarray) -> np.ndarray:
    return np.abs(frame.pixels.astype(int) - background).max(axis=2) > 30


def test_a_walking_persons_box_is_followed_back_to_the_first_frame() -> None:
    frames, background = _walker(6)
    moved = [_moved(f, background) for f in frames]
    back = followed_back(Box(54, 28, 12, 34), 5, moved, [[]] * 5)
    assert len(back) == 5 and all((b.w, b.h) == (12, 34) for b in back)
    for i, box in enumerate(back):  # the person inside their box in every frame before
        person = 40 + 3 * i
        assert box.x <= person and person + 10 <= box.x + box.w and box.y <= 30 and box.y + box.h >= 60


def test_a_box_stays_where_nothing_moves_near_it_or_only_someone_elses_pixels() -> None:
    frames, background = _walker(4)
    moved = [_moved(f, background) for f in frames]
    still = Box(100, 28, 12, 34)  # nothing moves there: a person standing still is the background
    assert followed_back(still, 3, moved, [[]] * 3) == [still] * 3
    assert followed_back(still, 3, [None] * 3, [[]] * 3) == [still] * 3  # no still background known
    # the walker is someone else's (inside their box): not followed, though near
    near = Box(52, 28, 12, 34)
    theirs = [[Box(38 + 3 * i, 26, 16, 38)] for i in range(3)]
    assert followed_back(near, 3, moved, theirs) == [near] * 3


def test_a_box_moves_at_most_a_step_a_frame() -> None:
    frames, background = _walker(2, x0=20, speed=12)  # 12 px a frame, beyond a step of 4 px
    moved = [_moved(f, background) for f in frames]
    [box] = followed_back(Box(26, 28, 12, 34), 1, moved, [[]])  # the person at 20-30 in frame 0
    assert box.x == 26 - round(STEP * 12)


@pytest.mark.parametrize("start", [5, 2])
def test_recut_extends_a_track_found_late_away_from_the_edges(start: int) -> None:
    frames, background = _walker(6)
    late = [_posed(i, Box(40 + 3 * i - 2, 30, 14, 30), frames[i].pixels) for i in range(3, 6)]
    # another person, found at the frame's left edge on frame 2: walking in, not extended
    edge = [replace(_posed(i, Box(0, 30, 12, 30), frames[i].pixels), track=1) for i in range(2, 6)]
    by_frame = [[], [], [edge[0]], [late[0], edge[1]], [late[1], edge[2]], [late[2], edge[3]]]
    again = recut(by_frame, frames, background=background, start=start)
    extended = [[s for s in frame if s.how == "extended"] for frame in again]
    if start < 3:  # found after the video's start: not extended
        assert not any(extended)
        return
    assert [len(e) for e in extended] == [1, 1, 1, 0, 0, 0]
    for i in range(3):
        [s] = extended[i]
        person = 40 + 3 * i
        assert s.track == 0 and s.keypoints is None and bool(s.silhouette.all())
        assert s.box.x <= person and person + 10 <= s.box.x + s.box.w
        assert s.box.y <= 30 and s.box.y + s.box.h >= 60

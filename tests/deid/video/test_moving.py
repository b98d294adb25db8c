"""A person's moving pixels that their sighting's box leaves out are taken into it."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import torch

from deid.boxes import Box
from deid.video import Frame, VideoReader, follow_people
from deid.video.follow import Sighting
from deid.video.moving import moved_pixels, still_background, with_moving
from deid.video.recut import recut

GREY = 120


def _frame(people: list[Box], index: int = 0) -> Frame:
    """A still grey scene with a dark person (a filled box) at each of ``people``."""
    pixels = np.full((120, 160, 3), GREY, np.uint8)
    for p in people:
        pixels[p.y : p.y + p.h, p.x : p.x + p.w] = (30, 40, 160)
    return Frame(index, pixels)


def _sighting(box: Box, frame: Frame, track: int = 0, posed: bool = True) -> Sighting:
    crop = torch.from_numpy(frame.pixels).permute(2, 0, 1)[:, box.y : box.y + box.h, box.x : box.x + box.w]
    keypoints = torch.full((33, 3), 1.0) if posed else None
    silhouette = torch.ones(box.h, box.w, dtype=torch.bool)
    return Sighting(frame.index, track, box, silhouette, keypoints, "carried", crop.clone())


def _grown(sightings: list[Sighting], frame: Frame) -> list[Sighting]:
    background = np.full_like(frame.pixels, GREY)
    moved = moved_pixels(frame.pixels, background)
    assert moved is not None
    return with_moving(sightings, moved, torch.from_numpy(frame.pixels).permute(2, 0, 1))


def test_the_half_of_a_person_beside_their_box_is_taken_into_it() -> None:
    person = Box(60, 30, 20, 60)
    frame = _frame([person])
    # a carried box 8 px ahead of the person: their left 8 columns in the clear
    (after,) = _grown([_sighting(Box(68, 30, 20, 60), frame)], frame)
    assert after.box.x <= 60 and after.box.x + after.box.w >= 80, after.box
    assert after.box.y <= 30 and after.box.y + after.box.h >= 90
    assert after.crop.shape[1:] == (after.box.h, after.box.w)
    # the person's pixels are in the silhouette; the keypoints moved with the box
    inside = after.silhouette[30 - after.box.y : 90 - after.box.y, 60 - after.box.x : 80 - after.box.x]
    assert bool(inside.all())
    assert after.keypoints is not None and float(after.keypoints[0, 0]) == 1.0 + 68 - after.box.x


def test_legs_below_a_box_without_a_pose_join_its_whole_box() -> None:
    person = Box(60, 30, 20, 60)
    frame = _frame([person])
    # a box at the knees: the shins, 7 px, below it
    (after,) = _grown([_sighting(Box(58, 28, 24, 55), frame, posed=False)], frame)
    assert after.keypoints is None and bool(after.silhouette.all())
    assert after.box.y + after.box.h >= 90 and after.box.h <= 62 + 2, after.box


def test_another_persons_box_and_a_separate_person_are_not_taken() -> None:
    me, beside, apart = Box(60, 30, 20, 60), Box(80, 30, 20, 60), Box(56, 30, 2, 60)
    frame = _frame([me, beside, apart])
    mine, theirs = _sighting(Box(64, 30, 16, 60), frame), _sighting(beside, frame, track=1)
    after = _grown([mine, theirs], frame)
    # the 4 columns of mine in the clear are taken (and a pixel round them); the touching
    # neighbour's box and the thing 2 px apart (inside the reach beside the box, not joined to
    # mine) are not
    assert after[0].box.x == 59 and after[0].box.x + after[0].box.w == 80, after[0].box
    assert after[1] is theirs


def test_nothing_moving_beside_a_box_leaves_it_as_it_is() -> None:
    frame = _frame([Box(60, 30, 20, 60)])
    mine = _sighting(Box(58, 28, 24, 64), frame)
    assert _grown([mine], frame)[0] is mine


def test_a_frame_that_moved_everywhere_is_not_searched() -> None:
    frame = _frame([Box(0, 0, 160, 120)])
    assert moved_pixels(frame.pixels, np.full_like(frame.pixels, GREY)) is None


def test_the_still_background_is_the_median_of_frames_spread_over_the_video() -> None:
    # a person walks across: each column is free in most frames
    frames = [_frame([Box(8 * i, 30, 12, 60)], index=i) for i in range(20)]
    background = still_background(frames, len(frames))
    assert background is not None and (background == GREY).all()
    assert still_background(frames[:4], 4) is None


def test_on_pets_recut_with_the_background_takes_in_what_the_boxes_left_out(pets_video: Path) -> None:
    frames = list(itertools.islice(VideoReader.open(pets_video), 30))
    by_frame = follow_people(frames, fps=10)
    background = still_background(frames, len(frames))
    assert background is not None
    plain, grown = recut(by_frame, frames), recut(by_frame, frames, background=background)
    larger = 0
    for a, b in zip(itertools.chain(*plain), itertools.chain(*grown), strict=True):
        assert (a.frame, a.track) == (b.frame, b.track)
        x0, y0, x1, y1 = a.box.corners
        u0, v0, u1, v1 = b.box.corners
        assert u0 <= x0 and v0 <= y0 and u1 >= x1 and v1 >= y1  # only ever grown
        larger += b.box.w * b.box.h > a.box.w * a.box.h
        assert b.crop.shape[1:] == (b.box.h, b.box.w)
        assert b.silhouette.shape == (b.box.h, b.box.w)
    assert 0 < larger < sum(map(len, grown)), "some boxes left part of a walking person out; not all"

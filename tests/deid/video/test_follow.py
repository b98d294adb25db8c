"""The tracker glue on a scripted sequence: stand-in finder and pose model, the real motpy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import deid.video.follow as follow
from deid.boxes import Box
from deid.finder import Person
from deid.video import FollowConfig, Frame, follow_people, steady_bodies
from deid.video.follow import sightings_of


def _people_in(image: torch.Tensor) -> list[Person]:
    """Bright rectangles of an image are its people (one per column band of bright pixels)."""
    bright = image.mean(0) > 0.5
    cols = bright.any(0).nonzero().flatten().tolist()
    people, start = [], None
    for c in [*cols, None]:
        if start is None:
            start = prev = c
        elif c is None or c != prev + 1:
            rows = bright[:, start : prev + 1].any(1).nonzero().flatten()
            y0, y1 = int(rows[0]), int(rows[-1]) + 1
            box = Box(start, y0, prev + 1 - start, y1 - y0, 0.9)
            keypoints = torch.zeros(33, 3)
            keypoints[:, 0], keypoints[:, 1], keypoints[:, 2] = start + box.w / 2, y0 + 2, 1.0
            people.append(Person(box, 0.9, bright.clone(), keypoints, uncertain=False))
            start = prev = c
        else:
            prev = c
    return people


def _frames(n: int, people: dict[int, tuple[int, int, int]]) -> list[Frame]:
    """``people``: per person, (first frame, last frame, x at frame 0); each walks 2 px a frame."""
    frames = []
    for i in range(n):
        pixels = np.full((60, 120, 3), 20, np.uint8)
        for first, last, x0 in people.values():
            if first <= i <= last:
                x = x0 + 2 * i
                pixels[10:50, x : x + 12] = 230
        frames.append(Frame(i, pixels))
    return frames


@pytest.fixture
def stand_ins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(follow, "find_people", lambda image, config=None: _people_in(image))

    def in_crop(crop: torch.Tensor, config: object = None, recentre: bool = True) -> Person:
        found = _people_in(crop)
        if not found:
            return Person(
                Box(0, 0, crop.shape[2], crop.shape[1]),
                0.0,
                torch.ones(crop.shape[1:], dtype=torch.bool),
                torch.zeros(33, 3),
                uncertain=True,
            )
        return max(found, key=lambda p: p.box.w * p.box.h)

    monkeypatch.setattr(follow, "find_person_in_crop", in_crop)


def test_two_people_two_tracks_every_frame_covered(stand_ins: None) -> None:
    frames = _frames(20, {0: (0, 19, 5), 1: (3, 19, 60)})
    by_frame = follow_people(frames, fps=10, config=FollowConfig(detect_every=5))
    assert len(by_frame) == 20
    tracks = list(sightings_of(by_frame))
    assert [t[0].track for t in tracks] == [0, 1]
    assert [s.frame for s in tracks[0]] == list(range(20))
    # the second person walks in at frame 3; the full look at frame 5 finds them, and the look
    # backwards (backfill) covers frames 3 and 4
    assert [s.frame for s in tracks[1]] == list(range(3, 20))
    assert {s.how for s in tracks[1][:2]} == {"backfilled"}
    for track in tracks:
        for s in track:
            assert s.crop.shape == (3, s.box.h, s.box.w) and s.crop.dtype == torch.uint8
            assert s.silhouette.shape == (s.box.h, s.box.w)
            # the sighting's box holds the person's bright pixels
            assert s.crop.float().mean() > 150


def test_a_lost_person_is_kept_at_the_predicted_box(stand_ins: None) -> None:
    frames = _frames(12, {0: (0, 11, 5)})
    for i in (6, 7):  # the person is hidden for two frames
        frames[i].pixels[:] = 20
    by_frame = follow_people(frames, fps=10, config=FollowConfig(detect_every=10, max_gap=3))
    hows = [[s.how for s in frame] for frame in by_frame]
    assert hows[6] == ["predicted"] and hows[7] == ["predicted"]
    assert by_frame[6][0].keypoints is None and bool(by_frame[6][0].silhouette.all())
    assert hows[8] == ["followed"] and by_frame[8][0].track == 0
    # the predicted box is near where the person would be (Kalman prediction, padded)
    box = by_frame[7][0].box
    assert box.x <= 5 + 2 * 7 <= box.x + box.w


def test_steady_bodies_keep_each_sightings_size(stand_ins: None) -> None:
    by_frame = follow_people(_frames(8, {0: (0, 7, 5)}), fps=10, config=FollowConfig(detect_every=4))
    track = next(sightings_of(by_frame))
    bodies = steady_bodies(track)
    assert len(bodies) == len(track)
    for body, s in zip(bodies, track, strict=True):
        assert body.silhouette.shape == s.silhouette.shape
        assert bool((body.silhouette | ~s.silhouette).all())  # never smaller than what was seen
        assert body.keypoints is not None


def test_follow_config_refuses_bad_values() -> None:
    with pytest.raises(ValueError, match="detect_every"):
        FollowConfig(detect_every=0)
    with pytest.raises(ValueError, match="padding"):
        FollowConfig(padding=2.0)

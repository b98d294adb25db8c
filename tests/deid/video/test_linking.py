"""Pieces of one person's track joined again by where they are and how they look."""

from __future__ import annotations

from dataclasses import replace

import torch

from deid.adversary import Adversary
from deid.boxes import Box
from deid.video.follow import Sighting
from deid.video.linking import _near, link_tracks
from tests.deid.video.conftest import sighting

#: Per track number: the person (their grey level) and the frames it is seen in.
_PIECES = {
    0: (0, range(0, 10)),
    1: (1, range(0, 21)),
    2: (2, range(0, 21)),
    3: (3, range(0, 21)),
    9: (0, range(12, 21)),
}


def _by_frame() -> list[list[Sighting]]:
    """Four people walking right side by side over 21 frames; the tracker lost the first for
    frames 10 and 11 and found them again as track 9, where they were heading."""
    g = torch.Generator().manual_seed(0)
    frames: list[list[Sighting]] = [[] for _ in range(21)]
    for number, (person, seen) in _PIECES.items():
        for frame in seen:
            pixels = (person / 4 + 0.1 + 0.1 * torch.rand(3, 64, 24, generator=g)).clamp(0, 1)
            frames[frame].append(sighting(frame, number, Box(70 * person + 2 * frame, 10, 24, 64), pixels))
    return frames


def test_a_lost_person_found_again_is_one_track_and_only_a_piece_that_could_continue_is_looked_at(
    adversary: Adversary,
) -> None:
    batches: list[int] = []
    adversary.models[0].register_forward_hook(lambda _m, inputs, _out: batches.append(len(inputs[0])))
    joined, pieces = link_tracks(_by_frame(), adversary, max_gap=5)
    tracks: dict[int, set[int]] = {}
    for frame in joined:
        for s in frame:
            tracks.setdefault(s.track, set()).add(int(s.box.x - 2 * s.frame) // 70)  # the person
    assert sorted(pieces.values()) == [1, 1, 1, 2]
    assert all(len(people) == 1 for people in tracks.values())  # a track is one person
    assert len(tracks) == 4 and sum(pieces.values()) == 5
    # the head of the piece that starts after another ended (3 sightings), then every tail
    assert batches == [3, 5 * 3]
    # lost for longer than max_gap: not joined
    _, apart = link_tracks(_by_frame(), adversary, max_gap=2)
    assert sorted(apart.values()) == [1, 1, 1, 1, 1]


def test_a_piece_in_a_box_of_another_size_is_not_joined(adversary: Adversary) -> None:
    # the first person's second piece in a box three times as tall (a proposal on the lawn)
    frames = _by_frame()
    for frame in frames[12:]:
        for i, s in enumerate(frame):
            if s.track == 9:
                tall = torch.ones(3, 192, 24) * 0.1
                frame[i] = sighting(s.frame, 9, Box(s.box.x, s.box.y, 24, 192), tall)
    _, pieces = link_tracks(frames, adversary, max_gap=5)
    assert sorted(pieces.values()) == [1, 1, 1, 1, 1]


def test_a_piece_ends_where_its_person_was_last_seen_not_where_the_tracker_guessed(
    adversary: Adversary,
) -> None:
    """The first person's track lost at frame 5, its boxes predicted on to frame 9: the gap to
    the piece found again at frame 12 counts from frame 5 (a review found a lost track predicted
    on for 9 frames joined to a piece 370 px away, and bridged over three people)."""
    frames = _by_frame()
    for frame in frames[6:10]:
        for i, s in enumerate(frame):
            if s.track == 0:
                frame[i] = replace(s, how="predicted")
    _, lost = link_tracks(frames, adversary, max_gap=5)  # 7 frames since seen: too long
    assert sorted(lost.values()) == [1, 1, 1, 1, 1]
    _, joined = link_tracks(frames, adversary, max_gap=8)
    assert sorted(joined.values()) == [1, 1, 1, 2]


def test_how_far_a_person_may_go_between_pieces_is_per_second() -> None:
    last = sighting(0, 0, Box(0, 0, 24, 64), torch.zeros(3, 64, 24))
    first = sighting(10, 1, Box(100, 0, 24, 64), torch.zeros(3, 64, 24))
    assert _near(last, first, 10 / 10)  # 100 px in a second: 1.6 body heights
    assert not _near(last, first, 10 / 100)  # ... in a tenth of a second: no

"""Video sightings cut again once followed: carried ones put between their posed neighbours, and
every posed one grown to hold the head (the hair above a person concealed, not left in the clear)
and to reach below and beside the feet."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from deid.adversary import Adversary
from deid.boxes import Box
from deid.loop.config import ConcealConfig
from deid.loop.feet import FEET_REACH, FEET_SIDE
from deid.loop.heads import head_ellipse
from deid.video import Frame, VideoReader, conceal_video, follow_people
from deid.video.follow import Sighting
from deid.video.io import to_tensor
from deid.video.recut import recut
from tests.deid.video.conftest import walking_folder


def _posed(frame: int, box: Box, pixels: np.ndarray, how: str = "found") -> Sighting:
    """A person whose face keypoints sit 2 px below the top of ``box`` (the silhouette stops at
    the eyes), shoulders 10 px apart."""
    keypoints = torch.zeros(33, 3)
    keypoints[:, 0], keypoints[:, 1], keypoints[:, 2] = box.w / 2, box.h / 2, 1.0
    keypoints[:11, 1] = 2.0
    keypoints[11, 0], keypoints[12, 0] = box.w / 2 - 5, box.w / 2 + 5
    silhouette = torch.zeros(box.h, box.w, dtype=torch.bool)
    silhouette[:, 2:-2] = True
    crop = torch.from_numpy(pixels[box.y : box.y + box.h, box.x : box.x + box.w]).permute(2, 0, 1).clone()
    return Sighting(frame, 0, box, silhouette, keypoints, how, crop)


def test_a_posed_sighting_grows_to_its_head_and_is_cut_again() -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    posed = _posed(0, Box(30, 20, 16, 36), pixels)
    crop = torch.from_numpy(pixels[5:25, 5:15]).permute(2, 0, 1).clone()
    whole = Sighting(0, 1, Box(5, 5, 10, 20), torch.ones(20, 10, dtype=torch.bool), None, "predicted", crop)
    later = _posed(1, Box(30, 20, 16, 36), pixels)
    # the second frame is not among the frames given: its sighting is kept as it is
    [[grown, kept], [not_read]] = recut([[posed, whole], [later]], [Frame(0, pixels)])
    assert kept is whole and not_read is later
    box = grown.box
    assert box.y < posed.box.y and box.y + box.h >= posed.box.y + posed.box.h
    assert box.x <= posed.box.x and box.x + box.w >= posed.box.x + posed.box.w
    cx, cy, rx, ry = head_ellipse(grown.keypoints)
    assert cy - ry >= 0 and cx - rx >= 0 and cx + rx <= box.w and cy + ry <= box.h  # the head inside
    # the crop is the frame's own pixels at the grown box
    assert torch.equal(
        grown.crop, torch.from_numpy(pixels[box.y : box.y + box.h, box.x : box.x + box.w]).permute(2, 0, 1)
    )
    # silhouette and keypoints are where they were in the frame
    dx, dy = posed.box.x - box.x, posed.box.y - box.y
    assert torch.equal(grown.silhouette[dy : dy + posed.box.h, dx : dx + posed.box.w], posed.silhouette)
    assert int(grown.silhouette.sum()) == int(posed.silhouette.sum())
    assert torch.allclose(
        grown.keypoints[:, :2] + torch.tensor([box.x, box.y]),
        posed.keypoints[:, :2] + torch.tensor([posed.box.x, posed.box.y]),
    )


def test_a_smaller_head_scale_grows_the_box_less() -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    posed = _posed(0, Box(30, 20, 16, 36), pixels)
    [[default]] = recut([[posed]], [Frame(0, pixels)])
    [[small]] = recut([[posed]], [Frame(0, pixels)], head_scale=0.5)
    assert default.box.y < small.box.y < posed.box.y
    cx, cy, rx, ry = head_ellipse(small.keypoints, 0.5)
    assert cy - ry >= 0 and cx + rx <= small.box.w  # the smaller head inside its box


def test_a_carried_sighting_is_put_between_its_posed_neighbours() -> None:
    rng = np.random.default_rng(1)
    frames = [Frame(i, rng.integers(0, 256, (80, 90, 3), dtype=np.uint8)) for i in range(4)]
    before = _posed(0, Box(10, 20, 16, 30), frames[0].pixels)
    drifted = _posed(1, Box(40, 20, 16, 30), frames[1].pixels, "carried")  # the prediction overshot
    after = _posed(2, Box(20, 24, 16, 30), frames[2].pixels, "followed")
    last = _posed(3, Box(30, 26, 16, 30), frames[3].pixels, "carried")  # nothing posed after it
    [_, [placed], _, [kept]] = recut([[before], [drifted], [after], [last]], frames)
    box = placed.box
    # between the two: x 15-31, y 22-52, then grown upwards to hold the head
    assert (box.x, box.x + box.w, box.y + box.h) == (15, 31, 52) and box.y < 22
    frame_points = placed.keypoints + torch.tensor([box.x, box.y, 0.0])
    ends = [s.keypoints + torch.tensor([s.box.x, s.box.y, 0.0]) for s in (before, after)]
    assert torch.allclose(frame_points, (ends[0] + ends[1]) / 2)
    assert torch.equal(
        placed.crop, torch.from_numpy(frames[1].pixels[box.y : box.y + box.h, 15:31]).permute(2, 0, 1)
    )
    assert placed.silhouette.shape == (box.h, box.w) and placed.how == "carried"
    top = 22 - box.y  # the neighbours' silhouettes (columns 2-13 of the person) in the new box
    assert placed.silhouette[top:, 2:14].all() and not placed.silhouette[:, [0, 1, 14, 15]].any()
    assert not placed.silhouette[:top].any()
    assert (kept.box.x, kept.box.x + kept.box.w) == (30, 46)  # left at its own box, grown to the head
    assert kept.box.y + kept.box.h == 56 and kept.box.y < 26


def test_a_tracks_frames_without_a_sighting_are_bridged() -> None:
    rng = np.random.default_rng(2)
    frames = [Frame(i, rng.integers(0, 256, (80, 90, 3), dtype=np.uint8)) for i in range(5)]
    before = _posed(0, Box(10, 20, 16, 30), frames[0].pixels)
    after = replace(_posed(3, Box(40, 26, 16, 30), frames[3].pixels), track=0)
    edge = replace(_posed(1, Box(70, 0, 20, 30), frames[1].pixels), track=1)  # at the frame's corner
    edge_after = replace(_posed(3, Box(74, 0, 16, 30), frames[3].pixels), track=1)
    other = replace(_posed(4, Box(5, 5, 10, 20), frames[4].pixels), track=2)  # one sighting: no gap
    again = recut([[before], [edge], [], [after, edge_after], [other]], frames, padding=0.25)
    one = [s for s in again[1] if s.track == 0]
    assert [len(f) for f in again] == [1, 2, 2, 2, 1] and len(one) == 1
    # between the neighbours as cut (grown to the head and feet), grown by a quarter each side
    u, v = again[0][0].box.corners, next(s for s in again[3] if s.track == 0).box.corners
    assert u[1] < before.box.y  # grown to the head: the bridge starts from there
    for index, sighting in ((1, one[0]), (2, again[2][0])):
        t = index / 3
        x0, y0, x1, y1 = ((1 - t) * p + t * q for p, q in zip(u, v, strict=True))
        dx, dy = (x1 - x0) / 4, (y1 - y0) / 4
        box = sighting.box
        assert (sighting.track, sighting.how, sighting.keypoints) == (0, "bridged", None)
        assert (box.x, box.y) == (math.floor(x0 - dx), max(0, math.floor(y0 - dy)))
        assert (box.x + box.w, box.y + box.h) == (math.ceil(x1 + dx), math.ceil(y1 + dy))
        assert bool(sighting.silhouette.all()) and sighting.silhouette.shape == (box.h, box.w)
        assert torch.equal(
            sighting.crop,
            torch.from_numpy(frames[index].pixels[box.y : box.y + box.h, box.x : box.x + box.w]).permute(
                2, 0, 1
            ),
        )
    clipped = next(s for s in again[2] if s.track == 1)
    assert clipped.how == "bridged" and clipped.box.y == 0 and clipped.box.x + clipped.box.w == 90
    # frames past those given get no bridge (nothing to cut it from)
    assert [len(f) for f in recut([[before], [], [], [after]], frames[:2])] == [1, 1, 0, 1]


def test_the_top_of_the_head_is_concealed_in_the_written_video(
    stand_ins: None, adversary: Adversary, tmp_path: Path
) -> None:
    # the stand-in pose puts the face 2 px below the top of each bright person (rows 10-50):
    # the head's ellipse reaches above the person, where the hair would be
    source = walking_folder(tmp_path)
    out = tmp_path / "out" / "frames"
    report = conceal_video(source, out, adversary=adversary, look_every=0, progress=False)
    posed = [s for t in report.tracks for s in t.sightings if s[5] not in ("predicted", "bridged")]
    assert posed and all(s[2] < 10 for s in posed)  # every posed box reaches above the person
    originals = {f.index: to_tensor(f.pixels) for f in VideoReader.open(source)}
    changed_above = 0
    for frame in VideoReader.open(out):
        for s in (
            s
            for t in report.tracks
            for s in t.sightings
            if s[0] == frame.index and s[5] not in ("predicted", "bridged")
        ):
            x, w = s[1], s[3]
            above = (to_tensor(frame.pixels) - originals[frame.index])[:, 7:10, x : x + w]
            changed_above += int(bool((above.abs() > 0.02).any()))
    assert changed_above == len(posed)


def test_the_videos_heads_follow_the_head_scale(
    stand_ins: None, adversary: Adversary, tmp_path: Path
) -> None:
    source = walking_folder(tmp_path)
    reports = {
        scale: conceal_video(
            source,
            tmp_path / str(scale) / "frames",
            config=ConcealConfig(head_scale=scale, seed=0),
            adversary=adversary,
            look_every=0,
            progress=False,
        )
        for scale in (1.0, 0.5)
    }
    tops = {
        scale: {
            (s[0], t.track): s[2]
            for t in report.tracks
            for s in t.sightings
            if s[5] not in ("predicted", "bridged")
        }
        for scale, report in reports.items()
    }
    assert tops[1.0] and tops[1.0].keys() == tops[0.5].keys()
    assert all(tops[0.5][k] > top for k, top in tops[1.0].items() if top > 0)  # a smaller head, a lower top


def test_on_pets_every_posed_sighting_holds_its_head(pets_video: Path) -> None:
    frames = list(itertools.islice(VideoReader.open(pets_video), 3))
    by_frame = follow_people(frames, fps=10)
    grown = recut(by_frame, frames)
    posed = [s for frame in grown for s in frame if s.keypoints is not None]
    assert len(posed) >= 3, "people walk through the first frames of PETS S2.L1"
    taller = 0
    for before, after in zip(
        (s for frame in by_frame for s in frame), (s for frame in grown for s in frame), strict=True
    ):
        if after.keypoints is None:
            assert after is before
            continue
        cx, cy, rx, ry = head_ellipse(after.keypoints)
        x, y = after.box.x + cx, after.box.y + cy
        assert after.box.x <= max(0, x - rx) + 1 and after.box.y <= max(0, y - ry) + 1
        assert after.box.x + after.box.w >= min(480, x + rx) - 1
        taller += after.box.h > before.box.h
    assert taller > len(posed) // 2, "the silhouettes stop at the eyes: most boxes grow"


def test_a_posed_sighting_grows_below_and_beside_its_feet() -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (100, 80, 3), dtype=np.uint8)
    posed = _posed(0, Box(30, 20, 16, 50), pixels)
    posed.keypoints[27:33, 1] = 49.0  # ankles, heels and toes on the box's last row; the nose at 2
    [[grown]] = recut([[posed]], [Frame(0, pixels)])
    bottom = 20 + 49 + FEET_REACH * 47  # the feet, and a reach of their height below
    assert grown.box.y + grown.box.h == math.ceil(bottom) and grown.box.y + grown.box.h > 70
    assert not bool(grown.silhouette[50 + posed.box.y - grown.box.y :].any())  # the silhouette as it was
    edge = _posed(0, Box(30, 60, 16, 40), pixels)
    edge.keypoints[27:33, 1] = 39.0
    [[cut]] = recut([[edge]], [Frame(0, pixels)])
    assert cut.box.y + cut.box.h == 100  # inside the frame
    stepping = _posed(0, Box(30, 20, 16, 50), pixels)
    stepping.keypoints[27:33, 1] = 49.0
    stepping.keypoints[31, 0] = 20.0  # a toe 4 px past the box's right side
    [[wide]] = recut([[stepping]], [Frame(0, pixels)])
    assert wide.box.x + wide.box.w == 30 + math.ceil(20 + FEET_SIDE * 47)
    assert wide.box.x == 30  # the other foot is inside: the left side stays
    assert wide.crop.shape[-1] == wide.box.w


def test_a_posed_sighting_whose_head_sags_below_its_neighbours_is_concealed_whole() -> None:
    """The pose model put a man's keypoints low as he passed a post (a cut of PETS S2.L1 from
    frame 300, his head above his box on two frames reported private): a posed sighting whose
    head lies well below where its neighbours put it is concealed whole, from their head down."""
    pixels = np.random.default_rng(0).integers(0, 256, (80, 80, 3), dtype=np.uint8)
    frames = [Frame(i, pixels) for i in range(3)]
    track = [
        _posed(0, Box(30, 20, 16, 36), pixels),
        _posed(1, Box(31, 32, 16, 36), pixels),
        _posed(2, Box(32, 20, 16, 36), pixels),
    ]
    [[before], [sagged], [after]] = recut([[s] for s in track], frames)
    assert before.keypoints is not None and after.keypoints is not None
    assert sagged.keypoints is None and bool(sagged.silhouette.all())
    assert sagged.box.y <= min(before.box.y, after.box.y)  # where the neighbours' heads are
    assert sagged.box.y + sagged.box.h >= 32 + 36  # down to its own feet
    box = sagged.box
    assert torch.equal(
        sagged.crop, torch.from_numpy(pixels[box.y : box.y + box.h, box.x : box.x + box.w]).permute(2, 0, 1)
    )
    # a head a pixel lower than its neighbours' is its own
    track[1] = _posed(1, Box(31, 21, 16, 36), pixels)
    assert all(s.keypoints is not None for frame in recut([[s] for s in track], frames) for s in frame)


def _seen_whole(pixels: np.ndarray) -> list[Sighting]:
    """25 people seen whole, head to feet, standing taller the lower they are (a stature to fit)."""
    people = []
    for track in range(25):
        top = 40 + 8 * track
        s = replace(_posed(0, Box(10 + 12 * track, top, 10, 20 + top // 4), pixels), track=track)
        assert s.keypoints is not None
        s.keypoints[27:33, 1] = s.box.h - 1.0  # feet at the bottom, seen
        people.append(s)
    return people


def test_a_box_short_for_a_whole_person_at_its_place_reaches_down_to_their_feet() -> None:
    """A man behind the sign post of PETS S2.L1 was followed at his head and shoulders, his legs
    in the clear below the sign in frames reported private (a review of a cut from frame 100):
    a box much shorter than the people seen whole at its place reaches down to where their feet
    are, concealed whole; a lost track's box too; a box at the frame's top edge does not."""
    pixels = np.random.default_rng(1).integers(0, 256, (360, 480, 3), dtype=np.uint8)

    people = _seen_whole(pixels)
    behind = replace(_posed(0, Box(400, 150, 12, 28), pixels), track=30)  # 57 tall there
    assert behind.keypoints is not None
    behind.keypoints[23:33, 2] = 0.0  # hips, legs and feet hidden from the model
    lost = Sighting(0, 31, Box(440, 100, 10, 20), torch.ones(20, 10, dtype=torch.bool), None, "predicted",
                    torch.from_numpy(pixels[100:120, 440:450]).permute(2, 0, 1).clone())  # fmt: skip
    at_top = replace(lost, track=32, box=Box(460, 0, 10, 20))
    [cut] = recut([[*people, behind, lost, at_top]], [Frame(0, pixels)])
    out = {s.track: s for s in cut}
    assert out[30].keypoints is None and bool(out[30].silhouette.all())
    # as tall as the people seen whole whose tops are nearest (tracks 14 and 8)
    assert out[30].box.h >= 0.9 * out[14].box.h and out[30].box.y <= behind.box.y
    assert out[31].box.h >= 0.9 * out[8].box.h and out[31].box.y == 100
    assert out[32].box == at_top.box  # its top is the frame's, not the head's
    assert all(out[t].keypoints is not None for t in range(25))
    box = out[30].box
    assert torch.equal(
        out[30].crop, torch.from_numpy(pixels[box.y : box.y + box.h, box.x : box.x + box.w]).permute(2, 0, 1)
    )
    # with fewer people seen whole than the fit needs, nothing is called short
    [few] = recut([[*people[:10], behind]], [Frame(0, pixels)])
    assert {s.track: s for s in few}[30].keypoints is not None


def test_a_silhouette_as_wide_as_two_people_is_concealed_whole() -> None:
    """A couple walking side by side on a cut of PETS S2.L1 from frame 300, taken for one person
    by the pose model: its treatment, in his shape, left her head in the clear in frames reported
    private. A posed silhouette wider than :data:`deid.video.stature.WIDE` of a whole person's
    height at its place is concealed whole; one person's, however wide their box, is not."""
    from deid.video.stature import WIDE, Stature

    pixels = np.random.default_rng(2).integers(0, 256, (360, 480, 3), dtype=np.uint8)

    people = _seen_whole(pixels)
    couple = replace(_posed(0, Box(380, 150, 60, 57), pixels), track=30)  # 56 columns of silhouette
    alone = replace(_posed(0, Box(300, 150, 60, 57), pixels), track=31)
    alone.silhouette[:, :20] = False
    alone.silhouette[:, 40:] = False  # 20 of the box's 60 columns: one person in a wide box
    [cut] = recut([[*people, couple, alone]], [Frame(0, pixels)])
    out = {s.track: s for s in cut}
    stature = Stature.fit([out[t].box for t in range(25)], 360)  # as recut fits it: the boxes as cut
    assert stature is not None and 20 < WIDE * stature.expected(out[31].box.y) < 56
    assert out[30].keypoints is None and bool(out[30].silhouette.all())
    box = out[30].box
    assert box.x <= couple.box.x and box.x + box.w >= couple.box.x + couple.box.w  # the box as cut
    assert torch.equal(
        out[30].crop, torch.from_numpy(pixels[box.y : box.y + box.h, box.x : box.x + box.w]).permute(2, 0, 1)
    )
    assert out[31].keypoints is not None and all(out[t].keypoints is not None for t in range(25))

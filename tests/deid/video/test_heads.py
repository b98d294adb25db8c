"""Video sightings grown to hold the head: the hair above a person is concealed, not left in the clear."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import torch

from deid.adversary import Adversary
from deid.boxes import Box
from deid.loop.heads import head_ellipse
from deid.video import Frame, VideoReader, conceal_video, follow_people
from deid.video.follow import Sighting
from deid.video.heads import with_heads
from deid.video.io import to_tensor
from tests.deid.video.conftest import walking_folder


def _posed(frame: int, box: Box, pixels: np.ndarray) -> Sighting:
    """A person whose face keypoints sit 2 px below the top of ``box`` (the silhouette stops at
    the eyes), shoulders 10 px apart."""
    keypoints = torch.zeros(33, 3)
    keypoints[:, 0], keypoints[:, 1], keypoints[:, 2] = box.w / 2, box.h / 2, 1.0
    keypoints[:11, 1] = 2.0
    keypoints[11, 0], keypoints[12, 0] = box.w / 2 - 5, box.w / 2 + 5
    silhouette = torch.zeros(box.h, box.w, dtype=torch.bool)
    silhouette[:, 2:-2] = True
    crop = torch.from_numpy(pixels[box.y : box.y + box.h, box.x : box.x + box.w]).permute(2, 0, 1).clone()
    return Sighting(frame, 0, box, silhouette, keypoints, "found", crop)


def test_a_posed_sighting_grows_to_its_head_and_is_cut_again() -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    posed = _posed(0, Box(30, 20, 16, 36), pixels)
    whole = Sighting(
        0, 1, Box(5, 5, 10, 20), torch.ones(20, 10, dtype=torch.bool), None, "predicted", posed.crop
    )
    later = _posed(1, Box(30, 20, 16, 36), pixels)
    # the second frame is not among the frames given: its sighting is kept as it is
    [[grown, kept], [not_read]] = with_heads([[posed, whole], [later]], [Frame(0, pixels)])
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


def test_the_top_of_the_head_is_concealed_in_the_written_video(
    stand_ins: None, adversary: Adversary, tmp_path: Path
) -> None:
    # the stand-in pose puts the face 2 px below the top of each bright person (rows 10-50):
    # the head's ellipse reaches above the person, where the hair would be
    source = walking_folder(tmp_path)
    out = tmp_path / "out" / "frames"
    report = conceal_video(source, out, adversary=adversary, look_every=0, progress=False)
    posed = [s for t in report.tracks for s in t.sightings if s[5] != "predicted"]
    assert posed and all(s[2] < 10 for s in posed)  # every posed box reaches above the person
    originals = {f.index: to_tensor(f.pixels) for f in VideoReader.open(source)}
    changed_above = 0
    for frame in VideoReader.open(out):
        for s in (
            s for t in report.tracks for s in t.sightings if s[0] == frame.index and s[5] != "predicted"
        ):
            x, w = s[1], s[3]
            above = (to_tensor(frame.pixels) - originals[frame.index])[:, 7:10, x : x + w]
            changed_above += int(bool((above.abs() > 0.02).any()))
    assert changed_above == len(posed)


def test_on_pets_every_posed_sighting_holds_its_head(pets_video: Path) -> None:
    frames = list(itertools.islice(VideoReader.open(pets_video), 3))
    by_frame = follow_people(frames, fps=10)
    grown = with_heads(by_frame, frames)
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

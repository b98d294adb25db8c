"""The face net under the person finder: CenterFace, vendored, on the bundled street frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from deid.boxes import Box
from deid.finder import (
    FACE_MAX_SIDE,
    FACE_MODEL_PATH,
    FACE_THRESHOLD,
    TURNS,
    FaceDetector,
    ModelFileError,
    faces_by_turn,
    find_faces,
    people_below_faces,
    turned_box,
    unturned_box,
)
from reid_model.io import read_image

FRAME = Path(__file__).resolve().parents[3] / "examples" / "images" / "frames" / "PennPed00074.png"


def test_the_three_faces_of_the_example_frame_are_found_at_their_heads():
    frame = read_image(FRAME)  # three people walking; the woman's, in sunglasses, half behind her hair
    faces = find_faces(frame)
    centres = sorted((b.x + b.w / 2, b.y + b.h / 2) for b in faces)
    assert len(faces) == 3 and all(b.score >= FACE_THRESHOLD for b in faces)
    (x0, y0), (x1, y1), (x2, y2) = centres
    assert 200 < x0 < 230 and 50 < y0 < 80  # the woman
    assert 235 < x1 < 265 and 35 < y1 < 65  # the man in the cap
    assert 350 < x2 < 380 and 40 < y2 < 75  # the man in the dark pullover
    assert all(12 <= b.w <= 40 and 15 <= b.h <= 45 for b in faces)
    assert len(find_faces(frame, threshold=0.5)) == 2  # hers is the least sure (0.49)


def test_no_face_in_plain_or_noisy_images():
    assert find_faces(torch.full((3, 120, 90), 0.5)) == []
    noise = torch.rand(3, 200, 160, generator=torch.Generator().manual_seed(0))
    assert find_faces(noise) == []


def test_frames_of_other_sizes_do_not_disturb_each_other():
    """OpenCV's importer fixes a network's shapes at its first run: one detector, fed frames of
    three sizes in turn, finds what a fresh detector finds on each."""
    frame = read_image(FRAME)
    detector = FaceDetector()
    sizes = [frame, frame[:, :200, 200:], frame[:, 10:, :], frame]
    seen = [find_faces(f, detector=detector) for f in sizes]
    fresh = [find_faces(f, detector=FaceDetector()) for f in sizes]
    assert seen == fresh and seen[0] == seen[3] and len(seen[1]) == 3


def test_a_higher_threshold_keeps_fewer_faces_and_bad_thresholds_are_refused():
    frame = read_image(FRAME)
    assert len(find_faces(frame, threshold=0.65)) == 1
    for bad in (0.0, 1.5):
        with pytest.raises(ValueError, match="threshold"):
            find_faces(frame, threshold=bad)
    with pytest.raises(ValueError, match="image"):
        find_faces(frame[0])
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8"):
        FaceDetector().run(np.zeros((10, 10, 3), np.float32), 0.5)


def test_faces_too_small_for_the_net_are_found_in_the_frame_enlarged():
    """The example frame at 0.4 of its size: faces 7-10 pixels wide, which the net finds only
    with the frame enlarged (the default), each where a face of the whole frame is."""
    frame = read_image(FRAME)
    small = F.interpolate(frame[None], scale_factor=0.4, mode="area")[0]
    assert find_faces(small, upscale=1) == []
    found = find_faces(small)
    whole = find_faces(frame, upscale=1)
    assert len(found) >= 2
    for face in found:
        assert face.x >= 0 and face.x + face.w <= small.shape[-1] and face.y + face.h <= small.shape[-2]
        grown = Box(round(face.x / 0.4), round(face.y / 0.4), round(face.w / 0.4), round(face.h / 0.4))
        assert any(other.holds_centre_of(grown) for other in whole)


class _Sizes(FaceDetector):
    """The face net, noting the size of every frame it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[tuple[int, int]] = []

    def run(self, image: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
        self.sizes.append(image.shape[:2])
        return np.zeros((0, 4)), np.zeros(0)


@pytest.mark.parametrize(
    ("size", "looked"),
    [
        ((100, 150), [(100, 150), (200, 300)]),  # enlarged twice
        ((700, 1000), [(700, 1000), (1120, 1600)]),  # as far as FACE_MAX_SIDE
        ((1000, 1400), [(1000, 1400)]),  # 1.14 times would add little: not enlarged
    ],
)
def test_the_enlarged_look_is_upright_and_stops_at_the_longest_side(size, looked):
    detector = _Sizes()
    faces_by_turn(torch.zeros(3, *size), detector=detector, turns=TURNS)
    assert detector.sizes[: len(looked)] == looked  # upright first
    assert len(detector.sizes) == len(looked) + 3  # one look for each other turn, not enlarged
    assert max(max(s) for s in looked) <= max(FACE_MAX_SIDE, *size)


@pytest.mark.parametrize("turn", [1, 2, 3])
def test_a_box_found_in_a_turned_frame_is_put_back_where_it_was(turn):
    frame = torch.zeros(1, 30, 50)
    box = Box(7, 4, 9, 13)
    frame[:, box.y : box.y + box.h, box.x : box.x + box.w] = 1
    turned = torch.rot90(frame, turn, (1, 2))
    ys, xs = torch.nonzero(turned[0], as_tuple=True)
    seen = Box(int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1))
    assert turned_box(box, turn, 30, 50) == seen
    assert unturned_box(seen, turn, 30, 50) == box


@pytest.mark.parametrize("turn", [1, 2, 3])
def test_in_a_frame_on_its_side_or_upside_down_faces_are_found_every_way_up(turn):
    """The frame turned: upright, the net does not find his face; looking at the frame every way up
    it finds the man in the dark pullover (0.69, the surest; the others are below
    TURNED_FACE_THRESHOLD), where his face is, and a person proposed there reaches from his face
    towards his feet, wherever they are in the turned frame."""
    frame = read_image(FRAME)
    (upright,) = find_faces(frame, threshold=0.65, upscale=1)  # at the frame's size, as turned
    turned = torch.rot90(frame, turn, (1, 2))
    height, width = turned.shape[-2:]
    expected = turned_box(upright, turn, *frame.shape[-2:])
    assert not any(expected.holds_centre_of(f) for f in find_faces(turned))  # upright: not his
    (face,) = [f for f in find_faces(turned, turns=TURNS) if f.score >= 0.65]
    assert abs(face.x - expected.x) <= 2 and abs(face.y - expected.y) <= 2
    found = faces_by_turn(turned, turns=TURNS)
    back = (4 - turn) % 4  # the turn that stands him up again
    assert face in found[back]
    (person,) = people_below_faces(turned, [face], [], turn=back)
    assert person.box.holds_centre_of(face) and person.mask.sum() == person.box.w * person.box.h
    feet = turned_box(Box(upright.x, frame.shape[-2] - 1, 1, 1), turn, *frame.shape[-2:])  # below him

    def centre(box):
        return np.array([box.x + box.w / 2, box.y + box.h / 2])

    towards = centre(person.box) - centre(face)  # the box reaches from his face towards his feet
    assert towards @ (centre(feet) - centre(face)) > 0.8 * np.linalg.norm(towards) * np.linalg.norm(
        centre(feet) - centre(face)
    )
    long_side = person.box.w if turn % 2 else person.box.h
    assert long_side > 4 * (face.w if turn % 2 else face.h)
    assert person.box.x >= 0 and person.box.y >= 0
    assert person.box.x + person.box.w <= width and person.box.y + person.box.h <= height


def test_a_corrupt_model_file_is_refused_by_name(tmp_path):
    bad = tmp_path / "centerface.onnx"
    bad.write_bytes(FACE_MODEL_PATH.read_bytes()[:1000])
    with pytest.raises(ModelFileError, match=r"centerface\.onnx.*sha256"):
        FaceDetector(bad)

"""Faces still found in a frame with its people concealed: concealed as written, never private."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from deid.boxes import Box
from deid.finder import FACE_THRESHOLD, TURNS, FinderConfig, Person, find_faces
from deid.loop.faces import conceal_faces, face_ellipse, faces_in_the_clear, on_figure
from deid.loop.frames import paste_people, plan_frame
from deid.loop.heads import ellipse_mask
from deid.loop.results import FrameResult, PersonResult
from deid.operators import Figure, OutfitFill
from deid.operators.figure import standing
from deid.operators.outfit import COLORS
from reid_model.io import decode_image, read_image
from tests.conftest import pennfudan_boxes

FRAME = Path(__file__).resolve().parents[3] / "examples" / "images" / "frames" / "PennPed00074.png"
LEFT_PAIR = Box(110, 15, 180, 290)  # the woman and the man in the cap; not the man on the right


def _grey(people):
    return [torch.full_like(c, 0.5) for c in people.crops]


def test_conceal_faces_changes_only_the_faces_ellipse_on_uint8_levels():
    image = torch.randint(0, 256, (3, 60, 80), generator=torch.Generator().manual_seed(0)).float() / 255
    before = image.clone()
    face = Box(30, 20, 10, 12)
    out = conceal_faces(image, [face], "blur")
    inside = ellipse_mask(60, 80, face_ellipse(face))
    changed = (out != image).any(0)
    assert changed.any() and not (changed & ~inside).any()
    assert (out[:, inside] - image[:, inside]).abs().mean() > 0.05  # really blurred
    assert torch.equal(out * 255, (out * 255).round()) and torch.equal(image, before)
    assert conceal_faces(image, [face], "keep") is image and conceal_faces(image, [], "blur") is image


def test_the_face_of_a_person_outside_every_given_box_is_concealed_as_written():
    """Boxes given for the two people on the left, no second look, before or after (it would conceal him): the man
    on the right is nobody's, so his face is still found once they are pasted back; it is concealed in the file and listed, and the
    face net sees it there far less sure (a blurred face), below 0.5."""
    frame = read_image(FRAME)
    people = plan_frame(frame, [LEFT_PAIR], finder=FinderConfig(look=False, look_written=False))
    assert people.face_threshold == FACE_THRESHOLD and people.face_treatment == "blur"
    written = paste_people(frame, people, _grey(people), output_format=".png", check=lambda o, w: [True])
    (face,) = written.faces  # not the round sign on the wall, turned a quarter (0.63)
    assert 350 < face.x + face.w / 2 < 380  # the man on the right
    back = decode_image(written.encoded)
    inside = ellipse_mask(*frame.shape[-2:], face_ellipse(face))
    assert (back[:, inside] - frame[:, inside]).abs().mean() > 0.03
    box = torch.zeros_like(inside)
    box[LEFT_PAIR.y : LEFT_PAIR.y + LEFT_PAIR.h, LEFT_PAIR.x : LEFT_PAIR.x + LEFT_PAIR.w] = True
    assert torch.equal(back[:, ~inside & ~box], frame[:, ~inside & ~box])  # nothing else changed
    (blurred,) = find_faces(back)  # the net still sees a blurred face there, less sure
    assert blurred.score < face.score - 0.2 and find_faces(back, threshold=0.5) == []


def test_with_the_head_kept_only_faces_outside_every_box_count_and_none_is_touched():
    frame = read_image(FRAME)
    everyone = Box(100, 10, 330, 300)
    kept = plan_frame(frame, [everyone], head="keep")
    same = paste_people(frame, kept, [frame[:, 10:310, 100:430].clone()], output_format=".png", check=None)
    assert same.faces == [] and torch.equal(same.image, frame)  # both men's faces in the box
    left = plan_frame(frame, [LEFT_PAIR], head="keep", finder=FinderConfig(look=False, look_written=False))
    out = paste_people(frame, left, _grey(left), output_format=".png", check=None)
    (face,) = out.faces
    assert 350 < face.x + face.w / 2 < 380
    inside = ellipse_mask(*frame.shape[-2:], face_ellipse(face))
    assert torch.equal(out.image[:, inside], frame[:, inside])  # listed, kept as asked
    assert faces_in_the_clear(frame, [everyone], threshold=FACE_THRESHOLD, treatment="blur") == find_faces(
        frame
    )


def test_without_the_face_net_nothing_is_looked_for():
    frame = read_image(FRAME)
    people = plan_frame(frame, [LEFT_PAIR], finder=FinderConfig(faces=None))
    assert people.face_threshold is None
    assert paste_people(frame, people, _grey(people), output_format=".png", check=None).faces == []
    with pytest.raises(ValueError, match="faces"):
        FinderConfig(faces=0.0)


def test_a_frame_with_a_face_found_is_not_private():
    image = torch.zeros(3, 10, 10)
    private = PersonResult([image], None, 0, True, False, None, 1.0, {}, {})
    assert FrameResult(image, [private], [Box(0, 0, 10, 10)], True).success  # the face alone decides
    result = FrameResult(image, [private], [Box(0, 0, 10, 10)], True, faces=[Box(0, 0, 5, 5)])
    assert not result.success


@pytest.mark.parametrize("width", [100, 220])
def test_a_face_no_found_person_holds_proposes_an_unsure_person_below_it(monkeypatch, width):
    """The finder (stood in) finds only the man in the cap: the face of the man on the right
    proposes an unsure person whose box holds him from the face down, concealed by box; also
    when the cap man's box reaches over that face (two people taken for one): his head does not.
    The woman's face, half behind her hair, proposes her too."""
    import deid.detection

    frame = read_image(FRAME)
    points = torch.zeros(33, 3)
    points[:11, :2] = torch.tensor([250.0, 50.0])  # his face
    points[11:13, :2] = torch.tensor([[235.0, 85.0], [265.0, 85.0]])  # his shoulders
    points[23:25, :2] = torch.tensor([[240.0, 170.0], [260.0, 170.0]])  # his hips
    cap = Person(Box(190, 20, width, 280), 0.99, torch.zeros(332, 442, dtype=torch.bool), points, False)
    monkeypatch.setattr(deid.detection, "find_frame_people", lambda image, config=None: [cap])
    alone = FinderConfig(look=False)  # the faces alone: the second look finds the man on the right
    people = plan_frame(frame, finder=alone)
    assert people.found is not None and len(people.found) == 3  # the faces, best first
    extra, woman = people.found[1:]
    assert extra.uncertain and extra.score >= 0.5 and people.boxes[1] == extra.box and extra.how == "face"
    face_x, face_y = 365, 57  # the right man's face
    assert extra.box.x < face_x < extra.box.x + extra.box.w and extra.box.y < face_y
    assert extra.box.y + extra.box.h > 200  # down to his legs
    assert bool(extra.mask[face_y, face_x]) and not bool(extra.mask[5, 5])
    assert woman.uncertain and woman.box.x < 214 < woman.box.x + woman.box.w  # her face: 0.49
    # the man in the cap's head holds his face; without the face net nobody is proposed
    assert plan_frame(frame, finder=replace(alone, faces=None)).found == [cap]


def _with_figures(frame: torch.Tensor, boxes: list[Box]) -> torch.Tensor:
    """``frame`` with a standing stand-in figure (grey, on a blue-over-green canvas) in each box,
    on uint8 levels as the loop writes it."""
    out = frame.clone()
    for box in boxes:
        crop = out[:, box.y : box.y + box.h, box.x : box.x + box.w]
        drawn = Figure(OutfitFill(COLORS[[2]], COLORS[[6]]))(crop[None], torch.ones(1, 1, *crop.shape[-2:]))
        out[:, box.y : box.y + box.h, box.x : box.x + box.w] = (drawn[0] * 255).round() / 255
    return out


FIGURE_BOX = Box(40, 30, 80, 240)  # on the background left of the three people


def _head_of_figure(score: float = 1.0) -> Box:
    """A face box inside the head of the figure :func:`_with_figures` draws in :data:`FIGURE_BOX`."""
    nose_x, nose_y = standing((FIGURE_BOX.h, FIGURE_BOX.w))[0]
    return Box(int(FIGURE_BOX.x + nose_x) - 8, int(FIGURE_BOX.y + nose_y) - 10, 16, 18, score)


def test_a_face_on_a_figure_s_head_is_the_figure_s_and_real_faces_are_not():
    frame = read_image(FRAME)
    drawn, head = _with_figures(frame, [FIGURE_BOX]), _head_of_figure()
    assert on_figure(drawn, head) and not on_figure(frame, head)
    assert not any(on_figure(frame, face) for face in find_faces(frame))  # the three real faces
    assert not on_figure(drawn, Box(FIGURE_BOX.x - 20, FIGURE_BOX.y, 10, 10))  # off the figure
    shadow = torch.full((3, 40, 40), 0.1)  # a face in deep shadow, in the outline's dark grey
    assert not on_figure(shadow, Box(10, 10, 12, 14))


def test_faces_the_net_sees_on_figures_heads_are_neither_concealed_nor_counted(monkeypatch):
    frame = read_image(FRAME)
    drawn, head = _with_figures(frame, [FIGURE_BOX]), _head_of_figure(score=0.4)
    real = find_faces(frame)
    monkeypatch.setattr("deid.finder.find_faces", lambda image, threshold, turns: [head, *real])
    assert faces_in_the_clear(drawn, [FIGURE_BOX], threshold=FACE_THRESHOLD, treatment="blur") == real


def test_on_penn_fudan_the_face_net_takes_figures_heads_for_faces_and_they_do_not_count(pennfudan_root):
    # The stand-in figure pasted at every labelled person's box: the face net finds faces on some
    # figures' heads (a grey oval in a dark ring); none of them is a face in the clear.
    on_heads = 0
    for path in sorted((pennfudan_root / "PNGImages").glob("*.png"))[:40]:
        boxes = pennfudan_boxes(pennfudan_root, path.stem)
        drawn = _with_figures(read_image(path), boxes)
        faces = find_faces(drawn, turns=TURNS)  # as the look at a written frame
        heads = [f for f in faces if on_figure(drawn, f)]
        on_heads += sum(any(b.holds_centre_of(f) for b in boxes) for f in heads)
        clear = faces_in_the_clear(drawn, boxes, threshold=FACE_THRESHOLD, treatment="blur")
        assert not any(on_figure(drawn, f) for f in clear)
        assert len(clear) == len(faces) - len(heads)
    assert on_heads >= 1


def test_a_face_in_a_frame_on_its_side_is_found_in_the_written_frame():
    """A review turned Penn-Fudan frames a quarter: faces the net finds only the right way up were
    left in the clear under a private verdict. The look at a written frame turns it every way."""
    frame = torch.rot90(read_image(FRAME), 1, (1, 2))
    assert not any(f.score >= 0.65 for f in find_faces(frame))  # upright: not the man's face
    faces = faces_in_the_clear(frame, [], threshold=FACE_THRESHOLD, treatment="blur")
    (face,) = [f for f in faces if f.score >= 0.65]  # and two shapes upright the net is unsure of
    assert face.w > face.h  # his face, lying on its side
    out = conceal_faces(frame, faces, "blur")
    assert not any(
        face.holds_centre_of(f) for f in faces_in_the_clear(out, [], threshold=0.5, treatment="blur")
    )

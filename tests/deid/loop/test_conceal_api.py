"""``deid.conceal`` itself, with the bundled adversary: a path, a crop tensor, a full frame and back."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import deid
from deid import Adversary, FrameResult
from deid.boxes import Box, crop_boxes, nearest_last_order, paste_crops
from deid.finder import find_people
from reid_model import read_image
from reid_model.io import ImageReadError
from tests.conftest import REPO

CROP = REPO / "examples" / "images" / "cam_a" / "014_0.bmp"


def _private(adversary: Adversary, concealed: torch.Tensor, original: torch.Tensor) -> bool:
    """The adversary's verdict on one concealed crop against its own original, recomputed here."""
    check = adversary.check(
        adversary.embed(concealed[None]), adversary.embed(original[None]), torch.tensor([0])
    )
    return bool(check.private.item())


def test_conceal_a_path_and_the_same_crop_as_a_tensor_with_details():
    original = read_image(CROP)
    copy = original.clone()
    from_path = deid.conceal(CROP, seed=0)
    frame = deid.conceal(original, details=True, seed=0)
    assert isinstance(from_path, torch.Tensor) and from_path.shape == original.shape
    assert isinstance(frame, FrameResult) and frame.detected
    # one person, the whole crop, listed like a frame's people
    assert frame.boxes == [Box(0, 0, 48, 128)] and frame.found_by == ["crop"]
    assert frame.heads == [frame.people[0].head] and frame.heads[0].startswith("blur")
    assert torch.equal(from_path, frame.image)
    assert torch.equal(original, copy)  # the input is not modified
    changed = (from_path - original).abs().amax(0) > 1 / 255
    assert float(changed.float().mean()) > 0.2  # a real person alone: concealed, not passed through
    (person,) = frame.people
    assert torch.equal(frame.image, person.images[0])
    assert person.scores_before == {"match_rate": 1.0, "rank": 1.0}  # checked against itself
    assert frame.success is person.success is _private(Adversary.default(), frame.image, original)


def test_conceal_takes_any_float_dtype_and_one_tensor_for_one_appearance():
    original = read_image(CROP)
    expected = deid.conceal(original, seed=0)
    for dtype in (torch.float64, torch.float16):
        out = deid.conceal(original.to(dtype), seed=0)  # raised inside the loop, after it had run
        assert out.dtype == torch.float32 and out.shape == original.shape
    assert torch.equal(deid.conceal(original.double(), seed=0), expected)  # float64 holds float32 exactly
    person = deid.conceal_person(original, seed=0)  # iterated over its colour channels
    assert len(person.images) == 1 and torch.equal(person.images[0], expected)


def test_conceal_refuses_what_is_not_an_image_tensor():
    with pytest.raises(
        TypeError,
        match=r"image must be an image file path or a \(3, H, W\) float torch.Tensor .* got ndarray",
    ):
        deid.conceal(np.zeros((128, 48, 3), np.float32))  # type: ignore[arg-type]
    from PIL import Image

    with pytest.raises(TypeError, match=r"got Image \(a PIL image p: torch.from_numpy\(numpy.asarray"):
        deid.conceal(Image.new("RGB", (48, 128)))  # type: ignore[arg-type]
    with pytest.raises(ImageReadError, match=r"a folder, expected an image file"):
        deid.conceal(Path(__file__).parent)
    with pytest.raises(ValueError, match="no person detected"):
        deid.conceal(torch.full((3, 300, 400), 0.5))


def test_conceal_a_full_frame_through_the_detector_and_back(pennfudan_root):
    """Two overlapping people of a real street frame: pasted back, background kept, verdict holds."""
    frame = read_image(pennfudan_root / "PNGImages" / "PennPed00001.png")[:, :, 150:420].contiguous()
    result = deid.conceal(frame, details=True, seed=0, head="keep")  # heads: the next test
    assert isinstance(result, FrameResult) and result.detected
    boxes = result.boxes
    assert len(boxes) == len(result.people) >= 2
    assert len(result.found_by) == len(boxes) and result.found_by[0] == "finder"
    assert set(result.found_by) <= {"finder", "second look", "face"}
    out = result.image
    assert out.shape == frame.shape

    inside = torch.zeros(frame.shape[1:], dtype=torch.bool)
    for box in boxes:
        inside[box.y : box.y + box.h, box.x : box.x + box.w] = True
    assert torch.equal(out[:, ~inside], frame[:, ~inside])  # background outside the boxes untouched
    assert bool((out != frame).any(0)[inside].any())

    originals, _ = crop_boxes(frame, boxes)
    cut, _ = crop_boxes(out, boxes)
    adversary = Adversary.default()
    for i, (person, box) in enumerate(zip(result.people, boxes, strict=True)):
        mine = person.images[0]
        assert mine.shape == (3, box.h, box.w)
        others = torch.zeros(box.h, box.w, dtype=torch.bool)
        for j, other in enumerate(boxes):
            if j != i:
                x0, y0 = max(other.x - box.x, 0), max(other.y - box.y, 0)
                others[y0 : max(other.y + other.h - box.y, 0), x0 : max(other.x + other.w - box.x, 0)] = True
        concealed_here = (mine != originals[i]).any(0)
        pasted = (cut[i] == mine).all(0)
        # Each pixel this person concealed is in the frame as concealed, or concealed by another
        # person whose box overlaps: never the original pixel again.
        still_concealed = (cut[i] != originals[i]).any(0)
        assert bool((pasted | (others & still_concealed))[concealed_here].all()), f"person {i}"
        assert bool(pasted[~others].all()), f"person {i} is not pasted back where no box overlaps"
        assert person.covers is not None and not bool(concealed_here[~person.covers[0]].any()), f"person {i}"
        # The verdict, recomputed on the person as cut from the returned frame.
        assert person.success is _private(adversary, cut[i], originals[i]), f"person {i}"
    assert result.success is all(p.success for p in result.people)
    nearest = nearest_last_order(boxes)[-1]  # pasted last: all it covers is its own, changed or not
    cover = result.people[nearest].covers[0]  # type: ignore[index]
    assert bool(cover.any()) and bool((cut[nearest] == result.people[nearest].images[0]).all(0)[cover].all())


def test_every_head_the_finder_places_is_concealed_by_default(pennfudan_root):
    from deid.loop.heads import head_ellipse

    frame = read_image(pennfudan_root / "PNGImages" / "PennPed00001.png")[:, :, 150:420].contiguous()
    blurred = deid.conceal(frame, details=True, seed=0)  # head="blur" is the default
    kept = deid.conceal(frame, details=True, seed=0, head="keep", shape="box")
    assert isinstance(kept, FrameResult) and isinstance(blurred, FrameResult)
    assert kept.boxes == blurred.boxes and kept.heads == ["keep"] * len(kept.boxes)
    assert all(head.startswith("blur") for head in blurred.heads)
    yy, xx = torch.meshgrid(torch.arange(frame.shape[1]), torch.arange(frame.shape[2]), indexing="ij")
    changed = (blurred.image != frame).any(0)
    people = find_people(frame)  # first in the boxes; people the faces propose come after them
    assert len(blurred.boxes) >= len(people)
    for person, box in zip(people, blurred.boxes[: len(people)], strict=True):
        cx, cy, rx, ry = head_ellipse(person.keypoints)
        head = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1.0
        in_box = (xx >= box.x) & (xx < box.x + box.w) & (yy >= box.y) & (yy < box.y + box.h)
        assert changed[head & in_box].float().mean() > 0.8  # the head is not in the clear
    with pytest.raises(ValueError, match="head must be one of"):
        deid.conceal(frame, head="hide")


def test_a_smaller_head_scale_conceals_a_smaller_head_and_grows_the_boxes_less(pennfudan_root):
    from deid.loop.heads import head_ellipse

    frame = read_image(pennfudan_root / "PNGImages" / "PennPed00001.png")[:, :, 150:420].contiguous()
    found = [p for p in find_people(frame) if not p.uncertain]
    default = deid.conceal(frame, details=True, seed=0, shape="body-only")
    small = deid.conceal(frame, details=True, seed=0, shape="body-only", head_scale=0.5)
    assert isinstance(default, FrameResult) and isinstance(small, FrameResult)
    assert len(default.boxes) == len(small.boxes) >= len(found) >= 2  # proposed people after them
    for wide, narrow, person in zip(
        default.boxes[: len(found)], small.boxes[: len(found)], found, strict=True
    ):
        assert narrow.y >= wide.y and narrow.y + narrow.h == wide.y + wide.h
        cx, cy, rx, ry = head_ellipse(person.keypoints, 0.5)
        assert narrow.y <= max(0, cy - ry) + 1  # the smaller head is still inside its box
    assert any(narrow.y > wide.y for wide, narrow in zip(default.boxes, small.boxes, strict=True))
    yy, xx = torch.meshgrid(torch.arange(frame.shape[1]), torch.arange(frame.shape[2]), indexing="ij")
    changed = {k: (r.image != frame).any(0) for k, r in (("default", default), ("small", small))}
    for person in found:
        cx, cy, rx, ry = head_ellipse(person.keypoints, 0.5)
        head = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1.0
        assert changed["small"][head].float().mean() > 0.8  # the face is still concealed
    assert int(changed["small"].sum()) < int(changed["default"].sum())  # less of the frame changed
    with pytest.raises(ValueError, match=r"head_scale must be in \[0.25, 4.0\], got 0.1"):
        deid.conceal(frame, head_scale=0.1)


@pytest.mark.parametrize("how", ["blur", "pixelate", "fill"])
def test_conceal_head_changes_the_head_and_nothing_else(viper_root, how):
    from deid.loop.bodies import find_bodies
    from deid.loop.heads import conceal_head, ellipse_mask

    crop = read_image(viper_root / "cam_a" / "000_45.bmp")
    (body,) = find_bodies([crop])
    out = conceal_head(crop, body.head(), how)
    changed = (out != crop).any(0)
    inside = ellipse_mask(*crop.shape[-2:], body.head())
    assert not bool(changed[~inside].any()) and changed[inside].float().mean() > 0.5
    x, y = (round(float(v)) for v in body.keypoints[0, :2])  # the nose
    assert bool(inside[y, x])
    assert torch.equal(conceal_head(crop, body.head(), "keep"), crop)


def test_a_later_person_never_undoes_an_earlier_persons_concealment():
    frame = torch.rand(3, 20, 20, generator=torch.Generator().manual_seed(0))
    boxes = [Box(0, 0, 12, 12), Box(6, 6, 12, 12)]
    crops, used = crop_boxes(frame, boxes)
    first = torch.zeros_like(crops[0])  # the first person wholly concealed
    second = crops[1].clone()
    second[:, 6:, 6:] = 1.0  # the second person concealed only in its lower right
    out = paste_crops(frame, [first, second], used)
    assert torch.equal(out[:, :12, :12][:, :6, :], first[:, :6, :])
    assert torch.equal(out[:, 6:12, 6:12], torch.zeros(3, 6, 6))  # the overlap stays concealed
    assert torch.equal(out[:, 12:18, 12:18], torch.ones(3, 6, 6))  # where the later one concealed
    assert torch.equal(out[:, 12:, :12][:, :, :6], frame[:, 12:, :6])  # outside both boxes


def test_the_nearer_person_is_drawn_over_the_farther_one():
    frame = torch.rand(3, 20, 20, generator=torch.Generator().manual_seed(0))
    boxes = [Box(4, 2, 10, 16), Box(0, 0, 10, 10)]  # the first's feet are lower: nearer
    crops, used = crop_boxes(frame, boxes)
    near, far = torch.zeros_like(crops[0]), torch.ones_like(crops[1])
    overlap = (slice(None), slice(2, 10), slice(4, 10))
    given = paste_crops(frame, [near, far], used)
    assert torch.equal(given[overlap], torch.ones(3, 8, 6))  # the later wins
    nearest = paste_crops(frame, [near, far], used, nearest_last=True)
    assert torch.equal(nearest[overlap], torch.zeros(3, 8, 6))
    assert torch.equal(nearest[:, :2, :10], torch.ones(3, 2, 10))  # the far one where it shows
    assert nearest_last_order(used) == [1, 0]


def test_the_nearer_persons_cover_hides_the_farther_treatment_where_it_kept_a_pixels_value():
    frame = torch.rand(3, 20, 20, generator=torch.Generator().manual_seed(0))
    frame[:, 4:8, 6:8] = 0.0  # a black coat
    boxes = [Box(4, 2, 10, 16), Box(0, 0, 10, 10)]  # the first is nearer
    crops, used = crop_boxes(frame, boxes)
    near, far = torch.zeros_like(crops[0]), torch.ones_like(crops[1])  # near: a black box
    coat = (slice(None), slice(4, 8), slice(6, 8))
    holed = paste_crops(frame, [near, far], used, nearest_last=True)
    assert torch.equal(holed[coat], torch.ones(3, 4, 2))  # the far one's white through the black
    covers = [torch.ones(16, 10, dtype=torch.bool), None]
    covered = paste_crops(frame, [near, far], used, nearest_last=True, covers=covers)
    assert torch.equal(covered[coat], torch.zeros(3, 4, 2))
    assert torch.equal(covered[:, :2, :10], torch.ones(3, 2, 10))  # the far one where it shows
    body = torch.zeros(16, 10, dtype=torch.bool)  # the near one's treatment covers its top rows only
    body[:2] = True  # frame rows 2-3, above the coat
    assert torch.equal(
        paste_crops(frame, [near, far], used, nearest_last=True, covers=[body, None])[coat], holed[coat]
    )
    with pytest.raises(ValueError, match=r"covers\[0\] must have shape \(16, 10\)"):
        paste_crops(frame, [near, far], used, covers=[torch.ones(3, 3, dtype=torch.bool), None])
    with pytest.raises(ValueError, match="covers must have the same length, got 2, 2 and 1"):
        paste_crops(frame, [near, far], used, covers=[None])


def test_an_image_handed_back_not_private_comes_with_a_warning():
    """Without details the verdict is not in what is returned: a review called deid.conceal on a
    frame left with people in the clear and heard nothing. No step allowed and never the box: the
    crop stays matched."""
    crop = REPO / "examples" / "images" / "cam_a" / "001_45.bmp"
    result = deid.conceal(crop, details=True, seed=0, shape="body-only", budget=0)
    assert isinstance(result, FrameResult) and not result.success
    assert result.why_not_private() == "the adversary still matches 1 of the 1 people found"
    with pytest.warns(deid.NotPrivateWarning, match="not private: the adversary still matches 1 of the 1"):
        image = deid.conceal(crop, seed=0, shape="body-only", budget=0)
    assert torch.equal(image, result.image)
    with warnings.catch_warnings():  # the default settings make it private: nothing to say
        warnings.simplefilter("error", deid.NotPrivateWarning)
        deid.conceal(crop, seed=0)

"""The one frame path: find a frame's people, cut them out, paste them back concealed and judge
each again as cut from the frame as written.

:func:`plan_frame` and :func:`paste_people` are the two halves, shared by :func:`conceal` (one
image) and the batch runner (which queues the people of many frames between the halves).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol, Self, TypeVar

import torch

from deid.adversary import Adversary, resolve_adversary
from deid.boxes import Box, box_pixels, centre_in, crop_boxes, held_pixels, paste_crops
from deid.loop.appearances import private_recut
from deid.loop.config import ConcealConfig
from deid.loop.faces import conceal_faces, faces_in_the_clear
from deid.loop.feet import with_head_and_feet
from deid.loop.heads import HEADS, head_box
from deid.loop.results import FrameResult, NotPrivateWarning
from deid.loop.search import conceal_people
from deid.loop.untreated import Outline, conceal_untreated, in_the_clear, untreated_people
from reid_model import read_image
from reid_model.checks import check_choice, check_images
from reid_model.io import as_written

if TYPE_CHECKING:
    from deid.finder import FinderConfig, Person

#: How many times at most :func:`paste_people` looks at a pasted frame for people left in the
#: clear, again after each look that found some: in a crowd, concealing one lets the next stand
#: out (PennPed00019: a second man beside the first, found by ``deid verify``'s look).
LOOKS_WRITTEN = 3
#: What :func:`plan_frame` may do with people the finder is unsure of.
UNCERTAIN = ("conceal", "flag")

#: ``check_written(originals, written)``: per person (one original crop and the crop re-cut from
#: the written, decoded frame), whether the adversary finds the written crop private.
WrittenCheck = Callable[[list[torch.Tensor], list[torch.Tensor]], list[bool]]


@dataclass(frozen=True)
class FramePeople:
    """A frame's people, ready to be concealed.

    Attributes:
        boxes: each person's box in the frame's pixels, grown to hold their head and to reach
            below and beside their feet (:func:`deid.loop.feet.with_head_and_feet`), clipped to
            the frame.
        crops: each person cut out at their box ``(3, h, w)`` (copies), in the order of ``boxes``.
        found: what the person finder saw of each person, or None when the boxes were given.
        added: with boxes given, the people the second look confirmed outside them (their
            boxes are the last of ``boxes``).
        flagged: the boxes of unsure people left out with ``uncertain="flag"``: not concealed,
            so a frame with any is never private.
        face_threshold: the face net's (``FinderConfig.faces``): :func:`paste_people` looks
            for faces in the pasted frame (:func:`deid.loop.faces.faces_in_the_clear`); None:
            it does not look.
        face_treatment: what is done to the faces it finds (``ConcealConfig.head``).
        looked: the people the second look confirmed (:func:`deid.finder.second_look`), boxes
            or not: :func:`paste_people` finds among them those the treatments leave untreated.
        look_written: :func:`paste_people` also looks at the pasted frame for people left in
            the clear (``FinderConfig.look_written``).
    """

    boxes: list[Box]
    crops: list[torch.Tensor]
    found: list[Person] | None
    flagged: list[Box] = field(default_factory=list)
    added: list[Person] = field(default_factory=list)
    face_threshold: float | None = None
    face_treatment: str = "blur"
    looked: list[Outline] = field(default_factory=list)
    look_written: bool = False


@dataclass(frozen=True)
class WrittenFrame:
    """A frame with its concealed people pasted back, as it will be written.

    Attributes:
        image: ``(3, H, W)`` the pasted frame.
        encoded: the bytes of its output file, on which ``private`` was judged.
        private: per person, whether the adversary finds them private as re-cut from the
            frame decoded from ``encoded``; None when no check was given.
        faces: the faces the face net still found in the pasted frame, concealed as
            ``FramePeople.face_treatment`` says before encoding: a frame with any is not private.
        untreated: the boxes of the people the second look confirmed whom the treatments left
            untreated (:func:`deid.loop.untreated.untreated_people`), then of those a look at
            the pasted frame confirms left so (``FramePeople.look_written``), concealed as the
            faces are: a frame with any is not private.
    """

    image: torch.Tensor
    encoded: bytes
    private: list[bool] | None
    faces: list[Box] = field(default_factory=list)
    untreated: list[Box] = field(default_factory=list)


def plan_frame(
    image: torch.Tensor,
    boxes: Sequence[Box] | None = None,
    *,
    uncertain: str = "conceal",
    finder: FinderConfig | None = None,
    head: str = "blur",
    head_scale: float = 1.0,
) -> FramePeople:
    """Find the people of a frame ``(3, H, W)`` (or take ``boxes``) and cut each one out.

    Args:
        image: the frame.
        boxes: the people's boxes, when the caller brings them (the finder's first look is not
            run; its second look is, when ``finder.look``: a boxes file that leaves out a person
            must not leave them in the clear under a private verdict).
        uncertain: what becomes of people the finder is unsure of: ``"conceal"`` them by their
            box like the others, or ``"flag"`` them (left unchanged, listed in ``flagged``;
            the frame is then never private). Never dropped silently.
        finder: the person finder's settings (default :class:`deid.finder.FinderConfig`;
            ``FinderConfig.thorough()`` finds more people, slower); its ``faces`` threshold is
            the face net's: a face in the frame that no found person's head holds (the box of
            their head's ellipse at scale 1, an unsure person's whole box) proposes an unsure
            person below it (:func:`deid.finder.faces.people_below_faces`), and
            :func:`paste_people` looks again, given boxes or not (None: no face net). With its
            ``look``, the people a thorough second look confirms outside the boxes found are
            concealed too (:func:`deid.finder.look.uncovered_people`).
        head: what :func:`paste_people` does to the faces it still finds (``ConcealConfig.head``).
        head_scale: the head's ellipse each found person's box is grown to hold
            (``ConcealConfig.head_scale``).

    Raises:
        BoxesError: a given box lies wholly outside the frame.
        ValueError: ``uncertain`` is neither ``"conceal"`` nor ``"flag"``.
    """
    from deid.detection import find_frame_people
    from deid.finder import FinderConfig, faces_by_turn, looks_for, people_below_faces, second_look, uncovered

    check_choice("uncertain", uncertain, UNCERTAIN)
    check_choice("head", head, HEADS)
    finder = finder or FinderConfig()
    found, flagged, added, seen = None, [], [], []
    height, width = image.shape[-2:]
    if boxes is not None:
        seen = second_look(image, config=looks_for(boxes)) if finder.look else []
        if seen:  # the people the boxes leave out
            added = uncovered(seen, box_pixels(boxes, height, width))
            boxes = [*boxes, *_boxes(added, image, head_scale)]
    else:
        found = find_frame_people(image, config=finder)
        first = _boxes(found, image, head_scale)
        seen = second_look(image, config=looks_for(first)) if finder.look else []
        if seen:  # a more thorough look, for people the first one missed
            found += uncovered(seen, box_pixels(first, height, width))
        if finder.faces is not None:  # a face no one found holds: someone the finder missed
            heads = [p.box if p.uncertain else head_box(p.keypoints) for p in found]  # where, not how much
            turned = faces_by_turn(image, threshold=finder.faces, turns=finder.face_turns)
            for turn, faces in turned.items():
                found += people_below_faces(image, faces, heads, turn=turn)
        if uncertain == "flag":
            flagged = [person.box for person in found if person.uncertain]
            found = [person for person in found if not person.uncertain]
        boxes = _boxes(found, image, head_scale)
    crops, used = crop_boxes(image, boxes)
    looked = [Outline.of(p) for p in seen]
    return FramePeople(used, crops, found, flagged, added, finder.faces, head, looked, finder.look_written)


def _boxes(people: Sequence[Person], image: torch.Tensor, head_scale: float) -> list[Box]:
    """Where ``people`` are concealed: an unsure person's box, a found person's grown to hold
    their head and to reach below and beside their feet
    (:func:`deid.loop.feet.with_head_and_feet`)."""
    height, width = image.shape[-2:]
    return [
        person.box
        if person.uncertain
        else with_head_and_feet(person.box, person.keypoints, height, width, head_scale)
        for person in people
    ]


def paste_people(
    image: torch.Tensor,
    people: FramePeople,
    concealed: Sequence[torch.Tensor],
    *,
    output_format: str,
    check: WrittenCheck | None,
    covers: Sequence[torch.Tensor | None] | None = None,
) -> WrittenFrame:
    """Paste each person's concealed crop back into ``image`` (the nearest last, each with the
    pixels its treatment set, ``covers``: see :func:`deid.boxes.paste_crops`), conceal the
    people of the second look the treatments left untreated
    (:func:`deid.loop.untreated.untreated_people`), those a look at the pasted frame finds left
    so (``people.look_written``), and the faces still found in it
    (:func:`deid.loop.faces.faces_in_the_clear` at ``people.face_threshold``), and judge the
    people as written.

    The frame is encoded in ``output_format`` and decoded again; each person is cut from that
    decoded frame at their box and checked against their own original crop: a neighbour's
    concealment pasted over an overlapping box, a face concealed in it, or the frame's
    encoding, can change the verdict.

    Raises:
        ValueError: the frame cannot be encoded in ``output_format``.
    """
    pasted = paste_crops(image, list(concealed), people.boxes, nearest_last=True, covers=covers)
    untreated = untreated_people(image, pasted, people.looked, people.boxes, covers)
    pasted = conceal_untreated(pasted, untreated, people.face_treatment)
    for _ in range(LOOKS_WRITTEN if people.look_written else 0):
        # one listed already, or an unsure person ``uncertain="flag"`` left as they were, stays so
        listed = [*people.flagged, *(p.box for p in untreated)]
        held = held_pixels(image, pasted, people.boxes, covers)
        left = [p for p in in_the_clear(pasted, held, people.boxes) if not centre_in(p.box, listed)]
        if not left:
            break
        pasted = conceal_untreated(pasted, left, people.face_treatment)
        untreated += left
        if people.face_treatment == "keep":  # nothing concealed: a look again sees the same frame
            break
    faces = []
    if people.face_threshold is not None:
        faces = faces_in_the_clear(
            pasted, people.boxes, threshold=people.face_threshold, treatment=people.face_treatment
        )
        pasted = conceal_faces(pasted, faces, people.face_treatment)
    data, back = as_written(pasted, output_format)
    private = None
    if check is not None:
        recut, _ = crop_boxes(back, people.boxes)
        private = check(people.crops, recut)
    return WrittenFrame(pasted, data, private, faces, [p.box for p in untreated])


def recut_checker(adversary: Adversary) -> WrittenCheck:
    """The written-frame check with ``adversary``: the conceal loop's rule (see
    :func:`deid.loop.appearances.private_recut`), each person against their own original."""

    def check(originals: list[torch.Tensor], written: list[torch.Tensor]) -> list[bool]:
        return private_recut(adversary, originals, written)

    return check


def conceal(
    image: torch.Tensor | str | os.PathLike[str],
    *,
    details: bool = False,
    config: ConcealConfig | None = None,
    adversary: Adversary | None = None,
    device: str | torch.device = "cpu",
    output_format: str = ".png",
    top_k: int | None = None,
    max_match_rate: float | None = None,
    uncertain: str = "conceal",
    finder: FinderConfig | None = None,
    kind: str = "auto",
    **options: Any,
) -> torch.Tensor | FrameResult:
    """Conceal the person in a crop, or every detected person in a full frame.

    Works with no other argument: the bundled adversary and gallery are used. A crop goes straight
    in; a larger frame goes through the person finder first (:func:`plan_frame`, unsure people
    included by default, then a second, thorough look and the faces for people it missed;
    ``FrameResult.found_by`` says which), each person is concealed and pasted back, and each
    is judged again as cut from the pasted frame (:func:`paste_people`; a person matched there
    is reported not private). Faces
    the face net still finds in the pasted frame are concealed too, and make the frame not
    private (``FrameResult.faces``). A frame with no detection raises, rather than pass as
    anonymized.

    The verdict holds for the image as it will be saved: the pixels the loop changed are
    rounded to uint8 levels (``k / 255``), so writing the result as 8-bit PNG, BMP or TIFF
    (``reid_model.io.write_image``) changes none of them, and each person was checked after
    encoding in ``output_format`` and decoding again. For a lossy ``output_format`` (``".jpg"``)
    each person's crop is checked as encoded on its own, and a full frame's people once more as
    cut from the whole frame encoded in ``output_format``.

    Args:
        image: ``(3, H, W)`` float RGB in [0, 1], or an image file path.
        details: return a :class:`FrameResult` (masks, steps, scores, fallback) instead of the image.
        output_format: the file format the result will be written in (``".png"``, ``".jpg"``, ...).
        config, options: loop settings (see :class:`ConcealConfig`).
        top_k, max_match_rate: the bundled adversary's privacy target; with an ``adversary`` they
            must match its own (:func:`deid.adversary.resolve_adversary`).
        uncertain: people the finder is unsure of are concealed by their box (``"conceal"``) or
            left unchanged and listed in ``FrameResult.flagged`` (``"flag"``: the frame is then
            not private).
        finder: the person finder's settings for a frame (see :func:`plan_frame`).
        kind: ``"auto"`` takes an image at most 400 pixels high and 1.4 to 4 times as high as
            wide for one person's crop (:func:`deid.detection.is_person_crop`), anything else for
            a frame; ``"crop"`` or ``"frame"`` says which it is (a small portrait frame of
            several people is a ``"frame"``).

    Warns:
        NotPrivateWarning: with ``details=False``, when the image returned is not private
            (:meth:`FrameResult.why_not_private` says why).

    Example:
        >>> concealed = deid.conceal("examples/images/cam_a/001_45.bmp")  # doctest: +SKIP
        >>> concealed.shape  # doctest: +SKIP
        torch.Size([3, 128, 48])
    """
    from deid.detection import taken_as_crop

    if isinstance(image, str | os.PathLike):
        image = read_image(image)
    elif not isinstance(image, torch.Tensor):
        raise TypeError(
            f"image must be an image file path or a (3, H, W) float torch.Tensor in [0, 1], got "
            f"{type(image).__name__}{_array_hint(image)}"
        )
    image = check_images(image, "image", batched=False).float()  # float16, float64: computed in float32
    crop = taken_as_crop(image, kind)
    config = replace(config or ConcealConfig(), **options)
    adversary = resolve_adversary(adversary, device=device, top_k=top_k, max_match_rate=max_match_rate)
    if crop:
        result = conceal_people(
            [[image]], config=config, adversary=adversary, device=device, formats=[[output_format]]
        )[0]
        height, width = image.shape[1:]
        frame = FrameResult(
            result.images[0],
            [result],
            [Box(0, 0, width, height)],
            True,
            heads=[result.head or "keep"],
            found_by=["crop"],
        )
    else:
        people = plan_frame(
            image, uncertain=uncertain, finder=finder, head=config.head, head_scale=config.head_scale
        )
        if not people.crops:
            unsure = f" ({len(people.flagged)} unsure, flagged)" if people.flagged else ""
            raise ValueError(
                f"no person detected in the frame of {image.shape[2]}x{image.shape[1]} pixels{unsure}; "
                "pass person boxes or a person crop"
            )
        results = conceal_people(
            [[c] for c in people.crops],
            config=config,
            adversary=adversary,
            device=device,
            formats=[[output_format]] * len(people.crops),
        )
        written = paste_people(
            image,
            people,
            [r.images[0] for r in results],
            output_format=output_format,
            check=recut_checker(adversary),
            covers=[r.covers[0] if r.covers else None for r in results],
        )
        frame = FrameResult(
            written.image,
            held(results, written.private),
            people.boxes,
            True,
            flagged=people.flagged,
            heads=[r.head or "keep" for r in results],
            faces=written.faces,
            untreated=written.untreated,
            found_by=[p.how for p in people.found]
            if people.found is not None
            else ["boxes"] * len(people.boxes),
        )
    if not details and not frame.success:  # the verdict is in the result only: say it here
        warnings.warn(
            f"the concealed image is not private: {frame.why_not_private()} "
            "(details=True returns the verdicts)",
            NotPrivateWarning,
            stacklevel=2,
        )
    return frame if details else frame.image


def _array_hint(image: object) -> str:
    """For an array given where a tensor is expected: its dtype and shape, and how to convert it."""
    dtype, shape = getattr(image, "dtype", None), getattr(image, "shape", None)
    if hasattr(image, "getdata") and hasattr(image, "mode"):  # a PIL image
        return " (a PIL image p: torch.from_numpy(numpy.asarray(p.convert('RGB'))).permute(2, 0, 1) / 255)"
    if dtype is None or shape is None:
        return ""
    scale = " / 255" if str(dtype) == "uint8" else " (values in [0, 1])"
    return (
        f" of dtype {dtype} and shape {tuple(shape)} (an RGB array a of shape (H, W, 3): "
        f"torch.from_numpy(a).permute(2, 0, 1){scale})"
    )


class _Verdict(Protocol):
    """A person's result that the check of the written frame can overturn
    (:class:`deid.PersonResult`, and the batch runner's per-file ``CropResult``)."""

    @property
    def success(self) -> bool: ...

    def marked_matched(self) -> Self: ...


_V = TypeVar("_V", bound=_Verdict)


def held(results: Sequence[_V], private: Sequence[bool] | None) -> list[_V]:
    """``results`` with each person the written check found matched marked not private."""
    if private is None:
        return list(results)
    return [r if ok or not r.success else r.marked_matched() for r, ok in zip(results, private, strict=True)]

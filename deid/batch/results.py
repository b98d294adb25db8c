"""What a conceal function hands the batch runner, and the report fields made from it.

The chain composes rather than copies: the loop returns one :class:`~deid.loop.PersonResult`
per person; a :class:`CropResult` is one appearance of it (the person's result, which appearance,
and the batch's group reason); a report record's outcome fields are made from those results by
:func:`crop_outcome` (a crop) or :func:`frame_outcome` (a frame's people), and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from deid.boxes import Box
from deid.loop.frames import WrittenCheck
from deid.loop.results import PersonResult

__all__ = [
    "ConcealBatch",
    "ConcealGroup",
    "CropResult",
    "HeatmapWriter",
    "Result",
    "WrittenCheck",
    "as_result",
    "crop_outcome",
    "frame_outcome",
]


@dataclass(frozen=True)
class CropResult:
    """One concealed appearance: appearance ``index`` of the loop's result for its person.

    A concealer that is not the loop makes one with :meth:`of`. The verdict is the person's
    ``success``, which has no default: a result without one cannot be made.

    Attributes:
        person: the conceal loop's result for the person this appearance belongs to (its
            steps, area, fallback, scores and outfit are the person's).
        index: which of ``person``'s appearances this is.
        group_reason: why the crop was (or was not) concealed with the rest of its group.
    """

    person: PersonResult
    index: int = 0
    group_reason: str | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.index < len(self.person.images):
            raise ValueError(
                f"index must name one of the person's {len(self.person.images)} appearances, got {self.index}"
            )

    @classmethod
    def of(
        cls,
        image: torch.Tensor,
        *,
        success: bool,
        steps: int = 0,
        area: float = 1.0,
        fallback: bool = False,
        scores_before: Any = None,
        scores_after: Any = None,
        attribution: torch.Tensor | None = None,
        outfit: dict[str, Any] | None = None,
        encoded: bytes | None = None,
        group_reason: str | None = None,
    ) -> CropResult:
        """The result of a concealer that is not the loop, for one appearance.

        Args:
            image: the concealed crop ``(3, H, W)`` at the input's resolution.
            success: whether the adversary no longer matches the person (required).
            attribution: ``(1, h, w)`` what drove the match (for heatmaps), or None.
            encoded: the output file's bytes on which ``success`` was judged (the runner writes
                exactly these), or None to let the runner encode ``image`` in the output's format.
            steps, area, fallback, scores_before, scores_after, outfit, group_reason: as recorded
                in the report (see :class:`deid.loop.PersonResult`).

        Example:
            >>> CropResult.of(torch.zeros(3, 128, 48), success=True).success
            True
        """
        if not isinstance(success, bool):
            raise TypeError(f"success must be True or False, got {success!r}")
        person = PersonResult(
            images=[image],
            mask=None,
            steps=steps,
            success=success,
            fallback=fallback,
            fallback_operator=None,
            area=area,
            scores_before=scores_before,
            scores_after=scores_after,
            attributions=None if attribution is None else attribution[None],
            outfit=outfit,
            encoded=None if encoded is None else [encoded],
        )
        return cls(person, 0, group_reason)

    @property
    def image(self) -> torch.Tensor:
        """The concealed crop ``(3, H, W)`` at the input's resolution."""
        return self.person.images[self.index]

    @property
    def cover(self) -> torch.Tensor | None:
        """The pixels the treatment set on the crop, ``(H, W)`` bool, or None (a concealer that
        is not the loop): see :attr:`deid.loop.PersonResult.covers`."""
        return None if self.person.covers is None else self.person.covers[self.index]

    @property
    def success(self) -> bool:
        """Whether the adversary no longer matches the person."""
        return self.person.success

    @property
    def encoded(self) -> bytes | None:
        """The output file's bytes on which ``success`` was judged, or None (the runner encodes)."""
        return None if self.person.encoded is None else self.person.encoded[self.index]

    @property
    def attribution(self) -> torch.Tensor | None:
        """``(1, h, w)`` what drove the mask (for heatmaps), or None."""
        attributions = self.person.attributions
        return None if attributions is None else attributions[self.index]

    def marked_matched(self) -> CropResult:
        """This result turned not private by the check of the frame as written
        (:meth:`deid.PersonResult.marked_matched`)."""
        return replace(self, person=self.person.marked_matched())

    def not_private(self, reason: str | None = None) -> CropResult:
        """This result with its verdict turned to not private (``reason`` added to the group reason)."""
        group_reason = self.group_reason if reason is None else (self.group_reason or "") + reason
        return replace(self, person=replace(self.person, success=False), group_reason=group_reason)


Result = CropResult | Mapping[str, Any]
#: ``conceal_group(images, paths)``: one person's appearances ``(3, H, W)`` and their files;
#: returns one :class:`CropResult` (or a mapping of :meth:`CropResult.of`'s arguments) per image.
ConcealGroup = Callable[[list[torch.Tensor], list[Path]], Sequence[Result]]
#: ``conceal_batch(people, paths)``: several people at once, one list of results per person.
ConcealBatch = Callable[[list[list[torch.Tensor]], list[list[Path]]], Sequence[Sequence[Result]]]
#: ``write_heatmaps(originals, attributions, paths)``: writes one overlay per crop to ``paths``.
HeatmapWriter = Callable[[list[torch.Tensor], list["torch.Tensor | None"], list[Path]], None]


def as_result(value: Any) -> CropResult:
    """A conceal function's result for one crop as a :class:`CropResult`; raises when it has no verdict."""
    if isinstance(value, CropResult):
        return value
    if isinstance(value, Mapping):
        if not isinstance(value.get("success"), bool):
            got = value.get("success", "nothing")
            raise TypeError(f"conceal must give each crop a verdict, success True or False, got {got!r}")
        return CropResult.of(**value)
    raise TypeError(f"conceal must return CropResult objects or mappings, got {type(value).__name__}")


def crop_outcome(result: CropResult) -> dict[str, Any]:
    """A crop record's outcome fields, from its appearance's result."""
    person = result.person
    note = None if person.success else "the adversary still matches this person after the fallback"
    return {
        "persons": 1,
        "steps": person.steps,
        "area": person.area,
        "fallback": person.fallback,
        "success": person.success,
        "scores_before": person.scores_before,
        "scores_after": person.scores_after,
        "outfit": person.outfit,
        "note": note,
        "group_reason": result.group_reason,
        "treatment": treatment(person),
    }


def people_word(n: int) -> str:
    """``"person"`` for one, ``"people"`` for any other number."""
    return "person" if n == 1 else "people"


def treatment(person: PersonResult) -> dict[str, Any]:
    """What the loop did to a person, for their record: the mask's shape (and the body's
    margin), the fraction of the crop it covers (``area`` is of the person's pixels), the
    fallback's treatment (``figure``, ``outfit``, ``fill grey``, ...; None: the loop's own
    operator), the head, and why the loop stopped."""
    return {
        "shape": person.shape,
        "margin": person.margin,
        "area_crop": person.area_crop,
        "fallback_operator": person.fallback_operator,
        "head": person.head,
        "stopped": person.stopped,
    }


def flagged_note(flagged: Sequence[Box]) -> str:
    """What a frame record's note or error adds for unsure people left unchanged (``""`` for none)."""
    if not flagged:
        return ""
    listed = ", ".join(str(tuple(b[:4])) for b in flagged)
    return f"; {len(flagged)} unsure person(s) flagged and left UNCHANGED (--uncertain flag): {listed}"


def faces_note(faces: Sequence[Box], treatment: str) -> str:
    """What a frame record's note adds for the faces still found once the people were pasted
    back (``""`` for none)."""
    if not faces:
        return ""
    listed = ", ".join(str(tuple(b[:4])) for b in faces)
    if treatment == "keep":
        return f"; {len(faces)} face(s) outside every person's box left as they are (--head keep): {listed}"
    return (
        f"; {len(faces)} face(s) still found once the people were concealed, each concealed "
        f"({treatment}); a person the finder missed is NOT concealed beyond the face: {listed}"
    )


def untreated_note(untreated: Sequence[Box], treatment: str) -> str:
    """What a frame record's note adds for the people the second look found left untreated once
    the others were pasted back (``""`` for none)."""
    if not untreated:
        return ""
    listed = ", ".join(str(tuple(b[:4])) for b in untreated)
    done = (
        "left as they are (--head keep)" if treatment == "keep" else f"concealed ({treatment}), in no verdict"
    )
    return (
        f"; {len(untreated)} person(s) a second look found inside the boxes left untreated, {done}: {listed}"
    )


def frame_outcome(
    results: Sequence[CropResult],
    boxes: Sequence[Box],
    pixels: int,
    *,
    source: str,
    flagged: Sequence[Box] = (),
    faces: Sequence[Box] = (),
    face_treatment: str = "blur",
    untreated: Sequence[Box] = (),
) -> dict[str, Any]:
    """A frame record's outcome fields from its people's results (one per box, in order).

    The frame's ``success`` holds only when every person's does, no unsure person was left
    unchanged (``flagged``, with ``--uncertain flag``), the face net found no face in the
    pasted frame (``faces``, concealed as ``face_treatment`` says) and the second look no person
    the treatments left untreated (``untreated``, concealed so too); ``area`` is the fraction of
    the frame's ``pixels`` concealed; the scores and outfits are listed per person; the note
    names ``source`` (where the boxes came from), the boxes, the people still matched, the
    flagged ones, the faces and the untreated.
    """
    people = [r.person for r in results]
    area = (
        sum(
            (p.area if p.area_crop is None else p.area_crop) * b.w * b.h
            for p, b in zip(people, boxes, strict=True)
        )
        / pixels
    )
    shown = [str(tuple(b[:4])) for b in boxes]
    still = [box for p, box in zip(people, shown, strict=True) if not p.success]
    matched = (
        f"; the adversary still matches the {people_word(len(still))} in {', '.join(still)}" if still else ""
    )
    matched += (
        flagged_note(flagged) + faces_note(faces, face_treatment) + untreated_note(untreated, face_treatment)
    )
    listed = ", ".join(shown)
    return {
        "persons": len(people),
        "steps": max(p.steps for p in people),
        "area": min(1.0, area),
        "fallback": any(p.fallback for p in people),
        "success": bool(people)
        and not flagged
        and not faces
        and not untreated
        and all(p.success for p in people),
        "scores_before": [p.scores_before for p in people],
        "scores_after": [p.scores_after for p in people],
        "outfit": [p.outfit for p in people],
        "treatment": [treatment(p) for p in people],
        "note": f"{len(people)} {people_word(len(people))} from {source}: {listed}" + matched,
        "boxes": [[b.x, b.y, b.w, b.h] for b in boxes],
        "flagged": [[b.x, b.y, b.w, b.h] for b in flagged],
        "faces": [[b.x, b.y, b.w, b.h, round(float(b.score), 3)] for b in faces],
        "untreated": [[b.x, b.y, b.w, b.h] for b in untreated],
    }


def per_group(conceal_group: ConcealGroup) -> ConcealBatch:
    """A ``conceal_batch`` that calls ``conceal_group`` once per person."""

    def conceal_batch(people: list[list[torch.Tensor]], paths: list[list[Path]]) -> list[Sequence[Result]]:
        return [conceal_group(images, files) for images, files in zip(people, paths, strict=True)]

    return conceal_batch

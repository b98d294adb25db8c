"""What the conceal loop returns: one result per person, one per image."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from deid.operators.base import Operator


@dataclass
class PersonResult:
    """The outcome of concealing one person.

    Attributes:
        images: concealed appearances ``(3, H, W)``, each at its input's resolution.
        mask: ``(1, 128, 48)`` the person's mask in normalized crop coordinates (1 = concealed);
            None from a concealer that is not the loop (see :meth:`deid.batch.CropResult.of`).
        steps: mask-growing steps taken.
        success: whether the adversary's final check finds every appearance private.
        fallback: whether the loop's search over cells ended in its fallback (the budget ran
            out, or the person had to be concealed whole from the start): the person concealed
            whole, on their widened body or their whole box (``shape``, ``stopped``), by
            ``fallback_operator``.
        fallback_operator: the treatment the fallback used (``figure``, ``outfit``, ``fill
            grey``, ...), or None.
        outfit: the outfit when the loop filled with one, ``{"top": rgb, "bottom": rgb, "pattern":
            name}`` (see :data:`deid.operators.outfit.PATTERNS`), or None.
        area: fraction of the person's pixels concealed (of the crop when no pose was found),
            mean over appearances; ``area_crop`` beside it is the fraction of the crop.
        scores_before, scores_after: the adversary's worst-case ``match_rate`` (fraction of
            triplets where C holds) and best ``rank`` of a true original, before and after.
        attributions: ``(N, 1, 128, 48)`` the first step's attributions (for heatmaps).
        encoded: per appearance, the bytes of its output file (in the format it was concealed
            for) on which the final check was taken; ``images`` are these files' pixels before
            encoding: changed pixels rounded to uint8 levels, the others as given (so for an
            input on uint8 levels, as every image read from a file is, a lossless format's file
            decodes to ``images`` exactly).
        shape: ``"body"`` (the mask was cut to the silhouette widened by ``margin`` of the
            crop's width), ``"box"`` (not cut to the body: cells anywhere in the crop), or None
            from a concealer that is not the loop.
        head: what was done to the head (``"blur"``, ...); with ``" (top band)"`` when the pose
            model found no pose and the crop's top band was taken for the head.
        stopped: why the loop stopped, in words.
        operator: the operator that made ``images``, for this person alone (their outfit, or the
            fallback's treatment): with ``mask``, ``shape`` and ``margin`` it renders the same
            concealment on new appearances (:func:`deid.loop.render_person`).
        covers: per appearance, ``(H, W)`` bool: the pixels the treatment set (the mask cut to
            the body, and the head), those it set to their own value among them
            (:meth:`deid.loop.appearances.People.covers`); pasted into a frame, they are this
            person's where a farther person's box overlaps (:func:`deid.boxes.paste_crops`).
            None from a concealer that is not the loop.
    """

    images: list[torch.Tensor]
    mask: torch.Tensor | None
    steps: int
    success: bool
    fallback: bool
    fallback_operator: str | None
    area: float
    scores_before: dict[str, float]
    scores_after: dict[str, float]
    attributions: torch.Tensor | None = field(default=None, repr=False)
    outfit: dict[str, Any] | None = None
    encoded: list[bytes] | None = field(default=None, repr=False)
    area_crop: float | None = None
    shape: str | None = None
    margin: float | None = None
    head: str | None = None
    stopped: str | None = None
    operator: Operator | None = field(default=None, repr=False, compare=False)
    covers: list[torch.Tensor] | None = field(default=None, repr=False, compare=False)

    def marked_matched(self) -> PersonResult:
        """This result turned not private by the check of the frame as written (a neighbour's
        concealment pasted over this person's box, or the frame's encoding, changed what the
        adversary sees), with ``stopped`` saying so; ``scores_after`` stay the loop's own."""
        said = "but matched as cut from the frame as written"
        return replace(self, success=False, stopped=f"{self.stopped}; {said}" if self.stopped else said)

    def summary(self) -> dict[str, Any]:
        """The JSON-friendly fields (no tensors)."""
        return {
            "steps": self.steps,
            "success": self.success,
            "fallback": self.fallback,
            "fallback_operator": self.fallback_operator,
            "outfit": self.outfit,
            "area": self.area,
            "area_crop": self.area_crop,
            "shape": self.shape,
            "margin": self.margin,
            "head": self.head,
            "stopped": self.stopped,
            "scores_before": self.scores_before,
            "scores_after": self.scores_after,
        }


class NotPrivateWarning(UserWarning):
    """:func:`deid.conceal` returned an image (``details=False``) that is not private: the
    adversary still matches a person in it, a face still shows, or an unsure person was left."""


class NotOnePersonWarning(UserWarning):
    """:func:`deid.conceal_person` (or :func:`deid.conceal_people`) was given appearances of one
    person that the adversary does not see as one (:func:`deid.loop.grouping.split_group`):
    each appearance is then also checked against its own original."""


@dataclass
class FrameResult:
    """The outcome of :func:`conceal` on one image: a crop or a frame with detected people."""

    image: torch.Tensor
    people: list[PersonResult]
    boxes: list[Any]
    detected: bool
    flagged: list[Any] = field(default_factory=list)  # unsure people left unchanged (uncertain="flag")
    heads: list[str] = field(default_factory=list)  # per person found: what was done to the head
    faces: list[Any] = field(default_factory=list)  # faces still found once pasted: concealed
    #: People a second look confirmed whom the treatments left untreated (under a fifth of their
    #: silhouette changed, :func:`deid.loop.untreated.untreated_people`): concealed as the faces
    #: are, in no verdict.
    untreated: list[Any] = field(default_factory=list)
    #: Per person: what found them ("finder", "second look", "face"; "boxes" when given; "crop"
    #: for an image taken for one person's crop).
    found_by: list[str] = field(default_factory=list)

    @property
    def success(self) -> bool:
        """Whether every person found in the image (:attr:`boxes`) is private; False when nobody
        was found, an unsure person was left unchanged, the face net still found a face once
        they were pasted, or the second look a person the treatments left untreated. A person no
        look found is in no verdict: check frames with people."""
        return (
            self.detected
            and bool(self.people)
            and not self.flagged
            and not self.faces
            and not self.untreated
            and all(p.success for p in self.people)
        )

    def why_not_private(self) -> str:
        """What keeps the image from being private, in a few words ("" when it is)."""
        if self.success:
            return ""
        matched = sum(not p.success for p in self.people)
        parts = (
            [f"the adversary still matches {matched} of the {len(self.people)} people found"]
            if matched
            else []
        )
        if self.faces:
            parts.append(f"{len(self.faces)} face(s) still found (concealed)")
        if self.flagged:
            parts.append(f"{len(self.flagged)} unsure people left unchanged")
        if self.untreated:
            boxes = ", ".join(str(tuple(b[:4])) for b in self.untreated)
            parts.append(f"{len(self.untreated)} people a second look found left untreated: {boxes}")
        return "; ".join(parts) or "nobody was found"

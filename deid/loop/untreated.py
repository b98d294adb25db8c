"""People a frame's treatments leave untreated: concealed before it is written, and never private.

A box can hold two people: the finder took them for one, or one stands behind the other. The
second look (:func:`deid.finder.second_look`) then finds the second inside the first one's box,
so it does not add them (:func:`deid.loop.frames.plan_frame` adds only the people the boxes
leave out), and the first one's treatment, drawn in the first one's shape, leaves the second
as they were: in the clear, in a frame whose verdict speaks only for the first. So once a
frame's people are pasted back concealed, each person the second look confirmed is measured on
the pasted frame: one whose silhouette is under :data:`TREATED` changed (or set by a
treatment) is untreated. Their silhouette and head are concealed as the head is
(``ConcealConfig.head``) before the frame is encoded, and the frame is not private: no loop
decided on them and no verdict holds for them.

Once they are concealed, the pasted frame is looked at again (:func:`in_the_clear`): a person no
look found on the original can stand out with the people around them concealed (a crowd behind
them, legs below a box cut at the thigh), and is dealt with the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from deid.boxes import Box, centre_in, held_pixels
from deid.loop.heads import conceal_region, ellipse_mask, head_ellipse

if TYPE_CHECKING:
    from deid.finder import Person

#: How far, in pixels, an untreated person's silhouette is grown before it is concealed: the
#: silhouette's edge and the hair (the pose model's silhouette stops at about the eyes; the head's
#: ellipse adds the rest).
GROW = 3
#: The fraction of a person's silhouette a pasted frame must have changed (or a treatment set)
#: for them to count as treated: under it they are left nearly untouched (issue 12's "under 20%
#: of their pixels changed").
TREATED = 0.2
#: The least height, in pixels, of a person a look at a pasted frame lists (as the motion look of
#: a video counts, :data:`deid.video.follow.MOTION`): the thorough finder confirmed a 5x5
#: "person" in a frame of noise with two boxes pasted on it.
SMALLEST = 12


@dataclass(frozen=True, eq=False)
class Outline:
    """A person the second look confirmed, as kept until their frame is pasted: their tight box,
    their silhouette inside it ``(h, w)`` bool (not the frame's whole mask: a queue of large
    frames holds many) and their 33 keypoints in frame pixels."""

    box: Box
    silhouette: torch.Tensor
    keypoints: torch.Tensor

    @classmethod
    def of(cls, person: Person) -> Outline:
        b = person.box
        return cls(b, person.mask[b.y : b.y + b.h, b.x : b.x + b.w].clone(), person.keypoints)

    def mask(self, height: int, width: int) -> torch.Tensor:
        """The silhouette ``(height, width)`` bool in the frame."""
        out = torch.zeros(height, width, dtype=torch.bool)
        b = self.box
        out[b.y : b.y + b.h, b.x : b.x + b.w] = self.silhouette
        return out


def grown(mask: torch.Tensor, by: int = GROW) -> torch.Tensor:
    """``mask`` ``(H, W)`` bool grown by ``by`` pixels on every side (a square's reach).

    Example:
        >>> mask = torch.zeros(9, 9, dtype=torch.bool); mask[4, 4] = True
        >>> int(grown(mask, 2).sum())
        25
    """
    return F.max_pool2d(mask[None, None].float(), 2 * by + 1, stride=1, padding=by)[0, 0] > 0


def untreated_people(
    image: torch.Tensor,
    pasted: torch.Tensor,
    looked: Sequence[Outline],
    boxes: Sequence[Box],
    covers: Sequence[torch.Tensor | None] | None = None,
) -> list[Outline]:
    """The people of ``looked`` (a second look at ``image (3, H, W)``) whose silhouettes the
    treatments pasted at ``boxes`` (``pasted``, each box's ``covers``: :func:`deid.boxes.held_pixels`)
    leave under :data:`TREATED` changed.

    Example:
        >>> frame = torch.zeros(3, 40, 20)
        >>> untreated_people(frame, frame, [], [])
        []
    """
    if not looked:
        return []
    return _under_treated(looked, held_pixels(image, pasted, boxes, covers))


def _under_treated(people: Sequence[Outline], held: torch.Tensor) -> list[Outline]:
    """The ``people`` whose silhouettes ``held (H, W)`` bool covers under :data:`TREATED` of."""
    out = []
    for person in people:
        b = person.box
        inside = held[b.y : b.y + b.h, b.x : b.x + b.w][person.silhouette]
        if len(inside) and float(inside.float().mean()) < TREATED:
            out.append(person)
    return out


def in_the_clear(written: torch.Tensor, held: torch.Tensor, boxes: Sequence[Box]) -> list[Outline]:
    """The people a thorough look (:func:`deid.finder.second_look` with the settings
    :func:`deid.finder.looks_for` chooses by ``boxes``, the frame's people's: HOG's proposals
    too, and small tiles for small people) confirms in ``written (3, H, W)`` (a frame with its
    people concealed), at least :data:`SMALLEST` pixels tall, whose silhouettes ``held (H, W)``
    bool (the pixels the treatments set, :func:`deid.boxes.held_pixels`) covers under
    :data:`TREATED` of, each once (best first): people no look found on the original stand out
    once the people around them are concealed.

    Example:
        >>> in_the_clear(torch.zeros(3, 40, 20), torch.zeros(40, 20, dtype=torch.bool), [])
        []
    """
    from deid.finder import looks_for, second_look

    looked = second_look(written, config=looks_for(boxes, written=True))
    seen = [Outline.of(p) for p in looked if p.box.h >= SMALLEST]
    out: list[Outline] = []
    for person in _under_treated(seen, held):
        if not centre_in(person.box, [p.box for p in out]):  # one person found twice
            out.append(person)
    return out


def conceal_untreated(image: torch.Tensor, people: Sequence[Outline], how: str) -> torch.Tensor:
    """``image (3, H, W)`` (a new tensor, or ``image`` itself when there is nothing to do) with each
    person's silhouette, grown by :data:`GROW` pixels, and their head's ellipse concealed as
    ``how`` says (``ConcealConfig.head``: ``"keep"`` leaves them) at the scale of their head; the
    changed pixels on uint8 levels, as the loop's are.

    Example:
        >>> frame = torch.rand(3, 40, 20)
        >>> conceal_untreated(frame, [], "blur") is frame
        True
    """
    height, width = image.shape[-2:]
    shapes = []
    for person in people:
        head = head_ellipse(person.keypoints)
        inside = grown(person.mask(height, width)) | ellipse_mask(height, width, head)
        shapes.append((inside, max(head[2], person.box.w / 4)))
    return conceal_shapes(image, shapes, how)


def conceal_shapes(
    image: torch.Tensor, shapes: Sequence[tuple[torch.Tensor, float]], how: str
) -> torch.Tensor:
    """``image (3, H, W)`` (a new tensor, or ``image`` itself when there is nothing to do) with
    each shape's pixels ``(H, W)`` bool concealed as ``how`` says (``"keep"`` leaves them) at
    the scale of its radius (:func:`deid.loop.heads.conceal_region`); the changed pixels on
    uint8 levels, as the loop's are.

    Example:
        >>> frame = torch.rand(3, 40, 20)
        >>> conceal_shapes(frame, [(torch.ones(40, 20, dtype=torch.bool), 4.0)], "keep") is frame
        True
    """
    if not shapes or how == "keep":
        return image
    out = image
    for inside, radius in shapes:
        out = conceal_region(out, inside, how, radius)
    return torch.where(out != image, (out * 255).round() / 255, image)

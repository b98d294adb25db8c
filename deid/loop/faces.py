"""Faces still found in a concealed frame: concealed before it is written, and never private.

The person finder misses people (a person half out of the frame, one between two others, one
sitting in a car), and a person it misses keeps their face; a head whose keypoints are off can
keep it too. So once a frame's people are pasted back concealed, the face net under the finder
(:func:`deid.finder.find_faces`) looks at the frame as it will be written: every face it still
finds is concealed before the frame is encoded and its people judged as written
(:func:`deid.loop.frames.paste_people`), and the frame is not private (the rest of a person
the finder missed was not concealed). With ``head="keep"`` the faces of the people concealed
are kept, as asked: only faces outside every person's box count.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from deid.boxes import Box
from deid.loop.heads import Ellipse, conceal_head

#: A face is concealed in an ellipse this many times its box's half-sides: the box is tight
#: around the face, and the hair and ears around it identify too.
FACE_MARGIN = 1.6


def face_ellipse(face: Box) -> Ellipse:
    """The ellipse a face box is concealed in: about its centre, :data:`FACE_MARGIN` times its
    half-sides."""
    return (
        face.x + face.w / 2,
        face.y + face.h / 2,
        max(FACE_MARGIN * face.w / 2, 3.0),
        max(FACE_MARGIN * face.h / 2, 3.0),
    )


def faces_in_the_clear(
    frame: torch.Tensor, boxes: Sequence[Box], *, threshold: float, treatment: str
) -> list[Box]:
    """The faces the face net finds in ``frame (3, H, W)`` (concealed people pasted back) at
    ``threshold``; with ``treatment == "keep"`` only those whose centre lies outside every one of
    the people's ``boxes`` (the others' faces were kept as asked).

    Example:
        >>> faces_in_the_clear(torch.full((3, 90, 120), 0.5), [], threshold=0.5, treatment="blur")
        []
    """
    from deid.finder import find_faces

    faces = find_faces(frame, threshold=threshold)
    if treatment != "keep":
        return faces
    return [f for f in faces if not any(b.holds_centre_of(f) for b in boxes)]


def conceal_faces(image: torch.Tensor, faces: Sequence[Box], how: str) -> torch.Tensor:
    """``image (3, H, W)`` (a new tensor, or ``image`` itself when there is nothing to do) with each
    face's ellipse (:func:`face_ellipse`) concealed as ``how`` says (``ConcealConfig.head``:
    ``"keep"`` leaves them); the changed pixels on uint8 levels, as the loop's are."""
    if not faces or how == "keep":
        return image
    out = image
    for face in faces:
        out = conceal_head(out, face_ellipse(face), how)
    return torch.where(out != image, (out * 255).round() / 255, image)

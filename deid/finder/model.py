"""The pose landmark model: MediaPipe's ``pose_landmark_full.tflite``, run by LiteRT or OpenCV.

The file ships inside this package (``deid/finder/weights/``, Apache-2.0, see the NOTICE there);
it is checked against its sha256 before use and nothing is ever downloaded.

Two runtimes read it: Google's LiteRT (``ai-edge-litert``, the TFLite runtime with its XNNPACK
CPU kernels; about 12 ms a window on this project's 2-core machine) where it is installed, and
OpenCV's TFLite importer (``cv2.dnn.readNetFromTFLite``, about 40 ms) everywhere else. Their
outputs agree to about 1e-3 (``tests/deid/finder/test_finder_model.py``).

One pass takes a square 256x256 RGB window in [0, 1] (MediaPipe's ``ImageToTensor`` range, zero
border outside the frame) and returns, as checked on Penn-Fudan crops:

- a person-presence probability (output ``Identity_1``, already a probability);
- 39 landmarks ``(x, y, z, visibility, presence)`` in window pixels (``Identity``), the first 33
  in MediaPipe's order (0 nose ... 32 right foot index), 33 the hip centre and 34 a point whose
  distance to it is half the body's extent (MediaPipe's ROI alignment points); visibility and
  presence are logits;
- a 256x256 segmentation logit map (``Identity_2``; the person where it is above 0).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from deid.finder.runtime import LiteRTModel, ModelFileError, check_file, has_litert

#: The vendored model file and its checksum (from mediapipe 0.10.21's wheel, unchanged).
MODEL_PATH = Path(__file__).resolve().parent / "weights" / "pose_landmark_full.tflite"
MODEL_SHA256 = "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f"
#: The model's square input side in pixels.
INPUT_SIZE = 256
#: The number of body keypoints (MediaPipe's pose topology).
NUM_KEYPOINTS = 33
_OUTPUTS = ("Identity_1", "Identity", "Identity_2")
_CHUNK = 16  # windows converted to float at a time for LiteRT
#: The runtimes that can run the model; ``auto`` takes the first one installed.
BACKENDS = ("litert", "opencv")
Backend = Literal["auto", "litert", "opencv"]


@dataclass(frozen=True)
class PoseOutput:
    """The model's outputs for ``N`` windows.

    Attributes:
        presence: ``(N,)`` probability that the window holds a person.
        landmarks: ``(N, 39, 5)`` ``x, y, z, visibility logit, presence logit`` in window pixels.
        segmentation: ``(N, 256, 256)`` person logits.
    """

    presence: np.ndarray
    landmarks: np.ndarray
    segmentation: np.ndarray


def check_model_file(path: str | os.PathLike[str], *, sha256: str = MODEL_SHA256) -> Path:
    """Check that ``path`` is the pose landmark model file, by its sha256; return it as a Path.

    Raises:
        ModelFileError: the file is missing, empty or has another checksum; the message names the
            file, what it holds and the expected checksum.

    Example:
        >>> check_model_file(MODEL_PATH).name
        'pose_landmark_full.tflite'
    """
    return check_file(path, sha256=sha256, what=f"the {MODEL_PATH.name} of mediapipe 0.10.21")


class PoseModel:
    """The landmark model, checked and loaded once; :meth:`run` takes a batch of windows.

    Args:
        path: the ``.tflite`` file (default: the vendored one).
        sha256: its expected checksum.
        backend: ``"litert"``, ``"opencv"`` or ``"auto"`` (LiteRT when installed, else OpenCV).
        threads: LiteRT's CPU threads (default: torch's intra-op thread count).

    Attributes:
        backend: the runtime in use, ``"litert"`` or ``"opencv"``.

    Example:
        >>> out = PoseModel().run(np.zeros((1, 256, 256, 3), np.uint8))
        >>> out.presence.shape, out.landmarks.shape, out.segmentation.shape
        ((1,), (1, 39, 5), (1, 256, 256))
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = MODEL_PATH,
        *,
        sha256: str = MODEL_SHA256,
        backend: Backend = "auto",
        threads: int | None = None,
    ) -> None:
        if backend not in ("auto", *BACKENDS):
            raise ValueError(f"backend must be 'auto', 'litert' or 'opencv', got {backend!r}")
        self.path = check_model_file(path, sha256=sha256)
        if backend == "auto":
            backend = "litert" if has_litert() else "opencv"
        self.backend: Literal["litert", "opencv"] = backend
        self._net: Any
        if backend == "litert":
            self._net = LiteRTModel(self.path, threads)
        else:
            try:
                self._net = cv2.dnn.readNetFromTFLite(str(self.path))
            except cv2.error as exc:  # pragma: no cover - the checksum guards the content
                raise ModelFileError(f"pose model file {self.path}: OpenCV cannot read it ({exc})") from exc

    def run(self, windows: np.ndarray) -> PoseOutput:
        """Run the model on ``windows`` ``(N, 256, 256, 3)`` uint8 RGB.

        Returns:
            A :class:`PoseOutput` for the ``N`` windows (``N`` may be 0).
        """
        windows = np.asarray(windows)
        expected = (INPUT_SIZE, INPUT_SIZE, 3)
        if windows.ndim != 4 or windows.shape[1:] != expected or windows.dtype != np.uint8:
            raise ValueError(
                f"windows must be uint8 of shape (N, {INPUT_SIZE}, {INPUT_SIZE}, 3), "
                f"got {windows.dtype} {windows.shape}"
            )
        n = len(windows)
        if n == 0:
            return PoseOutput(
                np.zeros(0, np.float32),
                np.zeros((0, 39, 5), np.float32),
                np.zeros((0, INPUT_SIZE, INPUT_SIZE), np.float32),
            )
        if self.backend == "litert":  # in chunks: a float copy of every window at once is 0.8 MB each
            chunks = [
                self._net.run(windows[i : i + _CHUNK].astype(np.float32) / np.float32(255.0), _OUTPUTS)
                for i in range(0, n, _CHUNK)
            ]
            presence, landmarks, segmentation = (
                np.concatenate(outputs) for outputs in zip(*chunks, strict=True)
            )
        else:
            blob = np.ascontiguousarray(windows.transpose(0, 3, 1, 2), dtype=np.float32) / np.float32(255.0)
            self._net.setInput(blob)
            presence, landmarks, segmentation = self._net.forward(list(_OUTPUTS))
        return PoseOutput(
            presence.reshape(n).astype(np.float32, copy=False),
            landmarks.reshape(n, 39, 5).astype(np.float32, copy=False),
            segmentation.reshape(n, INPUT_SIZE, INPUT_SIZE).astype(np.float32, copy=False),
        )


@cache
def default_model() -> PoseModel:
    """The vendored model, loaded once per process."""
    return PoseModel()

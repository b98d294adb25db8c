"""What the finder's two TFLite models share: the checksum guard and the runtimes that run them.

Google's LiteRT (``ai-edge-litert``: the TFLite runtime with its XNNPACK CPU kernels) runs both;
OpenCV's TFLite importer (``cv2.dnn.readNetFromTFLite``) runs the landmark model only (it cannot
read the detector's sparse weights), about 3x slower.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np


class ModelFileError(RuntimeError):
    """A model file is missing, empty, corrupt or not the expected one."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_file(path: str | os.PathLike[str], *, sha256: str, what: str) -> Path:
    """Check ``path`` against its expected ``sha256``; ``what`` names the expected file in errors.

    Raises:
        ModelFileError: the file is missing, empty or has another checksum; the message names the
            file, what it holds and the expected checksum.
    """
    path = Path(path)
    where = f"model file {path}"
    expected = f"expected {what} with sha256 {sha256}"
    if not path.is_file():
        raise ModelFileError(f"{where}: no such file; {expected} (reinstall deid-reid)")
    size = path.stat().st_size
    if size == 0:
        raise ModelFileError(f"{where}: the file is empty; {expected} (reinstall deid-reid)")
    got = _sha256(path)
    if got != sha256:
        raise ModelFileError(
            f"{where}: sha256 is {got} ({size} bytes), {expected}; the file is corrupt or another "
            "model (reinstall deid-reid)"
        )
    return path


def has_litert() -> bool:
    """Whether the LiteRT runtime (``ai-edge-litert``) is installed."""
    return importlib.util.find_spec("ai_edge_litert") is not None


class LiteRTModel:
    """A ``.tflite`` file run by LiteRT, one input at a time (batching buys nothing on the CPU
    and resizing the input re-plans the graph).

    Args:
        path: the checked model file.
        threads: CPU threads (default: torch's intra-op thread count).
    """

    def __init__(self, path: Path, threads: int | None = None) -> None:
        if not has_litert():
            raise ModuleNotFoundError(
                f"running {path.name} needs the LiteRT runtime: pip install ai-edge-litert"
            )
        import torch
        from ai_edge_litert.interpreter import Interpreter

        with _quiet_stderr():  # the runtime's C++ logs "INFO: Created TensorFlow Lite XNNPACK delegate"
            self._net: Any = Interpreter(model_path=str(path), num_threads=threads or torch.get_num_threads())
            self._net.allocate_tensors()
            (source,) = self._net.get_input_details()
            self._input = source["index"]
            self._net.set_tensor(self._input, np.zeros(source["shape"], np.float32))
            self._net.invoke()
        self._outputs = {d["name"]: d["index"] for d in self._net.get_output_details()}

    def run(self, inputs: np.ndarray, names: tuple[str, ...]) -> list[np.ndarray]:
        """The outputs ``names`` for each float32 input of ``inputs (N, ...)``, stacked along N."""
        results: list[list[np.ndarray]] = [[] for _ in names]
        for item in inputs:
            self._net.set_tensor(self._input, np.ascontiguousarray(item[None], dtype=np.float32))
            self._net.invoke()
            for slot, name in zip(results, names, strict=True):
                slot.append(self._net.get_tensor(self._outputs[name]).copy())
        return [np.concatenate(r) for r in results]


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence file descriptor 2 (C++ logging that Python cannot reach) for the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)

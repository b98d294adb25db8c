"""What a run's verdicts were computed with: the Python, the packages and the bundled weights.

A verdict is arithmetic in floating point. Another install (a newer numpy, OpenCV or LiteRT,
another CPU) rounds otherwise, and can move the people found, the treatments the loop chooses
and, at the edge, a verdict (the run judges with a margin for that: ``deid.adversary.MARGIN``).
Each report records :func:`environment` when it is written, and ``deid verify`` says what
differs on the machine that checks it (:func:`differences`), so a verdict that moved can be
traced to its cause. (Measured: the whole PETS 2009 S2.L1 clip concealed on a fresh install gave
80 tracks private where the note of the release before, on an install nobody recorded, gave 76;
within one install a run is the same byte for byte.)
"""

from __future__ import annotations

import copy
import hashlib
import platform
from collections.abc import Mapping
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import reid_model

#: The distributions whose versions a report records: this library and what its numbers pass through.
PACKAGES = (
    "deid-reid",
    "torch",
    "torchvision",
    "numpy",
    "scipy",
    "scikit-image",
    "opencv-python-headless",
    "ai-edge-litert",
    "av",
    "captum",
)

#: The folders of bundled weights (models, galleries, outfits, the finder's networks), by the
#: name they are recorded under.
WEIGHT_FOLDERS = {
    "reid_model/weights": Path(reid_model.__file__).parent / "weights",
    "deid/operators/weights": Path(__file__).parent / "operators" / "weights",
    "deid/finder/weights": Path(__file__).parent / "finder" / "weights",
}
#: The weight files' suffixes (licences and notices are not weights).
WEIGHT_SUFFIXES = (".safetensors", ".json", ".tflite", ".onnx")


def environment() -> dict[str, Any]:
    """This process's Python, machine, package versions (None: not installed) and the SHA-256
    (first 16 hex digits) of every bundled weight file, by its path in the source tree (a copy:
    the files are read once per process).

    Example:
        >>> environment()["packages"]["torch"]  # doctest: +SKIP
        '2.14.1'
    """
    return copy.deepcopy(_environment())


@cache
def _environment() -> dict[str, Any]:
    weights = {}
    for recorded_as, folder in WEIGHT_FOLDERS.items():
        for path in sorted(folder.glob("*")):
            if path.suffix in WEIGHT_SUFFIXES:
                weights[f"{recorded_as}/{path.name}"] = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return {
        "python": platform.python_version(),
        "machine": f"{platform.system()} {platform.machine()}",
        "packages": {name: _version(name) for name in PACKAGES},
        "weights": weights,
    }


def differences(recorded: Mapping[str, Any] | None, now: Mapping[str, Any] | None = None) -> list[str]:
    """What differs between a report's ``recorded`` environment and ``now`` (this process's by
    default), one line each (``"package torch: 2.14.1 in the run, 2.15.0 here"``); empty when nothing
    does; one line saying so when the report records none (written by an earlier version)."""
    if not recorded:
        return ["the report does not record the environment of its run (an earlier version of deid wrote it)"]
    now = environment() if now is None else now
    lines = []
    for key in ("python", "machine"):
        if recorded.get(key) != now.get(key):
            lines.append(f"{key}: {recorded.get(key)} in the run, {now.get(key)} here")
    for group, what in (("packages", "package"), ("weights", "weights")):
        theirs, ours = recorded.get(group) or {}, now.get(group) or {}
        for name in sorted(set(theirs) | set(ours)):
            if theirs.get(name) != ours.get(name):
                lines.append(
                    f"{what} {name}: {theirs.get(name, 'absent')} in the run, {ours.get(name, 'absent')} here"
                )
    return lines


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None

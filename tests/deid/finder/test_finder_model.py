"""The vendored pose landmark model: its checksum guard and the shapes of its outputs."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from deid.finder import MODEL_PATH, MODEL_SHA256, ModelFileError, PoseModel, check_model_file


def test_the_vendored_file_passes_its_checksum():
    assert check_model_file(MODEL_PATH) == MODEL_PATH
    assert MODEL_PATH.stat().st_size == 6440512


def test_an_empty_file_is_refused_naming_the_file_and_the_checksum(tmp_path):
    empty = tmp_path / "pose_landmark_full.tflite"
    empty.write_bytes(b"")
    with pytest.raises(ModelFileError, match=rf"{empty}: the file is empty; .*sha256 {MODEL_SHA256}"):
        PoseModel(empty)


def test_a_corrupted_file_is_refused_naming_both_checksums(tmp_path):
    bad = tmp_path / "model.tflite"
    shutil.copyfile(MODEL_PATH, bad)
    data = bytearray(bad.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(
        ModelFileError, match=rf"{bad}: sha256 is [0-9a-f]{{64}} \(6440512 bytes\), expected .*{MODEL_SHA256}"
    ):
        check_model_file(bad)


def test_a_missing_or_other_file_is_refused(tmp_path):
    with pytest.raises(ModelFileError, match="no such file"):
        check_model_file(tmp_path / "absent.tflite")
    other = tmp_path / "other.tflite"
    other.write_bytes(b"TFL3" + bytes(100))
    with pytest.raises(ModelFileError, match="corrupt or another model"):
        check_model_file(other)


def test_outputs_have_the_documented_shapes_and_ranges():
    rng = np.random.default_rng(0)
    windows = rng.integers(0, 256, (2, 256, 256, 3), dtype=np.uint8)
    out = PoseModel().run(windows)
    assert out.presence.shape == (2,)
    assert ((out.presence >= 0) & (out.presence <= 1)).all()
    assert out.landmarks.shape == (2, 39, 5)
    assert out.segmentation.shape == (2, 256, 256)
    assert PoseModel().run(np.zeros((0, 256, 256, 3), np.uint8)).landmarks.shape == (0, 39, 5)


def test_bad_windows_are_refused():
    with pytest.raises(ValueError, match=r"windows must be uint8 of shape \(N, 256, 256, 3\), got float32"):
        PoseModel().run(np.zeros((1, 256, 256, 3), np.float32))
    with pytest.raises(ValueError, match=r"got uint8 \(256, 256, 3\)"):
        PoseModel().run(np.zeros((256, 256, 3), np.uint8))

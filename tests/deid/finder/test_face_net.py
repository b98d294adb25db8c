"""The face net under the person finder: CenterFace, vendored, on the bundled street frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from deid.finder import FACE_MODEL_PATH, FACE_THRESHOLD, FaceDetector, ModelFileError, find_faces
from reid_model.io import read_image

FRAME = Path(__file__).resolve().parents[3] / "examples" / "images" / "frames" / "PennPed00074.png"


def test_the_three_faces_of_the_example_frame_are_found_at_their_heads():
    frame = read_image(FRAME)  # three people walking; the woman's, in sunglasses, half behind her hair
    faces = find_faces(frame)
    centres = sorted((b.x + b.w / 2, b.y + b.h / 2) for b in faces)
    assert len(faces) == 3 and all(b.score >= FACE_THRESHOLD for b in faces)
    (x0, y0), (x1, y1), (x2, y2) = centres
    assert 200 < x0 < 230 and 50 < y0 < 80  # the woman
    assert 235 < x1 < 265 and 35 < y1 < 65  # the man in the cap
    assert 350 < x2 < 380 and 40 < y2 < 75  # the man in the dark pullover
    assert all(12 <= b.w <= 40 and 15 <= b.h <= 45 for b in faces)
    assert len(find_faces(frame, threshold=0.5)) == 2  # hers is the least sure (0.49)


def test_no_face_in_plain_or_noisy_images():
    assert find_faces(torch.full((3, 120, 90), 0.5)) == []
    noise = torch.rand(3, 200, 160, generator=torch.Generator().manual_seed(0))
    assert find_faces(noise) == []


def test_frames_of_other_sizes_do_not_disturb_each_other():
    """OpenCV's importer fixes a network's shapes at its first run: one detector, fed frames of
    three sizes in turn, finds what a fresh detector finds on each."""
    frame = read_image(FRAME)
    detector = FaceDetector()
    sizes = [frame, frame[:, :200, 200:], frame[:, 10:, :], frame]
    seen = [find_faces(f, detector=detector) for f in sizes]
    fresh = [find_faces(f, detector=FaceDetector()) for f in sizes]
    assert seen == fresh and seen[0] == seen[3] and len(seen[1]) == 3


def test_a_higher_threshold_keeps_fewer_faces_and_bad_thresholds_are_refused():
    frame = read_image(FRAME)
    assert len(find_faces(frame, threshold=0.65)) == 1
    for bad in (0.0, 1.5):
        with pytest.raises(ValueError, match="threshold"):
            find_faces(frame, threshold=bad)
    with pytest.raises(ValueError, match="image"):
        find_faces(frame[0])
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8"):
        FaceDetector().run(np.zeros((10, 10, 3), np.float32), 0.5)


def test_a_corrupt_model_file_is_refused_by_name(tmp_path):
    bad = tmp_path / "centerface.onnx"
    bad.write_bytes(FACE_MODEL_PATH.read_bytes()[:1000])
    with pytest.raises(ModelFileError, match=r"centerface\.onnx.*sha256"):
        FaceDetector(bad)

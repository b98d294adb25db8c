"""The vendored pose landmark model: its checksum guard and the shapes of its outputs."""

from __future__ import annotations

import re
import shutil

import cv2
import numpy as np
import pytest

from deid.finder import (
    DETECTOR_PATH,
    DETECTOR_SHA256,
    MODEL_PATH,
    MODEL_SHA256,
    ModelFileError,
    PersonDetector,
    PoseModel,
    check_model_file,
    has_litert,
)
from deid.finder.detector import detect_windows, tile_origins
from deid.finder.runtime import check_file


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


@pytest.mark.parametrize("backend", ["litert", "opencv"])
def test_a_batch_gives_each_window_its_own_outputs(backend):
    if backend == "litert" and not has_litert():
        pytest.skip("LiteRT (ai-edge-litert) is not installed")
    windows = np.random.default_rng(1).integers(0, 256, (3, 256, 256, 3), dtype=np.uint8)
    model = PoseModel(backend=backend)
    together = model.run(windows)
    for i in range(len(windows)):
        alone = model.run(windows[i : i + 1])
        assert np.allclose(together.presence[i : i + 1], alone.presence, atol=1e-6)
        assert np.allclose(together.landmarks[i : i + 1], alone.landmarks, atol=1e-4)
        assert np.allclose(together.segmentation[i : i + 1], alone.segmentation, atol=1e-4)


def test_bad_windows_are_refused():
    with pytest.raises(ValueError, match=r"windows must be uint8 of shape \(N, 256, 256, 3\), got float32"):
        PoseModel().run(np.zeros((1, 256, 256, 3), np.float32))
    with pytest.raises(ValueError, match=r"got uint8 \(256, 256, 3\)"):
        PoseModel().run(np.zeros((256, 256, 3), np.uint8))


def test_litert_and_opencv_agree_on_real_windows(pennfudan_root):
    rgb = cv2.cvtColor(cv2.imread(str(pennfudan_root / "PNGImages" / "PennPed00001.png")), cv2.COLOR_BGR2RGB)
    windows = np.stack(
        [cv2.resize(rgb[0:400, 100:400], (256, 256)), cv2.resize(rgb[50:350, 200:500], (256, 256))]
    )
    fast, slow = PoseModel(backend="litert"), PoseModel(backend="opencv")
    assert (fast.backend, slow.backend) == ("litert", "opencv")
    a, b = fast.run(windows), slow.run(windows)
    assert np.abs(a.presence - b.presence).max() < 1e-3
    assert np.abs(a.landmarks[..., :2] - b.landmarks[..., :2]).max() < 0.05  # window pixels
    assert ((a.segmentation > 0) == (b.segmentation > 0)).mean() > 0.999


def test_an_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="backend must be 'auto', 'litert' or 'opencv', got 'onnx'"):
        PoseModel(backend="onnx")  # type: ignore[arg-type]


def test_the_vendored_detector_passes_its_checksum_and_a_corrupt_one_is_refused(tmp_path):
    assert check_file(DETECTOR_PATH, sha256=DETECTOR_SHA256, what="x") == DETECTOR_PATH
    bad = tmp_path / "pose_detection.tflite"
    bad.write_bytes(DETECTOR_PATH.read_bytes()[:-10])
    with pytest.raises(ModelFileError, match=rf"{bad}: sha256 is .* expected the pose_detection.tflite"):
        PersonDetector(bad)


def test_detector_outputs_and_tiles():
    detector = PersonDetector()
    scores, points = detector.run(np.zeros((2, 224, 224, 3), np.uint8))
    assert scores.shape == (2, 2254) and points.shape == (2, 2254, 2, 2)
    assert ((scores >= 0) & (scores <= 1)).all()
    with pytest.raises(ValueError, match=r"tiles must be \(N, 224, 224, 3\) uint8"):
        detector.run(np.zeros((1, 256, 256, 3), np.uint8))
    # tiles cover the frame, overlapping, the last flush with the far edge
    origins = tile_origins(480, 640, 300, 0.5)
    assert {x for x, _ in origins} == {0, 150, 300, 340} and {y for _, y in origins} == {0, 150, 180}
    assert tile_origins(100, 100, 300, 0.5) == [(0, 0)]


def test_the_detector_finds_the_people_of_a_real_frame(pennfudan_root):
    rgb = cv2.cvtColor(cv2.imread(str(pennfudan_root / "PNGImages" / "PennPed00011.png")), cv2.COLOR_BGR2RGB)
    windows = detect_windows(rgb, PersonDetector())
    assert windows.shape[1] == 4 and len(windows) >= 1
    assert (np.diff(windows[:, 0]) <= 0).all()  # best first
    text = (pennfudan_root / "Annotation" / "PennPed00011.txt").read_text(encoding="latin-1")
    boxes = [tuple(map(int, m)) for m in re.findall(r"\((\d+), (\d+)\) - \((\d+), (\d+)\)", text)]
    assert boxes
    for x0, y0, x1, y1 in boxes:  # each labelled person has a window on them, of about their size
        on = (windows[:, 1] > x0) & (windows[:, 1] < x1) & (windows[:, 2] > y0) & (windows[:, 2] < y1)
        ratio = windows[on, 3] / (y1 - y0)
        assert ((ratio > 0.6) & (ratio < 2.0)).any(), (x0, y0, x1, y1, windows[on])


class _OneDetection:
    """A detector stand-in: on every tile, one sure detection at the tile's centre whose scale
    point lies ``reach`` of the tile's side away (what the real detector does, now and then, on
    a small tile of a fragment)."""

    def __init__(self, reach: float) -> None:
        self.reach = reach

    def run(self, tiles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scores = np.zeros((len(tiles), 1))
        scores[:] = 0.9
        points = np.zeros((len(tiles), 1, 2, 2))
        points[:, 0, 0] = (112, 112)
        points[:, 0, 1] = (112, 112 + self.reach * 224)
        return scores, points


def test_a_tiles_detection_far_larger_than_the_tile_is_dropped_the_whole_frames_kept():
    rgb = np.zeros((360, 480, 3), np.uint8)
    tiles = len(tile_origins(360, 480, 120, 0.5))
    # a window of 2 * 1.3 * 1.25 = 3.25 tiles: from the tiles, dropped; from the whole frame, kept
    far = _OneDetection(1.3)
    windows = detect_windows(rgb, far, tiles=(120,), reach=0.0, largest=2.0)  # type: ignore[arg-type]
    assert len(windows) == 1 and windows[0, 3] == pytest.approx(2 * 1.3 * 1.25 * 480)
    assert len(detect_windows(rgb, far, tiles=(120,), reach=0.0)) == 1 + tiles  # type: ignore[arg-type]
    # a window of 1.5 tiles (a person filling the tile) is kept from every tile
    windows = detect_windows(rgb, _OneDetection(0.6), tiles=(120,), reach=0.0, largest=2.0)  # type: ignore[arg-type]
    assert len(windows) == 1 + tiles
    assert sorted(windows[:, 3])[:-1] == pytest.approx([1.5 * 120] * (len(windows) - 1))


def test_the_thorough_look_makes_no_frame_high_person_of_a_fragment_on_pets(pets_video):
    """PETS S2.L1's people stand 40-180 px tall in its 480x360 frames; before the tiles' windows
    were bounded, the thorough look made uncertain people 270 and 305 px tall of fragments on
    frames 40 and 760 (on the lawn, the road and the building), each concealed by its box."""
    from deid.finder import find_people
    from deid.video import VideoReader
    from deid.video.follow import THOROUGH
    from deid.video.io import to_tensor

    frames = [f for f in VideoReader.open(pets_video) if f.index in (40, 760)]
    assert len(frames) == 2
    for frame in frames:
        people = find_people(to_tensor(frame.pixels), config=THOROUGH)
        assert len(people) >= 5, frame.index
        assert max(p.box.h for p in people) < 0.6 * 360, (frame.index, [p.box for p in people])

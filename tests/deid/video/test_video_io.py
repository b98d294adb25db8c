"""Video files in and out: frame count, rate and size survive; partial files never appear."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from deid.boxes import Box
from deid.video import VideoError, VideoReader, VideoWriter
from deid.video.io import ENCODERS, Frame, as_float, cut_bytes, to_tensor
from reid_model.io import write_image
from tests.deid.video.conftest import variable_rate_clip


def _clip(path: Path, frames: int = 12, size: tuple[int, int] = (64, 48), fps: int = 10) -> Path:
    """A small synthetic video: a bright square moving over a dark background."""
    info = VideoReader.open(_folder(path.parent / "src", frames, size), fps=fps).info
    with VideoWriter(path, info) as writer:
        for frame in VideoReader.open(info.path, fps=fps):
            writer.write(frame)
    return path


def _folder(folder: Path, frames: int, size: tuple[int, int]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(frames):
        image = torch.full((3, size[1], size[0]), 0.1)
        image[:, 10:30, 2 + 3 * i : 12 + 3 * i] = 0.9
        write_image(folder / f"frame{i}.png", image)
    return folder


@pytest.mark.parametrize("suffix", [".mp4", ".avi", ".mkv"])
def test_round_trip_keeps_count_rate_and_size(tmp_path: Path, suffix: str) -> None:
    path = _clip(tmp_path / f"clip{suffix}", frames=12, size=(64, 48), fps=10)
    reader = VideoReader.open(path)
    frames = list(reader)
    assert len(frames) == 12
    assert reader.info.fps == Fraction(10)
    assert (reader.info.width, reader.info.height) == (64, 48)
    assert all(f.pixels.shape == (48, 64, 3) and f.pixels.dtype == np.uint8 for f in frames)
    assert reader.problem is None
    # the square moved: the encoded frames differ, in order
    assert frames[0].pixels[20, 5].mean() > 150 and frames[-1].pixels[20, 5].mean() < 100


def test_folder_of_frames_is_read_in_natural_order(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "frames", 11, (64, 48))
    reader = VideoReader.open(folder, fps=5)
    assert reader.names[:3] == ["frame0.png", "frame1.png", "frame2.png"]
    assert reader.names[-1] == "frame10.png"
    assert reader.info.fps == Fraction(5) and reader.info.frames == 11
    out = tmp_path / "out"
    with VideoWriter(out, reader.info, names=reader.names) as writer:
        for frame in reader:
            writer.write(frame)
    assert sorted(p.name for p in out.iterdir()) == sorted(reader.names)


def test_truncated_video_gives_the_frames_before_the_damage(tmp_path: Path) -> None:
    path = _clip(tmp_path / "clip.mkv", frames=30)
    data = path.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) * 2 // 3])
    frames = list(VideoReader.open(cut))
    assert 0 < len(frames) < 30


def test_a_file_cut_short_of_the_frames_its_header_declares_says_so(tmp_path: Path) -> None:
    # an AVI cut short (its index gone, some frames) decodes without an error: its header tells
    path = _clip(tmp_path / "clip.avi", frames=30)
    data = path.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) * 9 // 10])
    reader = VideoReader.open(cut)
    frames = list(reader)
    assert 0 < len(frames) < 30 and reader.info.frames == 30
    assert reader.problem == f"the file declares 30 frames, {len(frames)} decoded (truncated?)"


def test_a_folder_of_frames_stops_at_a_damaged_frame_and_says_where(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "frames", 6, (64, 48))
    damaged = folder / "frame3.png"
    damaged.write_bytes(damaged.read_bytes()[:60])
    reader = VideoReader.open(folder, fps=10)
    assert [f.index for f in reader] == [0, 1, 2]
    assert reader.problem is not None and reader.problem.startswith("reading stopped after frame 3: ")
    assert "frame3.png" in reader.problem
    (folder / "frame0.png").write_bytes(b"")
    with pytest.raises(VideoError, match=r"its first frame cannot be read: .*frame0\.png"):
        VideoReader.open(folder, fps=10)


def test_bad_inputs_are_named(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="does not exist"):
        VideoReader.open(tmp_path / "missing.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all")
    with pytest.raises(VideoError, match=r"junk\.mp4 cannot be read: not a video file \(no format") as raised:
        VideoReader.open(junk)
    assert "Errno" not in str(raised.value)
    (tmp_path / "zero.avi").write_bytes(b"")
    with pytest.raises(VideoError, match=r"zero\.avi: the file is empty \(0 bytes\)"):
        VideoReader.open(tmp_path / "zero.avi")
    (tmp_path / "empty").mkdir()
    with pytest.raises(VideoError, match="holds no image"):
        VideoReader.open(tmp_path / "empty")
    info = VideoReader.open(_folder(tmp_path / "f", 2, (32, 32)), fps=10).info
    with pytest.raises(VideoError, match="must end in one of"):
        VideoWriter(tmp_path / "out.gif", info)


def test_quality_is_how_close_the_written_frames_stay(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    pixels = [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(4)]  # hard to compress
    info = VideoReader.open(_clip(tmp_path / "clip.mp4")).info

    def error(quality: int) -> float:
        path = tmp_path / f"q{quality}.mp4"
        with VideoWriter(path, info, quality=quality) as writer:
            for i, image in enumerate(pixels):
                writer.write(Frame(i, image))
        written = [f.pixels.astype(int) for f in VideoReader.open(path)]
        return float(np.mean([np.abs(w - p).mean() for w, p in zip(written, pixels, strict=True)]))

    assert error(0) < error(18) < error(40)
    with pytest.raises(ValueError, match="quality must be an x264 CRF in"):
        VideoWriter(tmp_path / "bad.mp4", info, quality=52)


def test_an_aborted_write_leaves_nothing(tmp_path: Path) -> None:
    info = VideoReader.open(_folder(tmp_path / "f", 3, (32, 32)), fps=10).info
    out = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError), VideoWriter(out, info) as writer:
        writer.write(Frame(0, np.zeros((32, 32, 3), np.uint8)))
        raise RuntimeError("killed")
    assert list(tmp_path.glob("*out.mp4*")) == []


def test_falls_back_to_the_next_encoder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(ENCODERS, ".mp4", ("no-such-encoder", "mpeg4"))
    info = VideoReader.open(_folder(tmp_path / "f", 4, (32, 32)), fps=10).info
    out = tmp_path / "out.mp4"
    with VideoWriter(out, info) as writer:
        for frame in VideoReader.open(info.path, fps=10):
            writer.write(frame)
    assert "mpeg4" in writer.notes[0] and "no-such-encoder" in writer.notes[0]
    assert sum(1 for _ in VideoReader.open(out)) == 4


def test_a_variable_frame_rate_keeps_its_time_stamps(tmp_path: Path) -> None:
    times = [0, 100, 150, 400, 450, 500, 900, 1000]
    reader = VideoReader.open(variable_rate_clip(tmp_path / "vfr.mkv", times))
    assert reader.times() == times
    with VideoWriter(tmp_path / "out.mp4", reader.info, times=reader.times()) as writer:
        for frame in reader:
            writer.write(frame)
    written = VideoReader.open(tmp_path / "out.mp4")
    stamps = [f.pts * written.info.time_base for f in written]
    assert stamps == [Fraction(t, 1000) for t in times]  # every frame at its own time
    # a constant-rate file, or a folder, has no stamps to keep
    assert VideoReader.open(_folder(tmp_path / "frames", 3, (64, 48))).times() is None


def test_a_cut_crop_is_a_copy_and_the_frames_floats_to_the_bit() -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (36, 48, 3), dtype=np.uint8)
    box = Box(5, 7, 11, 20)
    crop = cut_bytes(pixels, box)
    assert crop.shape == (3, 20, 11) and crop.dtype == torch.uint8
    assert crop.untyped_storage().nbytes() == 3 * 20 * 11  # not the frame's
    assert torch.equal(as_float(crop), to_tensor(pixels)[:, 7:27, 5:16])
    before = int(pixels[7, 5, 0])
    pixels[7, 5] = 255 - before
    assert int(crop[0, 0, 0]) == before  # the frame's later changes are not the crop's

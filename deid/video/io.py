"""Reading and writing videos: the one module where frames are uint8 RGB ``(H, W, 3)`` arrays.

PyAV (FFmpeg's own libraries, inside its wheel) decodes and encodes; a folder of numbered frames
is a video too. A video is written to a temporary file beside its destination and moved into
place only when complete, so a killed run never leaves a truncated file under the final name.
Frames are written at the input's frame rate, one after the other; a variable frame rate keeps
the input's time stamps (:meth:`VideoReader.times`). An audio stream is copied.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deid.boxes import Box
from reid_model.io import IMAGE_SUFFIXES, ImageReadError, file_sha256, read_image, write_image

#: File suffixes read as videos.
VIDEO_SUFFIXES = (".avi", ".mp4", ".mov", ".mkv", ".m4v", ".webm")

#: The encoders tried, in order, for each output suffix (the first this machine has is used).
ENCODERS = {
    ".mp4": ("libx264", "mpeg4"),
    ".m4v": ("libx264", "mpeg4"),
    ".mov": ("libx264", "mpeg4"),
    ".mkv": ("libx264", "ffv1"),
    ".avi": ("libx264", "mpeg4", "mjpeg"),
    ".webm": ("libvpx-vp9",),
}

#: x264's constant rate factor a video is written with by default (0-51; lower keeps the written
#: frames closer to the rendered ones, in bigger files). Compression moves the pixels the judge
#: sees: on PETS S2.L1, of 7194 sightings, 6065 came out private as written at 18 (4.2 MB), 6187
#: at 10 (7.4 MB), 6213 at 0 (13.4 MB), against 6364 in the frames before encoding.
QUALITY = 18


def check_quality(quality: object) -> None:
    """Refuse a ``quality`` that is not an x264 constant rate factor (an int in [0, 51])."""
    if not isinstance(quality, int) or isinstance(quality, bool) or not 0 <= quality <= 51:
        raise ValueError(f"quality must be an x264 CRF in [0, 51], got {quality!r}")


class VideoError(ValueError):
    """A video cannot be read or written; the message names the file and the reason."""


def to_tensor(pixels: np.ndarray) -> torch.Tensor:
    """A frame's pixels ``(H, W, 3)`` uint8 RGB as a float image ``(3, H, W)`` in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1).float().div_(255)


def to_pixels(image: torch.Tensor) -> np.ndarray:
    """A float image ``(3, H, W)`` in [0, 1] as pixels ``(H, W, 3)`` uint8 RGB (rounded)."""
    return to_bytes(image).permute(1, 2, 0).contiguous().numpy()


def to_bytes(image: torch.Tensor) -> torch.Tensor:
    """A float image ``(3, H, W)`` in [0, 1] as the uint8 ``(3, H, W)`` a file holds (rounded)."""
    return (image.clamp(0, 1) * 255).round().byte()


def cut_bytes(pixels: np.ndarray, box: Box) -> torch.Tensor:
    """The uint8 ``(3, box.h, box.w)`` crop of a frame's ``pixels (H, W, 3)`` at ``box``, a copy
    (a view would keep the whole frame in memory); :func:`as_float` of it is the crop of
    :func:`to_tensor`'s image to the bit."""
    return torch.from_numpy(pixels[box.y : box.y + box.h, box.x : box.x + box.w]).permute(2, 0, 1).clone()


def as_float(crop: torch.Tensor) -> torch.Tensor:
    """A uint8 image ``(3, h, w)`` as float in [0, 1] (the floats :func:`to_tensor` makes)."""
    return crop.float() / 255


def is_video(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a video file by its suffix (see :data:`VIDEO_SUFFIXES`)."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


@dataclass(frozen=True)
class VideoInfo:
    """What a video holds.

    Attributes:
        path: the video file, or the folder of frames.
        frames: the frame count the container declares (None when it does not say).
        fps: the average frame rate.
        width, height: the frame size in pixels.
        codec: the video codec's name (``"frames"`` for a folder of images).
        audio: whether the file has an audio stream (copied to the output).
        time_base: the unit of the frames' time stamps.
    """

    path: Path
    frames: int | None
    fps: Fraction
    width: int
    height: int
    codec: str
    audio: bool
    time_base: Fraction


@dataclass
class Frame:
    """One decoded frame: its index, its pixels ``(H, W, 3)`` uint8 RGB, and its time stamp."""

    index: int
    pixels: np.ndarray
    pts: int | None = None


@dataclass
class VideoReader:
    """The frames of a video file, or of a folder of numbered images (``as_video``).

    Iterating decodes frame by frame. Decoding stops at the first frame FFmpeg cannot decode (a
    truncated or damaged file), or at a folder's first frame that cannot be read: the frames
    before it are given, and :attr:`problem` says where it stopped; it also says when a file
    ends before the frame count its header declares. Frames whose size differs from the first
    are an error.

    Example:
        >>> reader = VideoReader.open("clip.avi")  # doctest: +SKIP
        >>> reader.info.fps, sum(1 for _ in reader)  # doctest: +SKIP
        (Fraction(10, 1), 795)
    """

    info: VideoInfo
    problem: str | None = None
    _files: list[Path] = field(default_factory=list)

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, fps: float = 10.0) -> VideoReader:
        """A reader for ``path``: a video file, or a folder of frames played at ``fps``.

        Raises:
            VideoError: the file is missing, not a video, or has no video stream; the folder
                holds no image.
        """
        path = Path(path)
        if path.is_dir():
            return cls._folder(path, fps)
        if not path.is_file():
            raise VideoError(f"video {path} does not exist")
        if path.stat().st_size == 0:
            raise VideoError(f"video {path}: the file is empty (0 bytes)")
        import av

        try:
            with av.open(str(path)) as container:
                if not container.streams.video:
                    raise VideoError(f"video {path} has no video stream")
                stream = container.streams.video[0]
                rate = stream.average_rate or stream.guessed_rate or Fraction(0)
                info = VideoInfo(
                    path=path,
                    frames=stream.frames or None,
                    fps=Fraction(rate),
                    width=stream.codec_context.width,
                    height=stream.codec_context.height,
                    codec=stream.codec_context.name,
                    audio=bool(container.streams.audio),
                    time_base=Fraction(stream.time_base or Fraction(1, 1000)),
                )
        except av.InvalidDataError as exc:
            raise VideoError(
                f"video {path} cannot be read: not a video file (no format FFmpeg knows reads it)"
            ) from exc
        except av.FFmpegError as exc:
            raise VideoError(f"video {path} cannot be read: {exc.strerror or exc}") from exc
        if info.width <= 0 or info.height <= 0:
            raise VideoError(f"video {path} declares no frame size ({info.width}x{info.height})")
        return cls(info)

    @classmethod
    def _folder(cls, folder: Path, fps: float) -> VideoReader:
        files = sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=_natural)
        if not files:
            raise VideoError(f"folder {folder} holds no image frames (suffixes {', '.join(IMAGE_SUFFIXES)})")
        stems = Counter(p.stem for p in files)
        same = sorted(p.name for p in files if stems[p.stem] > 1)
        if same:  # their concealed frames would be one PNG: one of them lost
            raise VideoError(
                f"folder {folder}: frames {same[:6]} share a name but for the suffix; their concealed "
                "frames (PNG) would overwrite each other: keep one of each"
            )
        if fps <= 0:
            raise VideoError(f"fps must be > 0 for a folder of frames, got {fps}")
        try:
            first = read_image(files[0])
        except ImageReadError as exc:
            raise VideoError(f"folder {folder}: its first frame cannot be read: {exc}") from exc
        rate = Fraction(fps).limit_denominator(1001)
        info = VideoInfo(folder, len(files), rate, first.shape[2], first.shape[1], "frames", False, 1 / rate)
        return cls(info, _files=files)

    def times(self) -> list[int] | None:
        """The frames' presentation time stamps (in ``info.time_base``), read from the packets
        without decoding, in order; None for a folder, or when some packet has no time stamp or
        two share one (AVI and other containers without real time stamps)."""
        if self._files:
            return None
        import av

        try:
            with av.open(str(self.info.path)) as container:
                stream = container.streams.video[0]
                stamps = [packet.pts for packet in container.demux(stream) if packet.size]
        except av.FFmpegError:
            return None
        known = [pts for pts in stamps if pts is not None]
        if not known or len(known) != len(stamps) or len(set(known)) != len(known):
            return None
        return sorted(known)

    def sha256(self) -> str:
        """The SHA-256 of the video's file; for a folder, of its frame files' names and digests
        in frame order: what :func:`deid.video.verify_video` compares with the report."""
        if not self._files:
            return file_sha256(self.info.path)
        lines = "".join(f"{path.name}\0{file_sha256(path)}\n" for path in self._files)
        return hashlib.sha256(lines.encode()).hexdigest()

    @property
    def names(self) -> list[str]:
        """A folder's frame file names, in order (empty for a video file)."""
        return [p.name for p in self._files]

    def __iter__(self) -> Iterator[Frame]:
        if self._files:
            yield from self._read_folder()
        else:
            yield from self._read_file()

    def _read_folder(self) -> Iterator[Frame]:
        self.problem = None
        for index, path in enumerate(self._files):
            try:
                image = read_image(path)
            except ImageReadError as exc:  # as a video file's decoding stops at a damaged frame
                self.problem = f"reading stopped after frame {index}: {exc}"
                return
            yield Frame(index, self._checked(to_pixels(image), index))

    def _read_file(self) -> Iterator[Frame]:
        import av

        self.problem = None
        index = 0
        with av.open(str(self.info.path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            frames = container.decode(stream)
            while True:
                try:
                    frame = next(frames)
                except StopIteration:
                    break
                except (av.FFmpegError, EOFError) as exc:
                    self.problem = f"decoding stopped after frame {index}: {exc}"
                    break
                yield Frame(index, self._checked(frame.to_ndarray(format="rgb24"), index), frame.pts)
                index += 1
        if self.problem is None and self.info.frames is not None and index < self.info.frames:
            self.problem = f"the file declares {self.info.frames} frames, {index} decoded (truncated?)"

    def _checked(self, pixels: np.ndarray, index: int) -> np.ndarray:
        if pixels.shape[:2] != (self.info.height, self.info.width):
            raise VideoError(
                f"frame {index} of {self.info.path} is {pixels.shape[1]}x{pixels.shape[0]}, "
                f"the video is {self.info.width}x{self.info.height}"
            )
        return pixels


class VideoWriter:
    """Write frames to ``path`` at the frame rate of ``info`` (and its audio, copied), or at
    the time stamps ``times`` (the input's, in ``info.time_base``: a variable frame rate kept).

    A file is encoded into a temporary file beside ``path`` and moved into place by
    :meth:`close`; :meth:`abort` (or an exception inside ``with``) removes it. The encoder is
    the first of :data:`ENCODERS` this machine has for the suffix; :attr:`notes` says which was
    used, and whether the audio was copied. A folder output (``frames=True``) writes each frame
    as a PNG named like the input frame. ``quality`` is H.264's constant rate factor
    (:data:`QUALITY`); the other encoders write at their own fixed quality.

    Example:
        >>> with VideoWriter("out.mp4", reader.info) as writer:  # doctest: +SKIP
        ...     for frame in reader:
        ...         writer.write(frame)
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        info: VideoInfo,
        *,
        names: list[str] | None = None,
        times: list[int] | None = None,
        quality: int = QUALITY,
    ) -> None:
        check_quality(quality)
        self.path = Path(path)
        self.info = info
        self._times = times
        self.notes: list[str] = []
        self.count = 0
        self._names = names
        self._container: Any = None
        self._stream: Any = None
        self._audio: Any = None
        if names is not None:
            self.path.mkdir(parents=True, exist_ok=True)
            return
        suffix = self.path.suffix.lower()
        if suffix not in ENCODERS:
            raise VideoError(f"output {self.path} must end in one of {', '.join(ENCODERS)}, got {suffix!r}")
        self._rate = self.info.fps if self.info.fps > 0 else Fraction(10)
        self._tmp = self.path.with_name(f".{self.path.name}.part{self.path.suffix}")
        self._open(ENCODERS[suffix], quality)

    def _open(self, encoders: tuple[str, ...], quality: int) -> None:
        """Open the first encoder of ``encoders`` that works, with the audio when the container
        takes it (else without, said in :attr:`notes`); the header is written here."""
        import av

        tried = []
        for name in encoders:
            for audio in (True, False) if self.info.audio else (False,):
                container = av.open(str(self._tmp), mode="w")
                try:
                    stream: Any = container.add_stream(name, rate=self._rate)
                    if self._times is not None:
                        stream.time_base = stream.codec_context.time_base = self.info.time_base
                    stream.width, stream.height = self.info.width, self.info.height
                    stream.pix_fmt = "yuv444p" if name == "ffv1" else "yuv420p"
                    stream.options = {"crf": str(quality), "preset": "veryfast"} if name == "libx264" else {}
                    if name in ("mpeg4", "mjpeg"):
                        stream.codec_context.qscale = 2
                    self._audio = self._audio_stream(container) if audio else None
                    container.start_encoding()
                except (av.FFmpegError, ValueError, IndexError) as exc:
                    container.close()
                    tried.append(f"{name}{' with audio' if audio else ''}: {exc}")
                    continue
                self._container, self._stream = container, stream
                self.notes.append(f"encoder {name}" + (f" (tried {'; '.join(tried)})" if tried else ""))
                if self.info.audio and not audio:
                    self.notes.append("audio not copied: the container refused the input's audio stream")
                return
        self._tmp.unlink(missing_ok=True)
        raise VideoError(f"no encoder for {self.path} on this machine: {'; '.join(tried)}")

    def _audio_stream(self, container: Any) -> Any:
        """The output's audio stream, a copy of the input's, declared before the header."""
        import av

        with av.open(str(self.info.path)) as source:
            return container.add_stream_from_template(source.streams.audio[0])

    def write(self, frame: Frame) -> None:
        """Encode one frame (its pixels ``(H, W, 3)`` uint8 RGB), the next in the output."""
        if self._names is not None:
            write_image(self.path / _png(self._names[frame.index]), to_tensor(frame.pixels))
            self.count += 1
            return
        import av

        video = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame.pixels), format="rgb24")
        if self._times is not None:
            video.pts = self._times[frame.index] - self._times[0]
            video.time_base = self.info.time_base
        else:  # constant rate: a container's own stamps can come out of order
            video.pts = frame.index
            video.time_base = 1 / self._rate
        for packet in self._stream.encode(video):
            self._container.mux(packet)
        self.count += 1

    def close(self) -> None:
        """Flush the encoder, copy the audio, and move the file into place."""
        if self._container is None:
            return
        for packet in self._stream.encode():
            self._container.mux(packet)
        if self._audio is not None:
            self._copy_audio()
        self._container.close()
        self._container = None
        os.replace(self._tmp, self.path)

    def _copy_audio(self) -> None:
        import av

        try:
            with av.open(str(self.info.path)) as source:
                audio = source.streams.audio[0]
                for packet in source.demux(audio):
                    if packet.dts is None:
                        continue
                    packet.stream = self._audio
                    self._container.mux(packet)
            self.notes.append("audio copied")
        except (av.FFmpegError, ValueError) as exc:
            self.notes.append(f"audio not copied: {exc}")

    def abort(self) -> None:
        """Drop the partial file; nothing is written under :attr:`path`."""
        if self._container is not None:
            self._container.close()
            self._container = None
            self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, kind: object, *_: object) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


def _natural(path: Path) -> list[Any]:
    """Sort key: ``frame2`` before ``frame10``."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def _png(name: str) -> str:
    return str(Path(name).with_suffix(".png"))

"""The I/O edge: files, uint8, OpenCV's BGR and resizing live here and nowhere else.

Inside the library an image batch is float32 ``(B, 3, H, W)``, RGB, in [0, 1].

Over 300 lines on purpose: every uint8/BGR conversion and file write sits in this one module, so
that how pixels enter and leave the library can be audited in one place.
"""

from __future__ import annotations

import hashlib
import os
import struct
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

from reid_model.checks import check_images
from reid_model.embedders import INPUT_SIZE

#: Largest image (in pixels) decoded by default: an 8K frame is 33 M pixels.
MAX_PIXELS = 64_000_000
#: File endings read as images.
#: ``.gif``: only the first frame is read.
IMAGE_SUFFIXES = frozenset({".bmp", ".gif", ".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp"})
#: EXIF Orientation tag.
_ORIENTATION = 0x0112


class ImageReadError(ValueError):
    """An image file could not be read; the message names the file and the reason."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot read image {self.path}: {reason}")


def is_image_file(path: str | os.PathLike[str]) -> bool:
    """Return whether ``path`` has an image file ending."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def _header(path: Path, handle: BinaryIO) -> tuple[int, int, int]:
    """Read (width, height, EXIF orientation 1..8) from the header of the open file ``handle``
    without decoding the pixels (it reads only the header); ``path`` names the file in errors."""
    try:
        with Image.open(handle) as im:
            width, height = im.size
            try:
                orientation = im.getexif().get(_ORIENTATION, 1)
            except Exception:  # unreadable metadata: the pixel decoder below gives the reason
                orientation = 1
            return width, height, orientation if orientation in range(1, 9) else 1
    except Image.DecompressionBombError as exc:
        raise ImageReadError(path, f"image too large to decode safely ({exc})") from exc
    except Exception as exc:
        handle.seek(0)
        size = _tiff_size(handle)  # Pillow cannot open float RGB TIFFs; OpenCV decodes them
        if size is not None:
            return *size, 1
        if isinstance(exc, UnidentifiedImageError):  # its message names Python's file object
            raise ImageReadError(path, "not a readable image file: no image format knows its bytes") from exc
        raise ImageReadError(path, f"not a readable image file ({type(exc).__name__}: {exc})") from exc


def _tiff_size(handle: BinaryIO) -> tuple[int, int] | None:
    """(width, height) from a TIFF's first IFD, or None if ``handle`` is not a readable TIFF."""
    try:
        head = handle.read(8)
        if head[:4] not in (b"II*\x00", b"MM\x00*"):
            return None
        order = "<" if head[:2] == b"II" else ">"
        handle.seek(int.from_bytes(head[4:8], "little" if order == "<" else "big"))
        (count,) = struct.unpack(order + "H", handle.read(2))
        size: dict[int, int] = {}
        for _ in range(min(count, 4096)):
            tag, kind, _n, value = struct.unpack(order + "HHI4s", handle.read(12))
            if tag in (256, 257):  # ImageWidth, ImageLength: SHORT or LONG
                size[tag] = struct.unpack(
                    order + ("H" if kind == 3 else "I"), value[: 2 if kind == 3 else 4]
                )[0]
    except (OSError, struct.error):
        return None
    return (size[256], size[257]) if len(size) == 2 else None


def image_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """(width, height) of the image at ``path`` as :func:`read_image` returns it (upright), from the header.

    Raises:
        ImageReadError: the file is missing or its header is not an image's.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(path, "no such file")
    with path.open("rb") as handle:
        width, height, orientation = _header(path, handle)
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def read_image(path: str | os.PathLike[str], *, max_pixels: int = MAX_PIXELS) -> torch.Tensor:
    """Read an image file as a float32 RGB tensor ``(3, H, W)`` in [0, 1], upright.

    The EXIF orientation is applied (a phone photo comes out as it displays). Grayscale is
    repeated to three channels, an alpha channel is dropped, 16-bit images are scaled by 65535,
    float (e.g. float32 TIFF) images are read as they are and must lie in [0, 1], and of a GIF
    only the first frame is read.

    Args:
        path: the image file.
        max_pixels: refuse images with more pixels than this before decoding them.

    Raises:
        ImageReadError: the file is missing, empty, not an image, truncated or too large.

    Example:
        >>> image = read_image("examples/images/000_45.bmp")  # doctest: +SKIP
        >>> image.shape
        torch.Size([3, 128, 48])
    """
    return _read(Path(path), max_pixels)[0]


def _read(path: Path, max_pixels: int) -> tuple[torch.Tensor, bytes]:
    """:func:`read_image` and the bytes it decoded: the file is opened once, its header read and
    checked (an image over ``max_pixels`` is refused before the rest is read), then its bytes
    read from the start, so header and pixels come from the one file."""
    if path.is_dir():
        raise ImageReadError(path, "a folder, expected an image file (`deid conceal` takes folders)")
    if not path.is_file():
        raise ImageReadError(path, "no such file")
    with path.open("rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            raise ImageReadError(path, "the file is empty (0 bytes)")
        width, height, orientation = _header(path, handle)
        if width * height > max_pixels:
            raise ImageReadError(
                path, f"image too large to decode safely: {width}x{height} pixels, limit {max_pixels}"
            )
        handle.seek(0)
        data = handle.read()
    # IMREAD_UNCHANGED never applies EXIF orientation: it is applied below, from the header.
    array = _decoded(data, path)
    return _array_to_tensor(_upright(array, orientation), path), data


class _QuietOpenCV:
    """OpenCV's log level lowered to errors while any thread decodes (it is process-wide): the
    first decoder in saves the level, the last one out puts it back."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inside = 0
        self._level = 0

    def __enter__(self) -> None:
        with self._lock:
            if self._inside == 0:
                self._level = cv2.utils.logging.getLogLevel()
                cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
            self._inside += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._inside -= 1
            if self._inside == 0:
                cv2.utils.logging.setLogLevel(self._level)


_QUIET = _QuietOpenCV()
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _decoded(data: bytes, name: str | os.PathLike[str]) -> np.ndarray:
    """OpenCV's ``imdecode`` of ``data`` as stored (``IMREAD_UNCHANGED``), without OpenCV's own
    warning on stderr: the error raised names the file (``name``).

    Raises:
        ImageReadError: ``data`` does not decode.
    """
    if data.startswith(_PNG_SIGNATURE) and b"IEND" not in data[-4096:]:  # libpng would print its own error
        raise ImageReadError(name, "the image data is corrupt or truncated (a PNG without its end chunk)")
    with _QUIET:
        array = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None or array.size == 0:
        raise ImageReadError(name, "the image data is corrupt or truncated")
    return array


def _upright(array: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1..8) to a decoded ``(H, W, ...)`` array, so the scene is upright."""
    if orientation in (5, 6, 7, 8):  # the stored image is turned by a quarter
        array = np.rot90(array, k=-1 if orientation in (5, 6) else 1)
        if orientation in (5, 7):
            array = array[:, ::-1]
    elif orientation == 2:
        array = array[:, ::-1]
    elif orientation == 3:
        array = array[::-1, ::-1]
    elif orientation == 4:
        array = array[::-1]
    return np.ascontiguousarray(array)


def _array_to_tensor(array: np.ndarray, path: Path) -> torch.Tensor:
    if array.dtype == np.uint8:
        scale = 255.0
    elif array.dtype == np.uint16:
        scale = 65535.0
    elif array.dtype in (np.float32, np.float64):
        scale = 1.0
        if not np.isfinite(array).all():
            raise ImageReadError(path, f"float ({array.dtype}) image with NaN or infinite values")
        low, high = float(array.min()), float(array.max())
        if low < 0.0 or high > 1.0:
            raise ImageReadError(
                path,
                f"float ({array.dtype}) image with values in [{low:.6g}, {high:.6g}], expected [0, 1]",
            )
    else:
        raise ImageReadError(path, f"unsupported pixel type {array.dtype}, expected 8 or 16 bit")
    if array.ndim == 2:
        array = cv2.cvtColor(array, cv2.COLOR_GRAY2RGB)
    elif array.shape[2] == 1:
        array = cv2.cvtColor(array[..., 0], cv2.COLOR_GRAY2RGB)
    elif array.shape[2] == 3:
        array = cv2.cvtColor(array, cv2.COLOR_BGR2RGB)
    elif array.shape[2] == 4:
        array = cv2.cvtColor(array, cv2.COLOR_BGRA2RGB)
    else:
        raise ImageReadError(path, f"unsupported channel count {array.shape[2]}, expected 1, 3 or 4")
    tensor = torch.from_numpy(np.ascontiguousarray(array).astype(np.float32) / scale)
    return tensor.permute(2, 0, 1).clamp_(0.0, 1.0).contiguous()


def to_uint8_bgr(image: torch.Tensor) -> np.ndarray:
    """Turn one float RGB image ``(3, H, W)`` in [0, 1] into a uint8 BGR array ``(H, W, 3)``."""
    if image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"image must have shape (3, H, W), got {tuple(image.shape)}")
    return cv2.cvtColor(_levels(image).astype(np.uint8).transpose(1, 2, 0), cv2.COLOR_RGB2BGR)


def _levels(image: torch.Tensor) -> np.ndarray:
    """``image`` scaled to [0, 255] and rounded half to even, as a float32 numpy array.

    In numpy rather than torch: one small image per call, where torch's thread pool costs about
    100x the work on a busy CPU (33 ms against 0.3 ms for a 128x48 crop).
    """
    array = image.detach().to("cpu", torch.float32).numpy()
    return np.rint(np.clip(array, 0.0, 1.0) * np.float32(255.0))


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename, so no half file is left."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def output_format(path: str | os.PathLike[str]) -> str:
    """The file format an output at ``path`` is written in: its lower-case suffix, ``.png`` if none."""
    return Path(path).suffix.lower() or ".png"


def quantize(image: torch.Tensor) -> torch.Tensor:
    """Round a float image in [0, 1] to the 256 levels of a uint8 file (values ``k / 255``).

    ``to_uint8_bgr(quantize(x))`` equals ``to_uint8_bgr(x)``: the result is what an 8-bit file holds.
    """
    return torch.from_numpy(_levels(image) / np.float32(255.0)).to(image.device)


def encode_image(image: torch.Tensor, suffix: str = ".png") -> bytes:
    """Encode one float RGB image ``(3, H, W)`` in [0, 1] as the bytes of a ``suffix`` file.

    The encoding is what :func:`write_image` writes: uint8 rounding, then OpenCV's encoder for
    the format with its default settings (JPEG quality 95).

    Raises:
        ValueError: ``image`` is not ``(3, H, W)`` or OpenCV cannot encode ``suffix``.

    Example:
        >>> data = encode_image(torch.rand(3, 128, 48), ".jpg")
        >>> decode_image(data).shape
        torch.Size([3, 128, 48])
    """
    suffix = _dotted(suffix)
    try:
        ok, encoded = cv2.imencode(suffix, to_uint8_bgr(image))
    except cv2.error as exc:
        raise ValueError(f"cannot encode an image as {suffix!r}: {exc}") from exc
    if not ok:
        raise ValueError(f"cannot encode an image as {suffix!r}")
    return encoded.tobytes()


def _dotted(suffix: str) -> str:
    """A file suffix in lower case with its dot (``"PNG"`` and ``".png"`` are ``".png"``)."""
    return suffix.lower() if suffix.startswith(".") else f".{suffix.lower()}"


def decode_image(data: bytes, *, name: str = "<bytes>") -> torch.Tensor:
    """Decode the bytes of an image file as a float32 RGB tensor ``(3, H, W)`` in [0, 1].

    No EXIF orientation is applied: these are bytes the library wrote (it writes no metadata).

    Raises:
        ImageReadError: the bytes are empty or do not decode; the message names ``name``.
    """
    if len(data) == 0:
        raise ImageReadError(name, "the file is empty (0 bytes)")
    return _array_to_tensor(_decoded(data, name), Path(name))


def as_written(image: torch.Tensor, suffix: str = ".png") -> tuple[bytes, torch.Tensor]:
    """The bytes of ``image`` as a ``suffix`` file, and the image read back from them ``(3, H, W)``.

    Example:
        >>> data, back = as_written(torch.rand(3, 128, 48), ".png")
        >>> bool((back * 255).round().eq(back * 255).all())
        True
    """
    data = encode_image(image, suffix)
    return data, decode_image(data, name=f"<{suffix} encoding>")


#: File formats that hold a uint8 RGB image exactly (OpenCV's encoders, default settings).
LOSSLESS = frozenset({".png", ".bmp"})


def read_back(image: torch.Tensor, suffix: str = ".png") -> torch.Tensor:
    """What ``image`` ``(3, H, W)`` is once written as a ``suffix`` file and read again: for a
    :data:`LOSSLESS` format its uint8 levels (:func:`quantize`, bit for bit what decoding the
    file gives), without encoding; for any other, the image decoded from :func:`as_written`."""
    if _dotted(suffix) in LOSSLESS:
        if image.ndim != 3 or image.shape[0] != 3:
            raise ValueError(f"image must have shape (3, H, W), got {tuple(image.shape)}")
        return quantize(image)
    return as_written(image, suffix)[1]


def sha256_hex(data: bytes) -> str:
    """The SHA-256 digest of ``data`` as 64 lower-case hex digits."""
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The SHA-256 digest of the file at ``path`` as 64 lower-case hex digits (read in chunks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_image_hashed(
    path: str | os.PathLike[str], *, max_pixels: int = MAX_PIXELS
) -> tuple[torch.Tensor, str]:
    """:func:`read_image` and the SHA-256 of the bytes it decoded (the file is read once).

    Raises:
        ImageReadError: as :func:`read_image`.
    """
    image, data = _read(Path(path), max_pixels)
    return image, hashlib.sha256(data).hexdigest()


def write_image(path: str | os.PathLike[str], image: torch.Tensor) -> None:
    """Write one float RGB image ``(3, H, W)`` in [0, 1] atomically; the format follows the suffix.

    Example:
        >>> write_image("out/person.png", torch.rand(3, 128, 48))  # doctest: +SKIP
    """
    path = Path(path)
    try:
        data = encode_image(image, output_format(path))
    except ValueError as exc:
        raise ValueError(f"{exc} for {path}") from exc
    write_bytes_atomic(path, data)


def resize(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize a batch ``(B, 3, H, W)`` to ``size`` = (height, width), bilinear, antialiased when shrinking.

    Always torch's antialiased kernel: where it enlarges, its support is one pixel, plain
    bilinear interpolation (to float rounding), and its values do not depend on torch's thread
    count. The plain kernel's do (by a rounding, 1.8e-7), and the fused adversary's hard LOMO
    histograms turn that into distances up to 0.1% apart: a crop judged by one process could be
    judged otherwise by ``deid verify`` in another with fewer threads (seen on PETS 2009).
    """
    check_images(images)
    if tuple(images.shape[-2:]) == tuple(size):
        return images
    out = F.interpolate(images, size=size, mode="bilinear", align_corners=False, antialias=True)
    return out.clamp(0.0, 1.0)


def load_images(
    paths: Sequence[str | os.PathLike[str]], *, size: tuple[int, int] = INPUT_SIZE
) -> torch.Tensor:
    """Read image files and stack them, resized to ``size``, into a batch ``(B, 3, H, W)``.

    Example:
        >>> batch = load_images(["a.bmp", "b.bmp"])  # doctest: +SKIP
        >>> batch.shape
        torch.Size([2, 3, 128, 48])
    """
    if len(paths) == 0:
        return torch.empty(0, 3, *size)
    return torch.cat([resize(read_image(p)[None], size) for p in paths])

import hashlib
import struct
import zlib

import cv2
import numpy as np
import pytest
import torch

from reid_model import ImageReadError, io, load_images, read_image, resize, write_image


def test_round_trip(tmp_path):
    image = torch.rand(3, 20, 10)
    write_image(tmp_path / "a.png", image)
    back = read_image(tmp_path / "a.png")
    assert back.dtype == torch.float32 and back.shape == (3, 20, 10)
    assert torch.allclose(back, image, atol=1 / 255)
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]  # no temporary file left behind


def test_channel_order_is_rgb(tmp_path):
    bgr = np.zeros((4, 4, 3), np.uint8)
    bgr[..., 2] = 255  # red in OpenCV's BGR
    cv2.imwrite(str(tmp_path / "red.png"), bgr)
    image = read_image(tmp_path / "red.png")
    assert image[0].min() == 1.0 and image[1:].max() == 0.0


def test_grayscale_rgba_and_16_bit(tmp_path):
    cv2.imwrite(str(tmp_path / "gray.png"), np.full((5, 4), 128, np.uint8))
    cv2.imwrite(str(tmp_path / "rgba.png"), np.full((5, 4, 4), 255, np.uint8))
    cv2.imwrite(str(tmp_path / "deep.png"), np.full((5, 4, 3), 65535, np.uint16))
    for name, value in [("gray.png", 128 / 255), ("rgba.png", 1.0), ("deep.png", 1.0)]:
        image = read_image(tmp_path / name)
        assert image.shape == (3, 5, 4)
        assert torch.allclose(image, torch.full_like(image, value))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"hello, not an image", "not a readable image"),
        (200, "truncated"),
        (-20, "truncated"),
    ],
)
def test_bad_files(tmp_path, content, message, capfd):
    path = tmp_path / "bad.png"
    if isinstance(content, int):  # a PNG cut after so many bytes (-20: its end lost, libpng prints)
        cv2.imwrite(str(path), np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
        content = path.read_bytes()[:content]
    path.write_bytes(content)
    level = cv2.utils.logging.getLogLevel()
    with pytest.raises(ImageReadError, match=message) as info:
        read_image(path)
    assert str(path) in str(info.value)
    err = capfd.readouterr().err  # the error names the file; OpenCV's and libpng's are not repeated
    assert "WARN" not in err and "libpng" not in err
    assert cv2.utils.logging.getLogLevel() == level  # the user's OpenCV logging is left as it was


def test_missing_file(tmp_path):
    with pytest.raises(ImageReadError, match="no such file"):
        read_image(tmp_path / "missing.png")


def _png_header_only(width, height):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 10))
        + chunk(b"IEND", b"")
    )


def test_too_large_to_decode_safely(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header_only(40000, 40000))
    with pytest.raises(ImageReadError, match="too large to decode safely"):
        read_image(path)


def test_resize_and_load(tmp_path):
    assert resize(torch.rand(2, 3, 256, 96), (128, 48)).shape == (2, 3, 128, 48)
    write_image(tmp_path / "a.png", torch.rand(3, 256, 96))
    write_image(tmp_path / "b.bmp", torch.rand(3, 128, 48))
    batch = load_images([tmp_path / "a.png", tmp_path / "b.bmp"])
    assert batch.shape == (2, 3, 128, 48) and batch.min() >= 0 and batch.max() <= 1


@pytest.mark.parametrize("shape", [(90, 40), (64, 24), (100, 60), (300, 120)])
def test_resize_does_not_depend_on_the_thread_count(shape):
    """A verdict must come out the same in ``deid verify`` run with other threads: the plain
    bilinear kernel's enlargements differed by a rounding between 1 and 2 threads."""
    images = torch.rand(2, 3, *shape, generator=torch.Generator().manual_seed(0))
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = resize(images, (128, 48))
        torch.set_num_threads(2)
        two = resize(images, (128, 48))
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(one, two)
    plain = torch.nn.functional.interpolate(images, size=(128, 48), mode="bilinear", align_corners=False)
    if shape[0] <= 128 and shape[1] <= 48:  # enlarging: bilinear interpolation, to a rounding
        assert torch.allclose(one, plain.clamp(0, 1), atol=2e-6)


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".jpg", "PNG"])
def test_read_back_is_what_the_written_file_decodes_to(suffix):
    from reid_model.io import as_written, read_back

    g = torch.Generator().manual_seed(0)
    image = torch.rand(3, 37, 23, generator=g)
    image[:, :4] = torch.arange(4 * 23 * 3).view(3, 4, 23) / (2 * 255.0)  # exact half levels: ties
    image[:, 4, :3] = torch.tensor([0.0, 1.0, 1 / 510])[:, None]
    back = read_back(image, suffix)
    assert back.dtype == torch.float32 and back.shape == image.shape
    assert torch.equal(back, as_written(image, suffix)[1])  # lossless: without encoding, the same bits
    with pytest.raises(ValueError, match=r"image must have shape \(3, H, W\), got \(37, 23\)"):
        read_back(image[0], suffix)


def test_read_image_hashed_hashes_the_bytes_it_decoded(tmp_path, monkeypatch):
    path = tmp_path / "a.png"
    cv2.imwrite(str(path), np.full((8, 4, 3), 9, np.uint8))
    first = path.read_bytes()
    decoded = io._decoded

    def replaced_meanwhile(data, name):  # another picture written over the file during the decode
        cv2.imwrite(str(path), np.full((8, 4, 3), 200, np.uint8))
        return decoded(data, name)

    monkeypatch.setattr(io, "_decoded", replaced_meanwhile)
    image, digest = io.read_image_hashed(path)
    assert path.read_bytes() != first
    # The hash and the pixels are of the one read: the picture as it was, not the new file.
    assert digest == hashlib.sha256(first).hexdigest() and image.shape == (3, 8, 4)
    assert torch.all(image == 9 / 255)


def test_reading_from_threads_leaves_opencvs_log_level_as_it_was(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "bad.png"
    cv2.imwrite(str(path), np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:200])
    level = cv2.utils.logging.getLogLevel()

    def read(_):
        with pytest.raises(ImageReadError):
            read_image(path)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(read, range(200)))
    assert cv2.utils.logging.getLogLevel() == level

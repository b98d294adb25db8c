"""Issue 9: EXIF orientation, GIF and float TIFF reading, on real crops written to tmp_path."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from reid_model.io import ImageReadError, is_image_file, read_image, write_image

CROP = Path(__file__).parents[2] / "examples" / "images" / "cam_a" / "001_45.bmp"


def test_exif_orientation_6_comes_out_upright_and_is_written_without_exif(tmp_path: Path) -> None:
    upright = Image.open(CROP).convert("RGB")
    # Orientation 6: the stored pixels are turned 90 degrees counter-clockwise; viewers turn them back.
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    phone = tmp_path / "phone.jpg"
    stored.save(phone, quality=95, exif=exif.tobytes())
    assert Image.open(phone).getexif()[0x0112] == 6
    plain = tmp_path / "plain.jpg"
    upright.save(plain, quality=95)

    image = read_image(phone)
    reference = read_image(plain)
    assert image.shape == reference.shape == (3, 128, 48)
    assert (image - reference).abs().mean() < 0.02  # JPEG differences only
    assert (image - reference.flip(-1)).abs().mean() > 0.05  # and not mirrored

    out = tmp_path / "out.jpg"
    write_image(out, image)
    with Image.open(out) as written:
        assert written.size == (48, 128)
        assert 0x0112 not in written.getexif()
        assert "exif" not in written.info


def test_gif_first_frame_is_read(tmp_path: Path) -> None:
    assert is_image_file("a.gif")
    crop = Image.open(CROP).convert("RGB")
    path = tmp_path / "a.gif"
    crop.save(path, save_all=True, append_images=[crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)])
    image = read_image(path)
    assert image.shape == (3, 128, 48)
    first = torch.from_numpy(np.array(Image.open(path).convert("RGB"))).permute(2, 0, 1) / 255.0
    assert torch.allclose(image, first, atol=1 / 255)


def test_float32_tiff_in_unit_range_is_read_as_is(tmp_path: Path) -> None:
    rgb = np.asarray(Image.open(CROP).convert("RGB")).astype(np.float32) / 255.0
    path = tmp_path / "a.tif"
    assert cv2.imwrite(str(path), np.ascontiguousarray(rgb[..., ::-1]))
    image = read_image(path)
    assert image.dtype == torch.float32
    assert torch.equal(image, torch.from_numpy(rgb).permute(2, 0, 1))


@pytest.mark.parametrize(("scale", "expected"), [(255.0, r"\[0, 255\]"), (float("nan"), "NaN")])
def test_float32_tiff_out_of_range_is_a_clear_error(tmp_path: Path, scale: float, expected: str) -> None:
    rgb = np.asarray(Image.open(CROP).convert("RGB")).astype(np.float32)
    rgb = rgb if scale == 255.0 else rgb * scale
    path = tmp_path / "a.tif"
    assert cv2.imwrite(str(path), rgb)
    with pytest.raises(ImageReadError, match=f"a.tif.*float32.*{expected}"):
        read_image(path)

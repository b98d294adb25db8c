"""Probe/gallery pairs for ``deid explain``: files, folders, globs and dataset persons."""

from __future__ import annotations

from pathlib import Path

import pytest

from deid.pairs import ImagePair, PairsError, expand_images, image_pairs, person_pairs
from reid_model import DatasetError, load_dataset


def test_expand_images(fake_viper):
    cam_a = fake_viper / "cam_a"
    (cam_a / "notes.txt").write_text("not an image")
    files = expand_images(str(cam_a))
    assert files == sorted(cam_a.glob("*.bmp")) and len(files) == 12
    assert expand_images(str(cam_a / "003_0.bmp")) == [cam_a / "003_0.bmp"]
    assert expand_images(str(fake_viper / "cam_*" / "00[12]_*.bmp")) == [
        cam_a / "001_0.bmp",
        cam_a / "002_0.bmp",
        fake_viper / "cam_b" / "001_90.bmp",
        fake_viper / "cam_b" / "002_90.bmp",
    ]
    with pytest.raises(PairsError, match="nope does not exist"):
        expand_images(str(fake_viper / "nope"))
    (fake_viper / "empty").mkdir()
    with pytest.raises(PairsError, match="holds no image files") as caught:
        expand_images(str(fake_viper / "empty"))
    assert caught.value.param == "paths"


def test_image_pairs_in_sorted_order_with_unique_names(fake_viper):
    a, b = fake_viper / "cam_a", fake_viper / "cam_b"
    pairs = image_pairs([str(a), str(b), str(a / "000_0.bmp"), str(b / "000_90.bmp")])
    assert len(pairs) == 13
    assert pairs[1] == ImagePair(a / "001_0.bmp", b / "001_90.bmp", "001_0__001_90")
    assert [p.name for p in pairs if p.probe.name == "000_0.bmp"] == ["000_0__000_90", "000_0__000_90_2"]
    assert len({p.name for p in pairs}) == len(pairs)


def test_image_pairs_bad_input(fake_viper):
    a = fake_viper / "cam_a"
    with pytest.raises(PairsError, match="an even number of paths"):
        image_pairs([str(a)])
    with pytest.raises(PairsError, match=r"gives 12 images and .* gives 1; a probe and its gallery"):
        image_pairs([str(a), str(a / "000_0.bmp")])


def test_person_pairs(fake_viper):
    samples = load_dataset(fake_viper)
    pairs = person_pairs(samples, [3, 1])
    assert [p.name for p in pairs] == ["person_1", "person_3"]
    assert (pairs[0].probe.parent.name, pairs[0].gallery.parent.name) == ("cam_a", "cam_b")
    with pytest.raises(PairsError, match=r"persons \[40\] are not in the fake set") as caught:
        person_pairs(samples, [1, 40], source="the fake set")
    assert caught.value.param == "persons"
    with pytest.raises(PairsError, match="at least one person"):
        person_pairs(samples, [])
    with pytest.raises(DatasetError, match="empty"):
        person_pairs([], [1])
    assert isinstance(pairs[0].probe, Path)

from pathlib import Path

import pytest

from reid_model import DatasetError, load_dataset, load_folder, load_market1501, load_viper
from tests.conftest import write_random_image


def test_viper_loader(fake_viper):
    samples = load_viper(fake_viper)
    assert len(samples) == 24
    assert {s.camera_id for s in samples} == {0, 1}
    assert sorted({s.person_id for s in samples}) == list(range(12))
    assert load_dataset(fake_viper) == samples


def test_viper_missing_folder(tmp_path):
    with pytest.raises(DatasetError, match=f"VIPeR folder {tmp_path / 'nope'} does not exist"):
        load_viper(tmp_path / "nope")


def test_viper_empty_camera_folder(tmp_path):
    (tmp_path / "cam_a").mkdir()
    (tmp_path / "cam_b").mkdir()
    with pytest.raises(DatasetError, match=r"cam_a has no images named like 000_45.bmp"):
        load_viper(tmp_path)


def test_market_loader_drops_junk(tmp_path):
    folder = tmp_path / "bounding_box_train"
    for name in [
        "0002_c1s1_000451_03.jpg",
        "0002_c3s1_000551_01.jpg",
        "0000_c1s1_000001_01.jpg",
        "-1_c2s1_000002_01.jpg",
        "0007_c6s1_000003_02.jpg",
    ]:
        write_random_image(folder / name, seed=len(name))
    samples = load_market1501(tmp_path)
    assert [(s.person_id, s.camera_id) for s in samples] == [(2, 0), (2, 2), (7, 5)]
    assert load_dataset(tmp_path)[0].person_id == 2


def test_folder_loader_both_layouts(tmp_path):
    write_random_image(tmp_path / "alice" / "cam1" / "a.png", seed=1)
    write_random_image(tmp_path / "alice" / "cam2" / "b.png", seed=2)
    write_random_image(tmp_path / "bob" / "x.png", seed=3)
    write_random_image(tmp_path / "bob" / "y.png", seed=4)
    (tmp_path / "bob" / "notes.txt").write_text("not an image")
    samples = load_folder(tmp_path)
    assert [(Path(s.path).name, s.person_id, s.camera_id) for s in samples] == [
        ("a.png", 0, 0),
        ("b.png", 0, 1),
        ("x.png", 1, 0),
        ("y.png", 1, 1),
    ]


def test_folder_loader_empty(tmp_path):
    with pytest.raises(
        DatasetError, match=r"has no images: expected VIPeR \(cam_a/ and cam_b/ holding NNN_AA.bmp\)"
    ):
        load_folder(tmp_path)


def test_unknown_kind(tmp_path):
    with pytest.raises(ValueError, match="kind must be one of"):
        load_dataset(tmp_path, kind="cuhk")

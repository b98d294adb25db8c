"""Datasets as lists of ``Sample(path, person_id, camera_id)``: VIPeR, Market-1501 and folders."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import NamedTuple

from reid_model.io import is_image_file


class Sample(NamedTuple):
    """One appearance of a person: the image file, who it is and which camera saw them."""

    path: str
    person_id: int
    camera_id: int


class DatasetError(ValueError):
    """A dataset folder is missing, empty or laid out unexpectedly."""


def _require_dir(root: Path, what: str) -> None:
    if not root.is_dir():
        raise DatasetError(f"{what} folder {root} does not exist or is not a folder")


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and is_image_file(p))


_VIPER_NAME = re.compile(r"^(\d+)_(\d+)\.bmp$", re.IGNORECASE)


def load_viper(root: str | os.PathLike[str]) -> list[Sample]:
    """Load VIPeR: ``cam_a/NNN_AA.bmp`` and ``cam_b/NNN_AA.bmp`` (camera 0 and 1).

    Example:
        >>> samples = load_viper("../shared/data/viper")  # doctest: +SKIP
        >>> len(samples), samples[0].camera_id
        (1264, 0)
    """
    root = Path(root)
    _require_dir(root, "VIPeR")
    samples = []
    for camera_id, name in enumerate(("cam_a", "cam_b")):
        folder = root / name
        _require_dir(folder, f"VIPeR camera {name!r}")
        files = [p for p in _image_files(folder) if _VIPER_NAME.match(p.name)]
        if not files:
            raise DatasetError(
                f"VIPeR camera folder {folder} has no images named like 000_45.bmp (NNN_AA.bmp)"
            )
        for path in files:
            match = _VIPER_NAME.match(path.name)
            assert match is not None  # filtered above
            samples.append(Sample(str(path), int(match.group(1)), camera_id))
    return samples


_MARKET_NAME = re.compile(r"^(-?\d+)_c(\d+)")


def load_market1501(root: str | os.PathLike[str], subset: str = "bounding_box_train") -> list[Sample]:
    """Load one Market-1501 subset (``bounding_box_train``, ``bounding_box_test`` or ``query``).

    File names look like ``0002_c1s1_000451_03.jpg``; person ids 0 and -1 (junk and
    distractors) are left out. Camera ids are made 0-based.
    """
    folder = Path(root) / subset
    _require_dir(folder, f"Market-1501 {subset!r}")
    samples = []
    for path in _image_files(folder):
        match = _MARKET_NAME.match(path.name)
        if match is None:
            continue
        pid, cam = int(match.group(1)), int(match.group(2))
        if pid <= 0:
            continue
        samples.append(Sample(str(path), pid, cam - 1))
    if not samples:
        raise DatasetError(f"Market-1501 folder {folder} has no images named like 0002_c1s1_000451_03.jpg")
    return samples


def load_folder(root: str | os.PathLike[str]) -> list[Sample]:
    """Load a generic layout: ``person/camera/*.png`` or ``person/*.png`` (camera = file index).

    Person folders are numbered in sorted order; integer folder names keep their value.
    """
    root = Path(root)
    _require_dir(root, "dataset")
    person_dirs = sorted(p for p in root.iterdir() if p.is_dir())
    samples: list[Sample] = []
    for index, person_dir in enumerate(person_dirs):
        pid = int(person_dir.name) if person_dir.name.isdigit() else index
        camera_dirs = sorted(p for p in person_dir.iterdir() if p.is_dir())
        if camera_dirs:
            for cam_index, cam_dir in enumerate(camera_dirs):
                cam = int(cam_dir.name) if cam_dir.name.isdigit() else cam_index
                samples.extend(Sample(str(p), pid, cam) for p in _image_files(cam_dir))
        else:
            samples.extend(Sample(str(p), pid, i) for i, p in enumerate(_image_files(person_dir)))
    if not samples:
        raise DatasetError(f"dataset folder {root} has no images in person/camera/*.png or person/*.png")
    return samples


def load_dataset(root: str | os.PathLike[str], *, kind: str = "auto") -> list[Sample]:
    """Load a dataset by kind (``viper``, ``market1501``, ``folder``), or guess it from the layout."""
    root = Path(root)
    if kind == "auto":
        _require_dir(root, "dataset")
        if (root / "cam_a").is_dir():
            kind = "viper"
        elif (root / "bounding_box_train").is_dir():
            kind = "market1501"
        else:
            kind = "folder"
    loaders = {"viper": load_viper, "market1501": load_market1501, "folder": load_folder}
    if kind not in loaders:
        raise ValueError(f"kind must be one of {sorted(loaders)} or 'auto', got {kind!r}")
    return loaders[kind](root)

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


#: The dataset layouts the loaders read (``kind`` of :func:`load_dataset`).
DATASET_KINDS = ("viper", "market1501", "folder")

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


def load_market1501(
    root: str | os.PathLike[str], subset: str = "bounding_box_train", *, distractors: bool = False
) -> list[Sample]:
    """Load one Market-1501 subset (``bounding_box_train``, ``bounding_box_test`` or ``query``).

    File names look like ``0002_c1s1_000451_03.jpg``; camera ids are made 0-based. Junk
    images (person -1) are always left out.

    Args:
        root: the Market-1501 folder.
        subset: the subfolder to read.
        distractors: keep the distractors (person 0, ``0000_*.jpg``), people who are nobody's
            match: the standard gallery (``bounding_box_test``) has them. Left out by default.

    Raises:
        DatasetError: the subfolder is missing or has no image named like a Market-1501 one.

    Example:
        >>> gallery = load_market1501("Market-1501", "bounding_box_test", distractors=True)  # doctest: +SKIP
        >>> len(gallery)
        15913
    """
    folder = Path(root) / subset
    _require_dir(folder, f"Market-1501 {subset!r}")
    samples = []
    lowest = 0 if distractors else 1
    for path in _image_files(folder):
        match = _MARKET_NAME.match(path.name)
        if match is None:
            continue
        pid, cam = int(match.group(1)), int(match.group(2))
        if pid < lowest:
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
        raise DatasetError(
            f"dataset folder {root} has no images: expected VIPeR (cam_a/ and cam_b/ holding "
            "NNN_AA.bmp), Market-1501 (bounding_box_train/, query/, bounding_box_test/) or a tree "
            "of person/camera/IMAGE or person/IMAGE files (.bmp, .png, .jpg, ...)"
        )
    return samples


def dataset_kind(root: str | os.PathLike[str], kind: str = "auto") -> str:
    """The layout of a dataset folder: ``kind``, or for ``"auto"`` the one guessed from its subfolders.

    ``cam_a/`` means VIPeR; ``bounding_box_train/``, or ``query/`` with ``bounding_box_test/``,
    means Market-1501; anything else is a ``person/camera`` folder tree.

    Raises:
        ValueError: ``kind`` is not ``viper``, ``market1501``, ``folder`` or ``auto``.
        DatasetError: ``kind`` is ``auto`` and ``root`` is not a folder.

    Example:
        >>> dataset_kind("../shared/data/viper")  # doctest: +SKIP
        'viper'
    """
    if kind not in (*DATASET_KINDS, "auto"):
        raise ValueError(f"kind must be one of {list(DATASET_KINDS)} or 'auto', got {kind!r}")
    if kind != "auto":
        return kind
    root = Path(root)
    _require_dir(root, "dataset")
    if (root / "cam_a").is_dir():
        return "viper"
    market_test = (root / "query").is_dir() and (root / "bounding_box_test").is_dir()
    if (root / "bounding_box_train").is_dir() or market_test:
        return "market1501"
    return "folder"


def load_dataset(root: str | os.PathLike[str], *, kind: str = "auto") -> list[Sample]:
    """Load a dataset by kind (``viper``, ``market1501``, ``folder``), or guess it from the layout.

    Market-1501 gives its training persons (``bounding_box_train``); its test persons are
    evaluated with their own protocol (:func:`reid_model.evaluate_market1501`).
    """
    loaders = {"viper": load_viper, "market1501": load_market1501, "folder": load_folder}
    return loaders[dataset_kind(root, kind)](root)

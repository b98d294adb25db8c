"""Fixtures for the deid batch and CLI tests: a stand-in conceal function and hashed input trees."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from deid.batch import CropResult


class StandIn:
    """A trivial ``conceal_group``: paints each crop grey and remembers which groups it saw."""

    def __init__(self) -> None:
        self.calls: list[list[Path]] = []

    def __call__(self, images: list[torch.Tensor], paths: list[Path]) -> list[CropResult]:
        self.calls.append(list(paths))
        return [
            CropResult.of(
                image=torch.full_like(image, 0.5),
                steps=1,
                area=1.0,
                fallback=False,
                success=True,
                scores_before={"match_rate": 1.0, "rank": 1.0},
                scores_after={"match_rate": 0.0, "rank": 50.0},
            )
            for image in images
        ]

    @property
    def images_seen(self) -> int:
        return sum(len(c) for c in self.calls)


class Interrupted(StandIn):
    """A :class:`StandIn` interrupted (Ctrl-C) when called after ``calls`` calls."""

    def __init__(self, calls: int) -> None:
        super().__init__()
        self.after = calls

    def __call__(self, images: list[torch.Tensor], paths: list[Path]) -> list[CropResult]:
        if len(self.calls) == self.after:
            raise KeyboardInterrupt
        return super().__call__(images, paths)


@pytest.fixture
def stand_in() -> StandIn:
    return StandIn()


def write_crop(path: Path, *, seed: int, size: tuple[int, int] = (128, 48)) -> Path:
    """A random 8-bit BGR crop of ``size`` (height, width)."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), rng.integers(0, 256, (*size, 3), dtype=np.uint8))
    return path


def tree_hashes(root: Path) -> dict[str, str]:
    """SHA-256 of every file under ``root`` (symlinks not followed), by relative path."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            out[path.relative_to(root).as_posix()] = "link:" + str(path.readlink())
        elif path.is_file():
            out[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@pytest.fixture
def crop_tree(tmp_path: Path) -> Path:
    """``in/cam_a``, ``in/cam_b``: VIPeR-named crops of 3 persons; and ``in/extra/sub/x.png``."""
    root = tmp_path / "in"
    for pid in range(3):
        write_crop(root / "cam_a" / f"{pid:03d}_45.bmp", seed=2 * pid)
        write_crop(root / "cam_b" / f"{pid:03d}_90.bmp", seed=2 * pid + 1)
    write_crop(root / "extra" / "sub" / "x.png", seed=99, size=(160, 64))
    return root

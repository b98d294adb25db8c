"""Shared fixtures: the real VIPeR location, tiny fake datasets and a tiny embedder."""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from deid.boxes import Box
from reid_model import Embedder, StripeEmbedder, save_checkpoint

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
VIPER = DATA / "viper"
VIPER_ATTRIBUTES = DATA / "viper_attributes.csv"
PENNFUDAN = DATA / "pennfudan"
PETS_VIDEO = DATA / "video" / "pets09_s2l1.avi"

torch.set_num_threads(min(2, torch.get_num_threads()))

_PENNFUDAN_BOX = re.compile(r"\((\d+), (\d+)\) - \((\d+), (\d+)\)")


def pennfudan_boxes(root: Path, stem: str) -> list[Box]:
    """The labelled people's boxes of Penn-Fudan frame ``stem`` (0-based ``x, y, w, h``), from its
    annotation file."""
    text = (root / "Annotation" / f"{stem}.txt").read_text(encoding="latin-1")
    return [
        Box(a - 1, b - 1, c - a + 1, d - b + 1)
        for a, b, c, d in (map(int, m) for m in _PENNFUDAN_BOX.findall(text))
    ]


def require_data(path: Path, what: str, expected: str) -> Path:
    """``path`` if it exists; otherwise skip the test, or fail it under CI (``CI=true``).

    CI runs with ``../shared`` beside the repository, so a missing data set there is a broken
    set-up, not a reason to pass: every real-data test would be skipped and the run still green.
    """
    if path.exists():
        return path
    message = f"real {what} not found at {path} (expected {expected} beside the repo)"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"{message}; CI must run with the data present", pytrace=False)
    pytest.skip(message)


@pytest.fixture
def viper_root() -> Path:
    """The real VIPeR folder; skipped with a message when absent (a failure under CI)."""
    require_data(VIPER / "cam_a", "VIPeR data", "../shared/data/viper")
    return VIPER


@pytest.fixture
def viper_attributes() -> Path:
    """The real PETA labels for VIPeR; skipped when absent (fails under CI)."""
    return require_data(VIPER_ATTRIBUTES, "VIPeR attribute labels", "../shared/data/viper_attributes.csv")


@pytest.fixture
def pennfudan_root() -> Path:
    """The real Penn-Fudan folder (frames, masks, annotations); skipped when absent (fails under CI)."""
    require_data(PENNFUDAN / "PNGImages", "Penn-Fudan data", "../shared/data/pennfudan")
    return PENNFUDAN


@pytest.fixture
def pets_video() -> Path:
    """The real PETS 2009 S2.L1 clip; skipped when absent (fails under CI)."""
    return require_data(PETS_VIDEO, "PETS 2009 video", "../shared/data/video/pets09_s2l1.avi")


def write_random_image(
    path: Path, *, seed: int, size: tuple[int, int] = (128, 48), colour: int | None = None
) -> Path:
    """Write a random uint8 BGR image of ``size`` (height, width); ``colour`` biases it per person."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
    if colour is not None:
        image[..., colour % 3] = np.clip(image[..., colour % 3].astype(int) + 120, 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), image)
    return path


@pytest.fixture
def fake_viper(tmp_path: Path) -> Path:
    """A VIPeR-shaped tree with 12 persons x 2 cameras of random 48x128 images."""
    root = tmp_path / "viper"
    for pid in range(12):
        write_random_image(root / "cam_a" / f"{pid:03d}_0.bmp", seed=2 * pid, colour=pid)
        write_random_image(root / "cam_b" / f"{pid:03d}_90.bmp", seed=2 * pid + 1, colour=pid)
    return root


class TinyEmbedder(Embedder):
    """Two convolutions and a linear layer: fast enough for any test."""

    arch = "tiny"
    embedding_dim = 8

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(3, 8, 5, stride=4, padding=2),
            nn.ReLU(),
            nn.Conv2d(8, 8, 3, stride=2, padding=1),
            nn.ReLU(),
        )
        self.fc = nn.Linear(8, self.embedding_dim)

    def forward_features(self, images: torch.Tensor) -> torch.Tensor:
        return self.conv(self.normalize(images))

    def embed_features(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc(features.mean(dim=(2, 3)))


@pytest.fixture
def tiny_embedder() -> TinyEmbedder:
    torch.manual_seed(0)
    return TinyEmbedder().eval()


#: Attributes of the fake dataset's 12 persons (ids 0..11), chosen to split them evenly.
FAKE_ATTRIBUTES = {
    "upperBodyRed": lambda pid: pid % 2,
    "hairLong": lambda pid: int(pid % 3 == 0),
    "personalMale": lambda pid: int(pid < 6),
    "footwearWhite": lambda pid: int(pid in (1, 4, 7, 10, 11)),
}


@pytest.fixture
def attributes_csv(tmp_path: Path) -> Path:
    """A PETA-style attribute CSV for the ``fake_viper`` persons."""
    path = tmp_path / "attributes.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["person_id", "official_id", "cam_a_file", "cam_b_file", *FAKE_ATTRIBUTES])
        for pid in range(12):
            writer.writerow(
                [
                    pid,
                    pid,
                    f"{pid:03d}_0.bmp",
                    f"{pid:03d}_90.bmp",
                    *(f(pid) for f in FAKE_ATTRIBUTES.values()),
                ]
            )
    return path


@pytest.fixture
def tiny_checkpoint(tmp_path: Path) -> Path:
    """A small stripe embedder saved as a checkpoint whose split tests persons 0..11."""
    torch.manual_seed(0)
    model = StripeEmbedder(widths=(8, 16), stripes=2, embedding_dim=8).eval()
    split = {"name": "seed", "seed": 0, "train": [], "val": [], "test": list(range(12)), "trial": 0}
    return save_checkpoint(tmp_path / "tiny.safetensors", model, {"split": split})

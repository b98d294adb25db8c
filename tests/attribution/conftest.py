"""Fixtures for the attribution tests: seeded images, a fake attribute CSV, a tiny checkpoint."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from attribution import DistanceScore
from reid_model import StripeEmbedder, embed, save_checkpoint

#: Attributes of the fake dataset's 12 persons (ids 0..11), chosen to split them evenly.
FAKE_ATTRIBUTES = {
    "upperBodyRed": lambda pid: pid % 2,
    "hairLong": lambda pid: int(pid % 3 == 0),
    "personalMale": lambda pid: int(pid < 6),
    "footwearWhite": lambda pid: int(pid in (1, 4, 7, 10, 11)),
}


@pytest.fixture
def images() -> torch.Tensor:
    """Four seeded random crops ``(4, 3, 128, 48)``."""
    return torch.rand(4, 3, 128, 48, generator=torch.Generator().manual_seed(1))


@pytest.fixture
def gallery() -> torch.Tensor:
    """Four other seeded random crops, the references of :func:`images`."""
    return torch.rand(4, 3, 128, 48, generator=torch.Generator().manual_seed(2))


@pytest.fixture
def score(tiny_embedder, gallery) -> DistanceScore:
    return DistanceScore(tiny_embedder, embed(tiny_embedder, gallery))


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

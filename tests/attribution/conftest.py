"""Fixtures for the attribution tests: seeded images and a distance score over them."""

from __future__ import annotations

import pytest
import torch

from attribution import DistanceScore
from reid_model import embed


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

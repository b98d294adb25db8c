"""A tiny Market-1501 tree: query/ and bounding_box_test/ named like the real files."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import write_random_image

#: (person, camera) of each query image; person 9's gallery images are all from its camera.
MARKET_QUERY = [(2, 1), (2, 2), (5, 3), (7, 1), (9, 4)]
#: (person, camera) of each gallery image: 0 are distractors (nobody's match), -1 junk.
MARKET_GALLERY = [
    *[(2, 1), (2, 1), (2, 3), (2, 5)],
    *[(5, 3), (5, 1), (5, 6)],
    *[(7, 2), (7, 2), (7, 1)],
    *[(9, 4), (9, 4)],
    (11, 2),
    *[(0, 1), (0, 1), (0, 5)],
    *[(-1, 3), (-1, 3)],
]


def market_name(person: int, camera: int, frame: int) -> str:
    """A Market-1501 file name: ``0002_c1s1_000451_01.jpg``, ``-1_c3s1_000002_01.jpg`` for junk."""
    prefix = "-1" if person == -1 else f"{person:04d}"
    return f"{prefix}_c{camera}s1_{frame:06d}_01.jpg"


def write_market(
    root: Path,
    query: list[tuple[int, int]] = MARKET_QUERY,
    gallery: list[tuple[int, int]] = MARKET_GALLERY,
) -> Path:
    """Write ``query/`` and ``bounding_box_test/`` with one tiny random image per entry."""
    frame = 0
    for subset, entries in (("query", query), ("bounding_box_test", gallery)):
        for person, camera in entries:
            frame += 1
            name = market_name(person, camera, frame)
            write_random_image(root / subset / name, seed=frame, size=(16, 8), colour=abs(person))
    return root


@pytest.fixture
def fake_market(tmp_path: Path) -> Path:
    """A Market-1501 test tree (no bounding_box_train) of :data:`MARKET_QUERY` and :data:`MARKET_GALLERY`."""
    return write_market(tmp_path / "market")

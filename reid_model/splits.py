"""Person-disjoint splits: the seed's 404/101/127 and VIPeR's 316/316 protocol, seeded and saved."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from reid_model.data import Sample


@dataclass(frozen=True)
class Split:
    """Person ids for training, validation and testing; the three are disjoint."""

    name: str
    seed: int
    train: tuple[int, ...]
    val: tuple[int, ...] = ()
    test: tuple[int, ...] = ()
    trial: int = 0
    extra: dict[str, object] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Split:
        """Rebuild a split from its JSON form (``split.json``, checkpoint metadata)."""
        return cls(
            name=data["name"],
            seed=data["seed"],
            train=tuple(data["train"]),
            val=tuple(data.get("val", ())),
            test=tuple(data.get("test", ())),
            trial=data.get("trial", 0),
            extra=data.get("extra", {}),
        )

    @property
    def persons(self) -> frozenset[int]:
        """Every person id the split divides: train, val and test together."""
        return frozenset(self.train) | frozenset(self.val) | frozenset(self.test)

    def __post_init__(self) -> None:
        sets = [set(self.train), set(self.val), set(self.test)]
        if sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2]:
            raise ValueError(f"split {self.name!r}: train, val and test person ids must be disjoint")


def person_ids(samples: Iterable[Sample]) -> list[int]:
    """The sorted distinct person ids of a dataset."""
    return sorted({s.person_id for s in samples})


def _shuffled(ids: Sequence[int], seed: int) -> list[int]:
    ids = sorted(ids)
    random.Random(seed).shuffle(ids)
    return ids


def seed_split(ids: Sequence[int], *, seed: int = 0, sizes: tuple[int, int, int] = (404, 101, 127)) -> Split:
    """The seed's split of VIPeR persons: 404 train, 101 validation, 127 test.

    Example:
        >>> split = seed_split(range(632))
        >>> len(split.train), len(split.val), len(split.test)
        (404, 101, 127)
    """
    if sum(sizes) != len(set(ids)):
        raise ValueError(f"sizes {sizes} must add up to the number of persons, got {len(set(ids))} persons")
    order = _shuffled(list(set(ids)), seed)
    a, b = sizes[0], sizes[0] + sizes[1]
    return Split("seed", seed, tuple(sorted(order[:a])), tuple(sorted(order[a:b])), tuple(sorted(order[b:])))


def viper_protocol_splits(ids: Sequence[int], *, trials: int = 10, seed: int = 0) -> list[Split]:
    """VIPeR's standard protocol: half the persons train, half test, ``trials`` random draws.

    Example:
        >>> splits = viper_protocol_splits(range(632), trials=2)
        >>> len(splits[0].train), len(splits[0].test)
        (316, 316)
    """
    unique = sorted(set(ids))
    half = len(unique) // 2
    splits = []
    for trial in range(trials):
        order = _shuffled(unique, seed * 1000 + trial)
        splits.append(
            Split("viper316", seed, tuple(sorted(order[:half])), (), tuple(sorted(order[half:])), trial)
        )
    return splits


def split_matches(split: Split, samples: Iterable[Sample]) -> bool:
    """Whether ``split`` divides exactly the persons of ``samples``, as a split made for them does.

    A split of one dataset's persons says nothing about another's, even where the person
    numbers coincide (VIPeR's 0..631 and Market-1501's 1..1501).

    Example:
        >>> samples = [Sample("a.png", 0, 0), Sample("b.png", 1, 0)]
        >>> split_matches(Split("seed", 0, (0,), (), (1,)), samples)
        True
        >>> split_matches(Split("seed", 0, (0,), (), (2,)), samples)
        False
    """
    return split.persons == set(person_ids(samples))


def select(samples: Iterable[Sample], ids: Iterable[int]) -> list[Sample]:
    """The samples whose person id is in ``ids``."""
    wanted = set(ids)
    return [s for s in samples if s.person_id in wanted]


def save_splits(path: str | os.PathLike[str], splits: Sequence[Split]) -> None:
    """Save splits as JSON so a result can be reproduced."""
    from reid_model.io import write_bytes_atomic

    payload = [asdict(s) for s in splits]
    write_bytes_atomic(path, json.dumps(payload, indent=1).encode())


def load_splits(path: str | os.PathLike[str]) -> list[Split]:
    """Load splits written by :func:`save_splits`."""
    payload = json.loads(Path(path).read_text())
    return [Split.from_dict(d) for d in payload]

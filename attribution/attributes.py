"""Soft-biometric labels per person (PETA style CSV) and the body region each attribute lives in."""

from __future__ import annotations

import csv
import difflib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Columns of the CSV that are not attributes.
ID_COLUMNS = ("person_id", "official_id", "cam_a_file", "cam_b_file")

#: Attribute name prefix -> the body region that shows it (PETA naming). ``personal*``
#: attributes (age, gender) have no single region.
REGION_OF_PREFIX: dict[str, str] = {
    "hair": "head",
    "accessory": "head",
    "upperBody": "upper_body",
    "carrying": "upper_body",
    "lowerBody": "lower_body",
    "footwear": "feet",
}


def attribute_region(name: str) -> str | None:
    """The body region of an attribute by its PETA prefix, or None (e.g. ``personalMale``).

    Example:
        >>> attribute_region("carryingBackpack"), attribute_region("personalMale")
        ('upper_body', None)
    """
    for prefix, region in REGION_OF_PREFIX.items():
        if name.startswith(prefix):
            return region
    return None


@dataclass(frozen=True)
class AttributeTable:
    """Binary attributes per person.

    Attributes:
        person_ids: ``(N,)`` person ids.
        names: the ``A`` attribute names, in file order.
        values: ``(N, A)`` 0/1 labels (uint8).
    """

    person_ids: np.ndarray
    names: tuple[str, ...]
    values: np.ndarray

    def check_names(self, names: Iterable[str]) -> list[str]:
        """Return ``names`` as a list; raise for a name that is not a column, naming it."""
        names = list(names)
        for name in names:
            if name not in self.names:
                close = difflib.get_close_matches(name, self.names, n=3)
                hint = f"; did you mean {close}?" if close else ""
                raise ValueError(
                    f"unknown attribute column {name!r}: expected one of the "
                    f"{len(self.names)} attribute columns (e.g. {list(self.names[:3])}){hint}"
                )
        return names

    def select(self, names: Sequence[str]) -> AttributeTable:
        """The table restricted to ``names`` (unknown names raise)."""
        names = self.check_names(names)
        index = [self.names.index(n) for n in names]
        return AttributeTable(self.person_ids, tuple(names), self.values[:, index])

    def for_persons(self, ids: Iterable[int]) -> np.ndarray:
        """Labels ``(len(ids), A)`` of the given persons, in their order; unknown ids raise."""
        row = {int(p): i for i, p in enumerate(self.person_ids)}
        ids = [int(i) for i in ids]
        missing = [i for i in ids if i not in row]
        if missing:
            raise ValueError(
                f"persons {missing[:5]}{'...' if len(missing) > 5 else ''} have no attribute row "
                f"({len(missing)} of {len(ids)} missing)"
            )
        return self.values[[row[i] for i in ids]]


def load_attributes(path: str | os.PathLike[str], *, columns: Sequence[str] | None = None) -> AttributeTable:
    """Read a CSV with a ``person_id`` column and 0/1 attribute columns (``viper_attributes.csv``).

    Args:
        path: the CSV file.
        columns: attribute columns to keep (all when omitted); an unknown one is an error.

    Example:
        >>> table = load_attributes("../shared/data/viper_attributes.csv")  # doctest: +SKIP
        >>> table.values.shape
        (632, 105)
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"attribute file {path} does not exist")
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        header = list(reader.fieldnames or [])
        rows = list(reader)
    if "person_id" not in header:
        raise ValueError(f"attribute file {path} must have a 'person_id' column, got columns {header[:6]}")
    if not rows:
        raise ValueError(f"attribute file {path} has a header but no person rows")
    names = tuple(c for c in header if c not in ID_COLUMNS)
    values = np.zeros((len(rows), len(names)), dtype=np.uint8)
    for i, row in enumerate(rows):
        for j, name in enumerate(names):
            cell = (row.get(name) or "").strip()
            if cell not in ("0", "1"):
                raise ValueError(
                    f"attribute file {path}, row {i + 2}, column {name!r}: expected 0 or 1, got {cell!r}"
                )
            values[i, j] = cell == "1"
    table = AttributeTable(np.array([int(r["person_id"]) for r in rows]), names, values)
    return table.select(columns) if columns is not None else table

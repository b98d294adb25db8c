"""The batch report: one record per input, kept as JSON and CSV, safe against a killed run.

Each record is appended to a journal (``<report>.jsonl``, flushed to disk) the moment it is
made; the JSON and CSV are rewritten atomically (temporary file, then rename) at most every
``interval`` seconds and at the end. A resumed run reads the JSON and then the journal, so a
run killed at any point loses no finished record.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
import warnings
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch

from reid_model.io import write_bytes_atomic

FORMAT = "deid-conceal-report"
VERSION = 1
STATUSES = ("ok", "failed", "skipped", "no_person")


@dataclass
class Record:
    """What happened to one input file (the README documents each field)."""

    input: str
    status: str
    output: str | None = None
    error: str | None = None
    relative: str | None = None
    group: str | None = None
    kind: str | None = None  # "crop" or "frame"
    persons: int | None = None
    steps: int | None = None
    area: float | None = None
    fallback: bool | None = None
    success: bool | None = None
    scores_before: Any = None
    scores_after: Any = None
    outfit: Any = None
    note: str | None = None
    #: Why a crop was or was not concealed together with the rest of its group.
    group_reason: str | None = None
    seconds: float | None = None
    sha256: str | None = None  # of the output file's bytes, as written


FIELDS = tuple(f.name for f in fields(Record))


def plain(value: Any) -> Any:
    """Turn tensors, numpy values, paths and tuples into JSON values (non-finite floats: None)."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().tolist()
    elif hasattr(value, "tolist") and not isinstance(value, str):
        value = value.tolist()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def _record_from(data: dict[str, Any]) -> Record | None:
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("input"), str)
        or data.get("status") not in STATUSES
    ):
        return None
    return Record(**{k: data.get(k) for k in FIELDS})  # type: ignore[arg-type]


class Report:
    """Records by input path, persisted as ``<base>.json``, ``<base>.csv`` and ``<base>.jsonl``.

    Args:
        path: the report's path; its suffix is replaced by .json, .csv and .jsonl.
        settings: the run's settings, stored in the JSON.
        resume: read the records of an earlier run at ``path`` instead of starting afresh.
        interval: the least number of seconds between two rewrites of the JSON and CSV.
    """

    def __init__(
        self, path: Path, *, settings: dict[str, Any], resume: bool = False, interval: float = 2.0
    ) -> None:
        base = path.with_suffix("") if path.suffix.lower() in (".json", ".csv") else path
        self.json_path = base.with_name(base.name + ".json")
        self.csv_path = base.with_name(base.name + ".csv")
        self.journal_path = base.with_name(base.name + ".jsonl")
        self.settings = plain(settings)
        self.interval = interval
        self.records: dict[str, Record] = {}
        #: The earlier run's records and settings when resuming (empty and None otherwise).
        self.previous_settings: dict[str, Any] | None = None
        self.previous: dict[str, Record] = self._load() if resume else {}
        self._last_flush = 0.0
        self.journal_path.parent.mkdir(parents=True, exist_ok=True)
        if resume:
            _cut_torn_line(self.journal_path)
        self._journal = open(self.journal_path, "a" if resume else "w", encoding="utf-8")  # noqa: SIM115
        self.flush()

    def _load(self) -> dict[str, Record]:
        records: dict[str, Record] = {}
        try:
            data = json.loads(self.json_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = None
        if isinstance(data, dict) and data.get("format") == FORMAT:
            self.previous_settings = data.get("settings")
            for item in data.get("records", []):
                record = _record_from(item)
                if record is not None:
                    records[record.input] = record
        try:
            lines = self.journal_path.read_text(encoding="utf-8").splitlines()
        except OSError:
            lines = []
        for line in lines:  # the last line may be cut short by a kill: skip what does not parse
            try:
                record = _record_from(json.loads(line))
            except ValueError:
                continue
            if record is not None:
                records[record.input] = record
        return records

    def add(self, record: Record) -> None:
        """Store ``record`` (replacing any earlier one for the same input) and journal it."""
        record.scores_before = plain(record.scores_before)
        record.scores_after = plain(record.scores_after)
        self.records[record.input] = record
        self._journal.write(json.dumps(plain(asdict(record))) + "\n")
        self._journal.flush()
        os.fsync(self._journal.fileno())
        if time.monotonic() - self._last_flush >= self.interval:
            self.flush()

    def counts(self) -> dict[str, int]:
        """How many records have each status."""
        out = dict.fromkeys(STATUSES, 0)
        for record in self.records.values():
            out[record.status] += 1
        return out

    def flush(self) -> None:
        """Rewrite the JSON and CSV atomically with every record so far."""
        records = [plain(asdict(r)) for r in self.records.values()]
        document = {
            "format": FORMAT,
            "version": VERSION,
            "settings": self.settings,
            "counts": self.counts(),
            "records": records,
        }
        write_bytes_atomic(self.json_path, (json.dumps(document, indent=1) + "\n").encode())
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        for row in records:
            writer.writerow({k: _csv_cell(row[k]) for k in FIELDS})
        # a name that is not valid UTF-8 holds lone surrogates (os.fsdecode): escape them
        write_bytes_atomic(self.csv_path, buffer.getvalue().encode("utf-8", "backslashreplace"))
        self._last_flush = time.monotonic()

    def close(self) -> None:
        """Write the final JSON and CSV and close the journal."""
        try:
            self.flush()
        finally:
            self._journal.close()


def _cut_torn_line(path: Path) -> None:
    """Drop a last journal line cut short by a kill, so the next record starts on its own line."""
    try:
        data = path.read_bytes()
    except OSError:
        return
    if not data or data.endswith(b"\n"):
        return
    keep = data.rfind(b"\n") + 1
    warnings.warn(
        f"report journal {path}: dropped a last line cut short ({len(data) - keep} bytes)", stacklevel=3
    )
    with open(path, "r+b") as handle:
        handle.truncate(keep)


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return value

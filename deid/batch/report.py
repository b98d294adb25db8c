"""The batch report: one record per input, kept as JSON and CSV, safe against a killed run.

Each record is appended to a journal (``<report>.jsonl``) the moment it is made, as one
``write`` of a whole line, synced to disk; a line that could not be written whole (disk full)
is cut off again, so the journal stays valid JSONL. The JSON and CSV are rewritten atomically
(both written to temporary files and synced, then renamed over the old ones) at most every
``interval`` seconds and at the end. A resumed run reads the JSON and then the journal, so a
run killed at any point loses no finished record. When the report cannot be written, a
:class:`ReportError` stops the run and the last complete report stays on disk.

Kept in one module over 300 lines: the record, the journal and the atomic rewrite are one
durability contract (what a kill or a full disk leaves on disk), best read and changed together.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import math
import os
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Protocol

import torch

from deid.batch.inputs import BatchError
from deid.environment import environment

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
    #: Of the input file's bytes as the run read them: ``--resume`` redoes an input changed since,
    #: ``deid verify`` cannot check against it.
    input_sha256: str | None = None
    #: A frame's people as ``[x, y, w, h]`` in its pixels, in the order of the per-person lists.
    boxes: list[list[int]] | None = None
    #: Per person of a frame the finder searched: ``score``, ``uncertain``, ``found_by`` (``finder``,
    #: ``face`` or ``second look``: :attr:`deid.finder.Person.how`), 33 ``keypoints``.
    people: list[dict[str, Any]] | None = None
    #: Unsure people left unchanged by ``--uncertain flag``, ``[x, y, w, h]``: the frame is not private.
    flagged: list[list[int]] | None = None
    #: Faces the face net still found in the frame with its people concealed, ``[x, y, w, h,
    #: score]``: each concealed as ``--head`` says before writing; the frame is not private.
    faces: list[list[float]] | None = None
    #: People the second look found whom the treatments left untreated (inside another person's
    #: box, in that person's shape), ``[x, y, w, h]``: concealed as faces are; the frame is not private.
    untreated: list[list[int]] | None = None
    #: What the loop did (a frame: per person): the mask's ``shape`` and ``margin``, ``area_crop``
    #: (``area`` is of the person's pixels), the ``head`` treatment, and why the loop ``stopped``.
    treatment: Any = None


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


class RecordSink(Protocol):
    """Where the runner puts records: the :class:`Report`, or a batch engine's worker's list.

    ``previous`` holds an earlier run's records by input path (empty when not resuming)."""

    previous: dict[str, Record]

    def add(self, record: Record) -> None: ...


def saved_report(path: Path) -> dict[str, Any] | None:
    """The JSON of the conceal report at ``path``, or None when there is none (no file, not
    JSON, not a conceal report)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == FORMAT else None


class ReportError(BatchError):
    """The report (JSON, CSV or journal) cannot be written; the run stops, the last report is kept.

    Attributes:
        path: the file (or folder) that could not be written.
        reason: what the operating system said.
    """

    def __init__(self, path: Path, exc: OSError, *, during_run: bool = False) -> None:
        self.path = path
        self.reason = f"{exc.strerror or exc} ({type(exc).__name__})"
        message = f"cannot write the report at {path}: {self.reason}"
        if during_run:
            message += (
                "; the run stopped and the report on disk holds the records made before; "
                "rerun with --resume once the report can be written"
            )
        super().__init__(message, param="report")


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
        expected: how many records the run will make (one per input found), stored in the JSON.

    Attributes:
        finished: whether the run went through every input; the JSON says ``"finished": false``
            until the run sets it and closes the report, so a run stopped part way (killed,
            interrupted, a failed write) leaves a report that says so.
    """

    def __init__(
        self,
        path: Path,
        *,
        settings: dict[str, Any],
        resume: bool = False,
        interval: float = 2.0,
        expected: int | None = None,
    ) -> None:
        base = path.with_suffix("") if path.suffix.lower() in (".json", ".csv") else path
        self.json_path = base.with_name(base.name + ".json")
        self.csv_path = base.with_name(base.name + ".csv")
        self.journal_path = base.with_name(base.name + ".jsonl")
        self.settings = plain(settings)
        self.interval = interval
        self.expected = expected
        self.finished = False
        self.records: dict[str, Record] = {}
        #: The earlier run's records when resuming (empty otherwise).
        self.previous: dict[str, Record] = self._load() if resume else {}
        self._last_flush = 0.0
        self._broken = False  # a write failed: the files on disk are the last complete report
        try:
            self.journal_path.parent.mkdir(parents=True, exist_ok=True)
            if resume:
                _cut_torn_line(self.journal_path)
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | (0 if resume else os.O_TRUNC)
            self._journal = os.open(self.journal_path, flags, 0o666)
        except OSError as exc:
            raise ReportError(self.journal_path, exc) from exc
        try:
            self.flush()
        except BaseException:
            os.close(self._journal)
            raise

    def _load(self) -> dict[str, Record]:
        records: dict[str, Record] = {}
        data = saved_report(self.json_path)
        if data is not None:
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
        line = (json.dumps(plain(asdict(record))) + "\n").encode("utf-8", "backslashreplace")
        self._append(line)
        self.records[record.input] = record
        if time.monotonic() - self._last_flush >= self.interval:
            self.flush()

    def _append(self, line: bytes) -> None:
        """Append one whole line to the journal, or nothing: a short write is cut off again."""
        if self._broken:
            raise ReportError(self.journal_path, OSError("an earlier write of the report failed"))
        size = os.fstat(self._journal).st_size
        try:
            written = os.write(self._journal, line)
            while written < len(line):  # a short write: the disk is full, or a signal came
                more = os.write(self._journal, line[written:])
                if more == 0:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                written += more
            os.fsync(self._journal)
        except OSError as exc:
            self._broken = True
            with contextlib.suppress(OSError):  # if even this fails, a resumed run cuts the torn line
                os.ftruncate(self._journal, size)
            raise ReportError(self.journal_path, exc) from exc

    def counts(self) -> dict[str, int]:
        """How many records have each status."""
        out = dict.fromkeys(STATUSES, 0)
        for record in self.records.values():
            out[record.status] += 1
        return out

    def flush(self) -> None:
        """Rewrite the JSON and CSV atomically with every record so far.

        Raises:
            ReportError: they cannot be written; the earlier JSON and CSV are left as they were.
        """
        if self._broken:
            raise ReportError(self.json_path, OSError("an earlier write of the report failed"))
        records = [plain(asdict(r)) for r in self.records.values()]
        document = {
            "format": FORMAT,
            "version": VERSION,
            "environment": environment(),
            "settings": self.settings,
            "finished": self.finished,
            "expected": self.expected,
            "counts": self.counts(),
            "records": records,
        }
        text = json.dumps(document, indent=1) + "\n"
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        for row in records:
            writer.writerow({k: _csv_cell(row[k]) for k in FIELDS})
        # a name that is not valid UTF-8 holds lone surrogates (os.fsdecode): escape them
        contents = {
            self.json_path: text.encode("utf-8", "backslashreplace"),
            self.csv_path: buffer.getvalue().encode("utf-8", "backslashreplace"),
        }
        _replace_together(contents)
        self._last_flush = time.monotonic()

    def close(self) -> None:
        """Write the final JSON and CSV (unless a write already failed) and close the journal."""
        try:
            if not self._broken:
                self.flush()
        finally:
            os.close(self._journal)


def _replace_together(contents: dict[Path, bytes]) -> None:
    """Write each file to a synced temporary file beside it, then rename them all over the old ones.

    Nothing is replaced unless every temporary file was written whole (a full disk leaves the
    old files as they were); raises :class:`ReportError` naming the file that failed.
    """
    temporary: dict[Path, str] = {}
    current = next(iter(contents))
    try:
        for path, data in contents.items():
            current = path
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            temporary[path] = tmp
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o666 & ~_umask())
        for path, tmp in temporary.items():
            current = path
            if path.is_dir():  # os.replace would say "Is a directory" without the name
                raise IsADirectoryError(errno.EISDIR, f"{path} is a folder, expected a file")
            os.replace(tmp, path)
        _sync_folder(next(iter(contents)).parent)
    except OSError as exc:
        for tmp in temporary.values():
            Path(tmp).unlink(missing_ok=True)
        raise ReportError(current, exc) from exc
    except BaseException:
        for tmp in temporary.values():
            Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _sync_folder(folder: Path) -> None:
    """Make the renames durable (best effort: not every file system can sync a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


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

"""The runner's outputs: each finished image written atomically and recorded at once.

Also what a resumed run keeps: an earlier record whose output is still intact.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from deid.batch.inputs import InputFile
from deid.batch.report import Record, RecordSink
from deid.batch.results import HeatmapWriter
from reid_model.io import (
    ImageReadError,
    decode_image,
    encode_image,
    file_sha256,
    image_size,
    output_format,
    sha256_hex,
    write_bytes_atomic,
)


class Outputs:
    """Writes outputs under ``folder`` and records every input in ``report``.

    Failures to write are recorded per file (the batch goes on); heatmap failures and outputs
    redone on resume are collected in :attr:`warnings`.
    """

    def __init__(self, folder: Path, report: RecordSink, write_heatmaps: HeatmapWriter | None) -> None:
        self.folder, self.report, self.write_heatmaps = folder, report, write_heatmaps
        self.problems: list[str] = []
        #: The files this run wrote over (there before it: an earlier run's outputs, or the user's).
        self.replaced: list[Path] = []
        #: The SHA-256 of each input read, by path (recorded with it).
        self.read: dict[Path, str] = {}

    def record(self, member: InputFile, status: str, **fields: Any) -> None:
        """Add ``member``'s record to the report (a failed one's says when a file is at its
        output path, :meth:`_stale_noted`)."""
        if status == "failed":
            fields = self._stale_noted(member, fields)
        self.report.add(
            Record(
                input=str(member.path),
                status=status,
                relative=member.relative.as_posix(),
                input_sha256=self.read.get(member.path),
                **fields,
            )
        )

    def _stale_noted(self, member: InputFile, fields: dict[str, Any]) -> dict[str, Any]:
        """The failed record's note says when a file is at ``member``'s output path (an earlier
        run's output, made from what the input was then, or another file): it is left as it is,
        never removed (an input unreadable for a moment must not cost its concealed copy)."""
        target = self.target(member)
        if not target.is_file() or os.path.realpath(target) == os.path.realpath(member.path):
            return fields
        note = (
            f"a file at its output path {target} (an earlier run's output?) was left as it is: not this run's"
        )
        return {**fields, "note": "; ".join(filter(None, [fields.get("note"), note]))}

    def done(self, file: InputFile) -> Record | None:
        """The earlier run's record of ``file`` if it finished, its input is unchanged and its
        output intact, else None."""
        record = self.report.previous.get(str(file.path))
        if record is None or record.status not in ("ok", "no_person"):
            return None
        if record.status == "ok" and record.output is None:
            return None
        if record.input_sha256 is not None:  # a record from before the field cannot tell
            try:
                now = file_sha256(file.path)
            except OSError:
                return None  # read again, and recorded failed if it cannot be
            if now != record.input_sha256:
                self.problems.append(
                    f"redoing {file.path}: the input changed since the run (sha256 {now[:12]}..., "
                    f"the report says {record.input_sha256[:12]}...)"
                )
                return None
        if record.output is not None:
            problem = _output_problem(file, record)
            if problem is not None:
                self.problems.append(f"redoing {file.path}: its output {record.output} {problem}")
                return None
        return record

    def write(
        self, member: InputFile, image: torch.Tensor, group: str, kind: str, encoded: bytes | None = None
    ) -> tuple[Path, str] | None:
        """Write ``encoded`` (or ``image`` encoded in the output's format) atomically.

        Returns the output path and the SHA-256 of the bytes written; on any failure (the disk
        is full, the folder read-only, the bytes do not decode to ``image``'s size) records
        ``member`` as failed and returns None, so the batch goes on.
        """
        target = self.target(member)
        try:
            if os.path.realpath(target) == os.path.realpath(member.path):
                raise OSError(f"the output path is the input file itself: {member.path}")
            if encoded is None:
                encoded = encode_image(image, output_format(target))
            else:
                back = decode_image(encoded, name=str(target))
                if tuple(back.shape) != tuple(image.shape):
                    got, want = tuple(back.shape), tuple(image.shape)
                    raise ValueError(f"the encoded output decodes to shape {got}, expected {want}")
            existed = target.exists()
            write_bytes_atomic(target, encoded)
            if existed:
                self.replaced.append(target)
        except (OSError, ValueError) as exc:
            error = f"cannot write {target}: {describe(exc)}"
            self.record(member, "failed", group=group, kind=kind, error=error)
            return None
        return target, sha256_hex(encoded)

    @property
    def warnings(self) -> list[str]:
        """What went wrong without failing a file, with the files written over (said, never
        silently: a file of the user's may have been at an output path)."""
        if not self.replaced:
            return self.problems
        named = ", ".join(str(p) for p in self.replaced[:3]) + (", ..." if len(self.replaced) > 3 else "")
        return [
            *self.problems,
            f"{len(self.replaced)} file(s) already at their output paths were replaced ({named})",
        ]

    def target(self, member: InputFile) -> Path:
        """Where ``member``'s output goes: its relative path under the output folder."""
        return self.folder / member.relative

    def heatmap_path(self, target: Path, name: str) -> Path:
        """Where the heatmap ``name`` of the output ``target`` goes: at its place under
        :func:`heatmaps_folder`, never in the output folder (a heatmap shows the original person)."""
        return heatmaps_folder(self.folder) / target.parent.relative_to(self.folder) / name

    def heatmaps(self, items: list[tuple[torch.Tensor, torch.Tensor | None, Path]]) -> None:
        """Write ``(original, attribution, path)`` overlays; a failure is a warning, not a failed file."""
        if self.write_heatmaps is None or not items:
            return
        originals, attributions, paths = (list(x) for x in zip(*items, strict=True))
        try:
            self.write_heatmaps(originals, attributions, paths)
        except Exception as exc:
            self.problems.append(f"heatmaps for {paths[0]} failed: {describe(exc)}")


def heatmaps_folder(output: Path) -> Path:
    """The folder beside ``output`` that a run's heatmaps go to (``OUT.heatmaps``): a heatmap is
    drawn on the original person (what drove the match), so it must not sit among the outputs a
    user publishes (a new user's review found them there, and ``deid verify`` passing the folder)."""
    output = Path(os.path.abspath(output))
    return output.with_name(output.name + ".heatmaps")


def _output_problem(file: InputFile, record: Record) -> str | None:
    """Why an earlier run's output cannot be kept (missing, changed, undecodable, wrong size), or None."""
    path = Path(str(record.output))
    try:
        data = path.read_bytes()
    except OSError as exc:
        return f"cannot be read: {describe(exc)}"
    if not record.sha256:
        return "has no sha256 in the report"
    if sha256_hex(data) != record.sha256:
        return f"has sha256 {sha256_hex(data)[:12]}..., the report says {record.sha256[:12]}..."
    try:
        output = decode_image(data, name=str(path))
        width, height = image_size(file.path)
    except ImageReadError as exc:
        return f"does not decode: {exc.reason}"
    if (output.shape[2], output.shape[1]) != (width, height):
        return f"is {output.shape[2]}x{output.shape[1]} pixels, the input {width}x{height}"
    return None


def describe(exc: BaseException) -> str:
    """An exception in a few words for a record: the message and the exception's type."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror} ({type(exc).__name__})"
    return f"{exc} ({type(exc).__name__})" if str(exc) else type(exc).__name__

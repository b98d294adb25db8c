"""Re-check a finished ``deid conceal`` run on the files it wrote.

For every record with an output, :func:`verify` re-reads the output file, compares its SHA-256
with the one the report recorded, decodes it and re-runs the adversary's privacy check (the rule
of the conceal loop, :meth:`deid.adversary.Adversary.check`, without the margin the run judged
with: :meth:`deid.adversary.Adversary.exact`): a crop's written output against
the original inputs of its group, a frame's people re-cut from the written frame at the
reported boxes, each against its own original; and, when the run looked for faces (its
``faces`` setting), the face net on the written frame
(:func:`deid.loop.faces.faces_in_the_clear`): a face it finds there makes the frame not private,
as do the people the run's second look found left untreated (the record's ``untreated``) and,
when the run looked at its frames as written (its ``second_look`` setting), a person a thorough
look confirms in the written frame whose silhouette is under a fifth changed from the original
(:func:`deid.loop.untreated.in_the_clear`). A record *contradicts* its verdict when it says ``success`` but the written file is still
matched or shows a face; a missing, changed or unreadable output, or one that cannot be checked
(its inputs are gone), fails verification too.

Kept in one module over 300 lines: reading a report, re-cutting its people and judging them are
one pass over the records whose outcome types only this pass makes.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from deid.adversary import Adversary
from deid.boxes import Box, centre_in, crop_boxes
from deid.environment import differences
from deid.loop.faces import faces_in_the_clear
from deid.loop.untreated import in_the_clear
from reid_model.io import (
    IMAGE_SUFFIXES,
    ImageReadError,
    decode_image,
    read_image,
    read_image_hashed,
    sha256_hex,
)

#: Outcomes of one record, in table order; the last three fail verification. ``private_now``:
#: reported not private, private as judged again without the run's margin (as for a video).
OUTCOMES = (
    "private",
    "not_private_as_reported",
    "private_now",
    "contradicted",
    "missing_or_changed",
    "cannot_check",
)
FAILING = frozenset({"contradicted", "missing_or_changed", "cannot_check"})
#: A pixel of a written frame counts as changed from its original when a channel differs by more
#: than this (a JPEG's own error stays under it almost everywhere; a treatment goes far beyond).
_CHANGED = 10 / 255
_LABELS = {
    "private": "verified private",
    "not_private_as_reported": "not private, as reported",
    "private_now": "private now (reported not private)",
    "contradicted": "contradicted (reported private, still matched, or a face or person shows)",
    "missing_or_changed": "missing, unreadable or hash mismatch",
    "cannot_check": "cannot check (inputs changed or missing, boxes missing)",
}
_BOX = re.compile(r"\((-?\d+), (-?\d+), (\d+), (\d+)\)")
#: Appearances embedded per adversary call.
_CHUNK = 64


class VerifyError(ValueError):
    """The report cannot be used: missing, not JSON, or not a ``deid conceal`` report."""


@dataclass(frozen=True)
class VerifiedRecord:
    """The outcome of re-checking one record's written output.

    Attributes:
        input: the record's input file.
        output: its output file, or None.
        reported: the ``success`` the report gave (None when it gave none).
        outcome: one of :data:`OUTCOMES`.
        detail: why, in words (a mismatch, the match rate found, ...).
        match_rate: the worst match rate over the record's people as written, when checked.
    """

    input: str
    output: str | None
    reported: bool | None
    outcome: str
    detail: str
    match_rate: float | None = None

    @property
    def failed(self) -> bool:
        return self.outcome in FAILING


@dataclass(frozen=True)
class Verification:
    """The outcome of :func:`verify`: one :class:`VerifiedRecord` per record with an output, and
    what differs between the run's environment and this process's
    (:func:`deid.environment.differences`): where a verdict can have moved from."""

    report: Path
    records: list[VerifiedRecord]
    unwritten: int
    environment: list[str] = field(default_factory=list)
    #: Why the report does not cover the run's inputs (it says the run did not finish), or None.
    unfinished: str | None = None
    #: Images in the output folder that no record lists (:func:`unlisted_images`).
    unlisted: list[Path] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """How many records have each outcome (every outcome listed, in table order)."""
        out = dict.fromkeys(OUTCOMES, 0)
        for record in self.records:
            out[record.outcome] += 1
        return out

    @property
    def failures(self) -> list[VerifiedRecord]:
        """The records whose written file does not hold their verdict."""
        return [r for r in self.records if r.failed]

    @property
    def exit_code(self) -> int:
        """0 when every written file holds its verdict, the run finished and the output folder
        holds no image the report does not list, 1 otherwise."""
        return 1 if self.failures or self.unfinished or self.unlisted else 0

    def table(self) -> str:
        """The counts as an aligned text table."""
        width = max(len(label) for label in _LABELS.values())
        lines = [f"{_LABELS[k]:{width}s} {n:6d}" for k, n in self.counts().items()]
        lines.append(f"{'records with no output (failed, skipped)':{width}s} {self.unwritten:6d}")
        return "\n".join(lines)


def report_path(report_or_folder: str | os.PathLike[str]) -> Path:
    """The JSON report named by a path: the file itself, or ``report.json`` in a folder."""
    path = Path(report_or_folder)
    if path.is_dir():
        path = path / "report.json"
    elif path.suffix.lower() in (".csv", ".jsonl"):
        path = path.with_suffix(".json")
    return path


def load_report(path: Path) -> dict[str, Any]:
    """Read a ``deid conceal`` JSON report; raises :class:`VerifyError` naming the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8", errors="surrogateescape"))
    except FileNotFoundError as exc:
        raise VerifyError(
            f"report {path}: no such file, expected a deid conceal report or its folder"
        ) from exc
    except (OSError, ValueError) as exc:
        raise VerifyError(f"report {path}: cannot be read as JSON ({exc})") from exc
    if not isinstance(data, dict) or data.get("format") != "deid-conceal-report":
        raise VerifyError(f"report {path}: not a deid conceal report (no format 'deid-conceal-report')")
    if not isinstance(data.get("records"), list):
        raise VerifyError(f"report {path}: 'records' must be a list")
    return data


def verify(
    report_or_folder: str | os.PathLike[str],
    *,
    adversary: Adversary | None = None,
    weights: str | None = None,
    device: str = "cpu",
) -> Verification:
    """Re-read every output of a ``deid conceal`` run and re-check it with the adversary.

    Args:
        report_or_folder: the run's ``report.json`` or the output folder holding it.
        adversary: the adversary to check with; by default the run's own: ``weights`` if given,
            else the report's recorded ``weights``, ``adversary`` and ``top_k``, else the
            bundled default.
        weights: an adversary checkpoint to use instead of the recorded one.
        device: where the adversary runs.

    Raises:
        VerifyError: the report is missing or malformed, or its adversary cannot be loaded.

    Example:
        >>> result = verify("anonymized")  # doctest: +SKIP
        >>> result.counts()["contradicted"], result.exit_code  # doctest: +SKIP
        (0, 0)
    """
    path = report_path(report_or_folder)
    data = load_report(path)
    settings: dict[str, Any] = data["settings"] if isinstance(data.get("settings"), dict) else {}
    if adversary is None:
        adversary = _adversary(settings, weights, device)
    adversary = adversary.exact()  # without the run's margin: what it finds matched contradicts the run
    records = [r for r in data["records"] if isinstance(r, dict) and isinstance(r.get("input"), str)]
    written = [r for r in records if r.get("status") in ("ok", "no_person") and r.get("output")]
    unlisted: list[Path] = []
    if not settings.get("report"):  # written in the output folder: the outputs lie beside it
        written = [_beside(record, path.parent) for record in written]
        unlisted = unlisted_images(path.parent, [str(r["output"]) for r in written])
    results: dict[int, VerifiedRecord] = {}
    pending: list[_Item] = []
    for index, record in enumerate(written):
        item = _read(index, record, settings)
        if isinstance(item, VerifiedRecord):
            results[index] = item
        else:
            pending.append(item)
    _add_absent_members(pending, written)
    for chunk in _chunks(pending):
        results.update(_check(adversary, chunk))
    return Verification(
        path,
        [results[i] for i in range(len(written))],
        len(records) - len(written),
        differences(data.get("environment")),
        _unfinished(data, len(records)),
        unlisted,
    )


def unlisted_images(folder: Path, outputs: list[str]) -> list[Path]:
    """The images under the output ``folder`` that none of the report's ``outputs`` is: an
    earlier run's outputs left there by a run on other inputs, or a file of the user's. The
    report vouches for none of them, and one may show a person in the clear (a review found an
    earlier run's outputs reported not private left unlisted in OUT, and verify passing it).
    Hidden files and folders, a video's folder of frames (with its report beside it) and the
    run's heatmaps (written beside OUT since this release) are not among them."""
    listed = {os.path.realpath(output) for output in outputs}
    found = []
    for path in sorted(folder.rglob("*")):
        parts = path.relative_to(folder).parts
        if path.suffix.lower() not in IMAGE_SUFFIXES or any(p.startswith(".") for p in parts):
            continue
        frames = any(
            (folder.joinpath(*parts[:k]).parent / f"{parts[k - 1]}.json").is_file()
            for k in range(1, len(parts))
        )
        if not frames and path.is_file() and os.path.realpath(path) not in listed:
            found.append(path)
    return found


def _unfinished(data: dict[str, Any], records: int) -> str | None:
    """What a report that says its run did not finish lacks (None for a finished run, and for a
    report from before the field, which cannot say)."""
    if data.get("finished") is not False:
        return None
    expected = data.get("expected")
    missing = (
        f"{expected - records} of its {expected} inputs have"
        if isinstance(expected, int)
        else "inputs may have"
    )
    return (
        f"the run did not finish (killed or interrupted): {missing} no record, so nothing says they "
        "were concealed; run the same `deid conceal` again with --resume to finish it"
    )


def _beside(record: dict[str, Any], folder: Path) -> dict[str, Any]:
    """``record`` with its output at its path relative to the run's output ``folder``, where the
    report now lies: an output folder copied or moved is checked where it is, not where the run
    wrote it."""
    relative = record.get("relative")
    if not isinstance(relative, str) or not relative:
        return record
    return {**record, "output": str(folder / relative)}


def _adversary(settings: dict[str, Any], weights: str | None, device: str) -> Adversary:
    from deid.batch.config import ADVERSARIES, BatchConfig
    from deid.batch.inputs import BatchError
    from deid.batch.wiring import build_adversary

    recorded = settings.get("weights") if isinstance(settings.get("weights"), str) else None
    top_k = settings.get("top_k") if isinstance(settings.get("top_k"), int) else None
    # Reports before the option, and those naming "default", were judged by today's "fast" ensemble.
    bundled = settings.get("adversary", "default")
    bundled = "fast" if bundled == "default" else bundled
    if bundled not in ADVERSARIES:
        raise VerifyError(
            f"the report records adversary {bundled!r}; this version knows {list(ADVERSARIES)}: "
            "verifying with another would not be the run's verdict"
        )
    config = BatchConfig(
        inputs=("-",),
        output="-",
        weights=weights or recorded,
        adversary=bundled,
        top_k=top_k,
        device=device,
        group_by="reid" if settings.get("group_by") == "reid" else "none",  # reid: own originals too
    )
    try:
        return build_adversary(config)
    except BatchError as exc:
        raise VerifyError(str(exc)) from exc


@dataclass
class _Item:
    """A record whose output was read and decoded, waiting for the adversary's check."""

    index: int
    record: dict[str, Any]
    written: list[torch.Tensor]  # the people as written (crop, or the crops re-cut from a frame)
    originals: list[torch.Tensor]  # their originals: the group's inputs, or the frame's crops
    solo: bool  # a frame's people: each checked against its own original only
    #: originals of group members whose output could not be checked: the loop checked the
    #: group's outputs against them too, so they are matched against, never judged.
    absent: list[torch.Tensor] = field(default_factory=list)
    #: faces the face net finds in a written frame (the run's ``faces`` setting).
    faces: list[Box] = field(default_factory=list)
    #: people the run's second look found left untreated (the record's ``untreated``).
    untreated: list[list[int]] = field(default_factory=list)
    #: people a thorough look finds in the written frame, unchanged, that the record does not
    #: list (the run's ``second_look`` setting).
    clear: list[Box] = field(default_factory=list)


def _group(record: dict[str, Any]) -> str:
    return str(record.get("group") or record["input"])


def _add_absent_members(pending: list[_Item], written: list[dict[str, Any]]) -> None:
    """Give each checked crop group the originals of its members that are not checked."""
    checked = {id(item.record) for item in pending}
    first: dict[str, _Item] = {}
    for item in pending:
        if not item.solo:
            first.setdefault(_group(item.record), item)
    for record in written:
        if record.get("kind") == "frame" or id(record) in checked or _group(record) not in first:
            continue
        try:
            first[_group(record)].absent.append(read_image(record["input"]))
        except (ImageReadError, OSError):
            continue  # its own record already says why it cannot be checked


def _result(record: dict[str, Any], outcome: str, detail: str, rate: float | None = None) -> VerifiedRecord:
    reported = record.get("success")
    return VerifiedRecord(
        input=str(record["input"]),
        output=record.get("output"),
        reported=reported if isinstance(reported, bool) else None,
        outcome=outcome,
        detail=detail,
        match_rate=rate,
    )


def _read(index: int, record: dict[str, Any], settings: Mapping[str, Any]) -> _Item | VerifiedRecord:
    """Read and hash-check one record's output; the originals it is checked against, and a
    frame's faces in the clear when the run's ``settings`` looked for them."""
    output = Path(str(record["output"]))
    try:
        data = output.read_bytes()
    except OSError as exc:
        return _result(record, "missing_or_changed", f"output {output} cannot be read: {exc.strerror or exc}")
    expected = record.get("sha256")
    if isinstance(expected, str) and sha256_hex(data) != expected:
        got = sha256_hex(data)
        return _result(
            record,
            "missing_or_changed",
            f"output {output} has sha256 {got[:16]}..., the report recorded {expected[:16]}...",
        )
    try:
        image = decode_image(data, name=str(output))
    except ImageReadError as exc:
        return _result(record, "missing_or_changed", str(exc))
    if record.get("status") == "no_person":
        return _result(record, "not_private_as_reported", "written unchanged: nobody was detected")
    try:
        original, now = read_image_hashed(record["input"])
    except (ImageReadError, OSError) as exc:
        return _result(record, "cannot_check", f"the original input cannot be read: {exc}")
    recorded = record.get("input_sha256")
    if isinstance(recorded, str) and now != recorded:
        return _result(
            record,
            "cannot_check",
            f"the input {record['input']} changed since the run (sha256 {now[:16]}..., the report "
            f"recorded {recorded[:16]}...): the output was made from another image",
        )
    if tuple(original.shape) != tuple(image.shape):
        shapes = f"{tuple(image.shape)}, the input {tuple(original.shape)}"
        return _result(record, "missing_or_changed", f"output {output} has shape {shapes}")
    if record.get("kind") != "frame":
        return _Item(index, record, [image], [original], solo=False)
    boxes = _frame_boxes(record)
    if len(boxes) != record.get("persons"):
        return _result(
            record, "cannot_check", f"the record lists {len(boxes)} boxes for {record.get('persons')} people"
        )
    faces = []
    threshold = settings.get("faces")
    if isinstance(threshold, int | float) and threshold > 0:
        head = str(settings.get("head", "blur"))
        faces = faces_in_the_clear(image, boxes, threshold=float(threshold), treatment=head)
    written, originals = crop_boxes(image, boxes)[0], crop_boxes(original, boxes)[0]
    untreated = list(record.get("untreated") or [])
    clear: list[Box] = []
    if settings.get("second_look") is True:  # the run looked at the frame as written: so does this
        changed = (image - original).abs().amax(0) > _CHANGED
        listed = [Box(*map(int, b[:4])) for b in untreated]
        clear = [p.box for p in in_the_clear(image, changed, boxes) if not centre_in(p.box, listed)]
    return _Item(index, record, written, originals, solo=True, faces=faces, untreated=untreated, clear=clear)


def _frame_boxes(record: Mapping[str, Any]) -> list[Box]:
    """A frame record's people boxes: its ``boxes`` field, or (reports before it) its note."""
    if record.get("boxes") is not None:
        return [Box(*map(int, box)) for box in record["boxes"]]
    return [Box(*map(int, m.groups())) for m in _BOX.finditer(str(record.get("note") or ""))]


def _chunks(items: list[_Item]) -> Iterator[list[_Item]]:
    """Items in chunks of about :data:`_CHUNK` appearances, a crop group never split."""
    groups: dict[Any, list[_Item]] = {}
    for item in items:
        key = ("frame", item.index) if item.solo else ("group", _group(item.record))
        groups.setdefault(key, []).append(item)
    chunk: list[_Item] = []
    for members in groups.values():
        chunk.extend(members)
        if sum(len(i.written) for i in chunk) >= _CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _check(adversary: Adversary, items: list[_Item]) -> dict[int, VerifiedRecord]:
    """Re-run the loop's privacy check on the written people of ``items``."""
    written: list[torch.Tensor] = []
    originals: list[torch.Tensor] = []
    people: list[Any] = []  # the person each appearance belongs to
    owner: list[int] = []  # the item each appearance comes from
    for position, item in enumerate(items):
        for p, (image, original) in enumerate(zip(item.written, item.originals, strict=True)):
            written.append(image)
            originals.append(original)
            people.append((position, p) if item.solo else ("group", _group(item.record)))
            owner.append(position)
        for original in item.absent:  # an anchor never judged: its own original stands in
            written.append(original)
            originals.append(original)
            people.append(("group", _group(item.record)))
            owner.append(-1)
    ids: dict[Any, int] = {}
    groups = torch.tensor([ids.setdefault(p, len(ids)) for p in people], dtype=torch.long)
    check = adversary.check(
        adversary.embed(adversary.views(written)), adversary.embed(adversary.views(originals)), groups
    )
    out: dict[int, VerifiedRecord] = {}
    for position, item in enumerate(items):
        mine = torch.tensor([o == position for o in owner])
        private = bool(check.private[mine].all()) and not item.faces and not item.untreated and not item.clear
        rate = float(check.match_rate[mine].max())
        rank = float(check.rank[mine].min())
        reported = item.record.get("success")
        detail = f"match_rate {rate:.3f}, best rank {rank:.0f} as written"
        if item.faces:
            detail += f"; {len(item.faces)} face(s) in the written frame: " + ", ".join(
                str(tuple(f[:4])) for f in item.faces
            )
        if item.untreated:
            detail += f"; {len(item.untreated)} person(s) the run found left untreated: " + ", ".join(
                str(tuple(b[:4])) for b in item.untreated
            )
        if item.clear:
            detail += f"; {len(item.clear)} person(s) in the clear in the written frame: " + ", ".join(
                str(tuple(b[:4])) for b in item.clear
            )
        if private:
            outcome = "private_now" if reported is False else "private"
        elif reported is True:
            outcome = "contradicted"
        else:
            outcome = "not_private_as_reported"
        out[item.index] = _result(item.record, outcome, detail, rate)
    return out

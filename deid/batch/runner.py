"""The work loop of :func:`deid.batch.run_batch`: read, group, queue, conceal, write, record.

People wait in a queue until about ``batch_size`` crops are ready, or until the images held
(whole frames and the people cut from them) would pass ``queue_megapixels``, then go to the
conceal function in one call; a failing call is retried person by person so one bad person
fails alone. Frames are queued as they are read, so memory stays within the budget (plus one
frame); a waiting 8-bit frame is held as uint8 (3 bytes a pixel instead of 12). Each finished
image is written atomically and recorded at once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from tqdm import tqdm

from deid.batch.boxes import BoxesError
from deid.batch.inputs import InputFile, Inputs, group_files
from deid.batch.report import Record, Report
from deid.boxes import Box, clip_boxes, crop_boxes, paste_crops
from deid.detection import find_frame_people, is_person_crop
from reid_model.io import (
    ImageReadError,
    decode_image,
    encode_image,
    image_size,
    output_format,
    read_image,
    sha256_hex,
    write_bytes_atomic,
)

if TYPE_CHECKING:
    from deid.batch.config import BatchConfig
    from deid.finder import Person


@dataclass(frozen=True)
class CropResult:
    """One concealed appearance, as the batch runner records it.

    Attributes:
        image: the concealed crop ``(3, H, W)`` at the input's resolution.
        success: whether the adversary no longer matches the person. Required: a verdict is
            never a default.
        steps: the conceal loop's steps for the person.
        area: the fraction of the crop concealed.
        fallback: whether the whole person had to be concealed.
        scores_before: the adversary's scores on the originals.
        scores_after: the adversary's scores on the concealed images.
        attribution: ``(1, h, w)`` what drove the match (for heatmaps), or None.
        outfit: the person's ``[top, bottom]`` fill colours when the loop used an outfit.
        encoded: the output file's bytes on which ``success`` was judged (the runner writes
            exactly these), or None to let the runner encode ``image`` in the output's format.
        group_reason: why the crop was (or was not) concealed with the rest of its group.
    """

    image: torch.Tensor
    success: bool
    steps: int = 0
    area: float = 1.0
    fallback: bool = False
    scores_before: Any = None
    scores_after: Any = None
    attribution: torch.Tensor | None = None
    outfit: list[list[float]] | None = None
    encoded: bytes | None = None
    group_reason: str | None = None


Result = CropResult | Mapping[str, Any]
#: ``conceal_group(images, paths)``: one person's appearances ``(3, H, W)`` and their files;
#: returns one :class:`CropResult` (or a mapping of its fields) per image, in order.
ConcealGroup = Callable[[list[torch.Tensor], list[Path]], Sequence[Result]]
#: ``conceal_batch(people, paths)``: several people at once, one list of results per person.
ConcealBatch = Callable[[list[list[torch.Tensor]], list[list[Path]]], Sequence[Sequence[Result]]]
#: ``write_heatmaps(originals, attributions, paths)``: writes one overlay per crop to ``paths``.
HeatmapWriter = Callable[[list[torch.Tensor], list["torch.Tensor | None"], list[Path]], None]
#: ``check_written(originals, written)``: per person (one original crop and the crop re-cut from
#: the written, decoded frame), whether the adversary finds the written crop private.
WrittenCheck = Callable[[list[torch.Tensor], list[torch.Tensor]], list[bool]]


@dataclass
class _Job:
    """A group of crops (one person) or one frame (one person per box), waiting to be concealed."""

    key: str
    members: list[InputFile]
    held: list[torch.Tensor]  # the images as read; a waiting 8-bit frame as uint8 (see _compact)
    people: list[list[torch.Tensor]]
    boxes: list[Box] = field(default_factory=list)
    source: str = ""
    seconds: float = 0.0  # detection time, then plus this job's share of the conceal call
    results: list[list[CropResult]] = field(default_factory=list)
    found: list[dict[str, Any]] | None = None  # what the finder saw of each person (not for --boxes)

    @property
    def images(self) -> list[torch.Tensor]:
        """The images ``(3, H, W)`` float in [0, 1], exactly as read."""
        return [image if image.is_floating_point() else image.float().div_(255.0) for image in self.held]

    @property
    def is_frame(self) -> bool:
        return self.key.startswith("frame:")

    @property
    def crops(self) -> int:
        return sum(len(p) for p in self.people)


class Runner:
    """One batch run: turns :class:`~deid.batch.inputs.Inputs` into outputs and report records."""

    def __init__(
        self,
        config: BatchConfig,
        output: Path,
        report: Report,
        conceal_batch: ConcealBatch,
        write_heatmaps: HeatmapWriter | None,
        boxes: dict[Path, list[Box]] | None,
        check_written: WrittenCheck | None = None,
    ) -> None:
        self.config, self.output, self.report = config, output, report
        self.check_written = check_written
        self.conceal_batch, self.write_heatmaps, self.boxes = conceal_batch, write_heatmaps, boxes
        self.resumed = 0
        self.warnings: list[str] = []
        self.pending: list[_Job] = []

    def run(self, found: Inputs) -> None:
        for problem in found.problems:
            self.report.add(Record(input=str(problem.path), status=problem.status, error=problem.error))
        disable = None if self.config.progress else True  # None: only on a terminal
        with tqdm(total=len(found.files), unit="image", desc="conceal", disable=disable) as bar:
            for key, members in group_files(found.files, self.config.group_by).items():
                self._enqueue(key, members)
                bar.update(len(members))
            self._flush()

    # ------------------------------------------------------------------ reading and queueing

    def _done(self, file: InputFile) -> Record | None:
        """The earlier run's record of ``file`` if it finished and its output is intact, else None."""
        record = self.report.previous.get(str(file.path))
        if record is None or record.status not in ("ok", "no_person"):
            return None
        if record.status == "ok" and record.output is None:
            return None
        if record.output is not None:
            problem = _output_problem(file, record)
            if problem is not None:
                self.warnings.append(f"redoing {file.path}: its output {record.output} {problem}")
                return None
        return record

    def _enqueue(self, key: str, members: list[InputFile]) -> None:
        """Queue a group's crops as one person, and each of its frames as soon as it is read."""
        done = {m.path: self._done(m) for m in members}
        crops: dict[Path, torch.Tensor] = {}
        read: set[Path] = set()
        for member in members:
            if done[member.path] is None:
                self._take(member, key, crops, read)
        if read:  # something to conceal: the group shares one mask, so redo finished members too
            for member in members:
                if done[member.path] is not None:
                    self._take(member, key, crops, read)
        for member in members:
            previous = done[member.path]
            if previous is not None and member.path not in read:
                self.report.add(previous)
                self.resumed += 1
        if crops:
            kept = [m for m in members if m.path in crops]
            person = [crops[m.path] for m in kept]
            self._hold(_Job(key, kept, person, [person]))

    def _take(self, member: InputFile, key: str, crops: dict[Path, torch.Tensor], read: set[Path]) -> None:
        """Read ``member``: keep a person crop for its group, queue a frame at once (not all held)."""
        images: dict[Path, torch.Tensor] = {}
        self._read(member, key, images)
        if member.path not in images:
            return
        read.add(member.path)
        if self._is_crop(member, images[member.path]):
            crops[member.path] = images[member.path]
        else:
            self._enqueue_frame(member, images.pop(member.path))

    def _hold(self, job: _Job) -> None:
        """Queue ``job``; flush at ``batch_size`` crops, or first if ``job`` would take the queue
        past the pixel budget (a job larger than the whole budget goes through alone)."""
        budget = self.config.queue_megapixels * 1e6
        if self.pending and self.queued_pixels + _pixels(job) > budget:
            self._flush()
        self.pending.append(job)
        if self.queued_pixels > budget or sum(j.crops for j in self.pending) >= self.config.batch_size:
            self._flush()

    @property
    def queued_pixels(self) -> int:
        """Pixels of the images waiting in the queue: whole frames, crops and the people cut out."""
        return sum(_pixels(job) for job in self.pending)

    def _read(self, member: InputFile, key: str, images: dict[Path, torch.Tensor]) -> None:
        try:
            images[member.path] = read_image(member.path)
        except ImageReadError as exc:
            self._record(member, "failed", group=key, error=exc.reason)
        except OSError as exc:
            self._record(member, "failed", group=key, error=f"cannot read: {_describe(exc)}")

    def _given_boxes(self, member: InputFile) -> list[Box] | None:
        return None if self.boxes is None else self.boxes.get(member.path)

    def _is_crop(self, member: InputFile, image: torch.Tensor) -> bool:
        return self._given_boxes(member) is None and is_person_crop(image)

    def _enqueue_frame(self, member: InputFile, image: torch.Tensor) -> None:
        key = f"frame:{member.relative.as_posix()}"
        given = self._given_boxes(member)
        source = "the boxes file" if given is not None else "the person finder"
        if given is not None:
            try:
                given, clipped = clip_boxes(given, image.shape[-1], image.shape[-2])
            except BoxesError as exc:
                error = f"--boxes: {exc}; not written"
                self._record(member, "failed", group=key, kind="frame", error=error)
                return
            if clipped:  # said in the record's note and on stderr, never silently
                source += f" (warning: {'; '.join(clipped)})"
                self.warnings.append(f"{member.path}: {'; '.join(clipped)}")
        start = time.perf_counter()
        found = None
        try:
            if given is None:
                people_found = find_frame_people(image)
                given, found = [p.box for p in people_found], [_found(p) for p in people_found]
            crops, used = crop_boxes(image, given)
        except Exception as exc:
            self._record(
                member,
                "failed",
                group=key,
                kind="frame",
                error=f"detection failed: {_describe(exc)}",
            )
            return
        if crops:
            people = [[c] for c in crops]
            detection = time.perf_counter() - start
            frame = [_compact(image)]
            self._hold(_Job(key, [member], frame, people, used, source, seconds=detection, found=found))
            return
        error, note = f"no person found by {source}", "not written: the frame was not anonymized"
        target = None
        digest = None
        if self.config.keep_undetected:
            written = self._write(member, image, key, "frame")
            if written is None:
                return
            target, digest = written
            note = "written UNCHANGED because of --keep-undetected: NOT anonymized"
        out = None if target is None else str(target)
        self._record(
            member,
            "no_person",
            output=out,
            group=key,
            kind="frame",
            persons=0,
            error=error,
            note=note,
            sha256=digest,
        )

    # ------------------------------------------------------------------ concealing and writing

    def _flush(self) -> None:
        jobs, self.pending = self.pending, []
        people = [person for job in jobs for person in job.people]
        if not people:
            return
        paths = [
            [m.path for m in job.members] if not job.is_frame else [job.members[0].path]
            for job in jobs
            for _ in job.people
        ]
        outcomes: list[list[CropResult] | Exception]
        start = time.perf_counter()
        try:
            outcomes = list(self._conceal(people, paths))
        except Exception:  # find the person who fails, so that the others still go through
            outcomes = []
            for person, files in zip(people, paths, strict=True):
                try:
                    outcomes.extend(self._conceal([person], [files]))
                except Exception as exc:
                    outcomes.append(exc)
        per_crop = (time.perf_counter() - start) / sum(len(person) for person in people)
        for job in jobs:
            job.seconds += per_crop * job.crops
            mine, outcomes = outcomes[: len(job.people)], outcomes[len(job.people) :]
            failure = next((r for r in mine if isinstance(r, Exception)), None)
            job.results = [r for r in mine if not isinstance(r, Exception)]
            if failure is not None:
                error = f"conceal failed: {_describe(failure)}"
                kind = "frame" if job.is_frame else "crop"
                for member in job.members:
                    self._record(member, "failed", group=job.key, kind=kind, error=error)
            elif job.is_frame:
                self._finish_frame(job)
            else:
                self._finish_crops(job)

    def _conceal(self, people: list[list[torch.Tensor]], paths: list[list[Path]]) -> list[list[CropResult]]:
        """Run ``conceal_batch`` and check what it returns; raises with a readable message."""
        out = [[_as_result(r) for r in person] for person in self.conceal_batch(people, paths)]
        if len(out) != len(people):
            raise ValueError(f"conceal returned results for {len(out)} people, expected {len(people)}")
        for images, results in zip(people, out, strict=True):
            if len(results) != len(images):
                raise ValueError(f"conceal returned {len(results)} images for {len(images)}")
            for image, result in zip(images, results, strict=True):
                if tuple(result.image.shape) != tuple(image.shape):
                    got, want = tuple(result.image.shape), tuple(image.shape)
                    raise ValueError(f"conceal returned shape {got} for {want}")
        return out

    def _finish_crops(self, job: _Job) -> None:
        seconds = round(job.seconds / len(job.members), 4)
        heatmaps = []
        for member, image, result in zip(job.members, job.images, job.results[0], strict=True):
            written = self._write(member, result.image, job.key, "crop", result.encoded)
            if written is None:
                continue
            target, digest = written
            heatmaps.append((image, result.attribution, target.with_name(target.stem + ".heatmap.png")))
            note = None if result.success else "the adversary still matches this person after the fallback"
            self._record(
                member,
                "ok",
                output=str(target),
                group=job.key,
                kind="crop",
                persons=1,
                steps=result.steps,
                area=result.area,
                fallback=result.fallback,
                success=result.success,
                scores_before=result.scores_before,
                scores_after=result.scores_after,
                outfit=result.outfit,
                note=note,
                group_reason=result.group_reason,
                seconds=seconds,
                sha256=digest,
            )
        self._heatmaps(heatmaps)

    def _finish_frame(self, job: _Job) -> None:
        member, image = job.members[0], job.images[0]
        results = [person[0] for person in job.results]
        frame = paste_crops(image, [r.image for r in results], job.boxes)
        try:  # the verdict is taken on the people re-cut from the frame as written and decoded
            data = encode_image(frame, output_format(self.output / member.relative))
            if self.check_written is not None:
                written, _ = crop_boxes(decode_image(data, name=str(member.path)), job.boxes)
                private = self.check_written([person[0] for person in job.people], written)
                results = [
                    r if p else replace(r, success=False) for r, p in zip(results, private, strict=True)
                ]
        except ValueError as exc:
            self._record(
                member, "failed", group=job.key, kind="frame", error=f"cannot encode: {_describe(exc)}"
            )
            return
        written_out = self._write(member, frame, job.key, "frame", data)
        if written_out is None:
            return
        target, digest = written_out
        area = sum(r.area * b.w * b.h for r, b in zip(results, job.boxes, strict=True)) / (
            image.shape[1] * image.shape[2]
        )
        boxes = ", ".join(str(tuple(b[:4])) for b in job.boxes)
        still = [str(i) for i, r in enumerate(results) if not r.success]
        matched = f"; the adversary still matches person {', '.join(still)}" if still else ""
        self._record(
            member,
            "ok",
            output=str(target),
            group=job.key,
            kind="frame",
            persons=len(results),
            steps=max(r.steps for r in results),
            area=min(1.0, area),
            fallback=any(r.fallback for r in results),
            success=all(r.success for r in results),
            scores_before=[r.scores_before for r in results],
            scores_after=[r.scores_after for r in results],
            outfit=[r.outfit for r in results],
            note=f"{len(results)} people from {job.source}: {boxes}" + matched,
            seconds=round(job.seconds, 4),
            sha256=digest,
            boxes=[[b.x, b.y, b.w, b.h] for b in job.boxes],
            people=job.found,
        )
        self._heatmaps(
            [(crop[0], r.attribution, target.with_name(f"{target.stem}.person{i}.heatmap.png"))
             for i, (crop, r) in enumerate(zip(job.people, results, strict=True))]
        )  # fmt: skip

    def _record(self, member: InputFile, status: str, **fields: Any) -> None:
        self.report.add(
            Record(input=str(member.path), status=status, relative=member.relative.as_posix(), **fields)
        )

    def _write(
        self, member: InputFile, image: torch.Tensor, group: str, kind: str, encoded: bytes | None = None
    ) -> tuple[Path, str] | None:
        """Write ``encoded`` (or ``image`` encoded in the output's format) atomically.

        Returns the output path and the SHA-256 of the bytes written; on any failure (the disk
        is full, the folder read-only, the bytes do not decode to ``image``'s size) records
        ``member`` as failed and returns None, so the batch goes on.
        """
        target = self.output / member.relative
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
            write_bytes_atomic(target, encoded)
        except (OSError, ValueError) as exc:
            self._record(
                member,
                "failed",
                group=group,
                kind=kind,
                error=f"cannot write {target}: {_describe(exc)}",
            )
            return None
        return target, sha256_hex(encoded)

    def _heatmaps(self, items: list[tuple[torch.Tensor, torch.Tensor | None, Path]]) -> None:
        if self.write_heatmaps is None or not items:
            return
        originals, attributions, paths = (list(x) for x in zip(*items, strict=True))
        try:
            self.write_heatmaps(originals, attributions, paths)
        except Exception as exc:
            self.warnings.append(f"heatmaps for {paths[0]} failed: {_describe(exc)}")


def _output_problem(file: InputFile, record: Record) -> str | None:
    """Why an earlier run's output cannot be kept (missing, changed, undecodable, wrong size), or None."""
    path = Path(str(record.output))
    try:
        data = path.read_bytes()
    except OSError as exc:
        return f"cannot be read: {_describe(exc)}"
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


def _found(person: Person) -> dict[str, Any]:
    """What the report keeps of a person the finder found: score, unsure flag, 33 keypoints."""
    keypoints = [[round(float(v), 1) for v in point] for point in person.keypoints.tolist()]
    return {
        "score": round(float(person.score), 4),
        "uncertain": bool(person.uncertain),
        "keypoints": keypoints,
    }


def _compact(image: torch.Tensor) -> torch.Tensor:
    """``image`` as uint8 when that holds it exactly (an 8-bit file: a quarter of the memory)."""
    levels = torch.mul(image, 255.0).round_().to(torch.uint8)
    return levels if torch.equal(levels.float().div_(255.0), image) else image


def _pixels(job: _Job) -> int:
    images = list(job.held)
    if job.is_frame:  # the people cut out of a frame are copies held beside it
        images += [crop for person in job.people for crop in person]
    return sum(image.shape[-2] * image.shape[-1] for image in images)


def _as_result(value: Any) -> CropResult:
    if isinstance(value, CropResult):
        return value
    if isinstance(value, Mapping):
        if not isinstance(value.get("success"), bool):
            got = value.get("success", "nothing")
            raise TypeError(f"conceal must give each crop a verdict, success True or False, got {got!r}")
        return CropResult(**value)
    raise TypeError(f"conceal must return CropResult objects or mappings, got {type(value).__name__}")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror} ({type(exc).__name__})"
    return f"{exc} ({type(exc).__name__})" if str(exc) else type(exc).__name__

"""The work loop of :func:`deid.batch.run_batch`: read, group, queue, conceal, write, record.

Crops of one person are queued together; a frame goes through the one frame path of
:mod:`deid.loop.frames` (its people found and cut out by :func:`~deid.loop.frames.plan_frame`,
pasted back and judged as written by :func:`~deid.loop.frames.paste_people`), its people queued
in between with other frames' and files' people (:mod:`deid.batch.queue`). A failing conceal
call is retried person by person so one bad person fails alone. Frames are queued as they are
read, so memory stays within the budget (plus one frame). Each finished image is written
atomically and recorded at once (:mod:`deid.batch.outputs`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from tqdm import tqdm

from deid.batch.boxes import BoxesError
from deid.batch.grouping import group_files
from deid.batch.inputs import InputFile, Inputs
from deid.batch.masks import mask_boxes, mask_file
from deid.batch.outputs import Outputs, describe
from deid.batch.queue import Job, Queue, compact
from deid.batch.report import Record, RecordSink
from deid.batch.results import (
    ConcealBatch,
    CropResult,
    HeatmapWriter,
    WrittenCheck,
    as_result,
    crop_outcome,
    flagged_note,
    frame_outcome,
)
from deid.boxes import Box, clip_boxes
from deid.detection import taken_as_crop
from deid.loop.frames import FramePeople, held, paste_people, plan_frame
from reid_model.io import ImageReadError, output_format, read_image_hashed

if TYPE_CHECKING:
    from deid.batch.config import BatchConfig
    from deid.finder import Person


#: A crop's ``group_reason`` when the run groups no other image with it: its verdict is against
#: itself only, and another image of the same person may still match it.
ALONE = "alone: judged against its own original only (the run groups no other image with it; --group-by)"


class Runner:
    """One batch run: turns :class:`~deid.batch.inputs.Inputs` into outputs and report records."""

    def __init__(
        self,
        config: BatchConfig,
        output: Path,
        report: RecordSink,
        conceal_batch: ConcealBatch,
        write_heatmaps: HeatmapWriter | None,
        boxes: dict[Path, list[Box]] | None,
        check_written: WrittenCheck | None = None,
    ) -> None:
        self.config, self.report = config, report
        self.outputs = Outputs(output, report, write_heatmaps)
        self.conceal_batch, self.boxes, self.check_written = conceal_batch, boxes, check_written
        self.queue = Queue(batch_size=config.batch_size, megapixels=config.queue_megapixels)
        self.resumed = 0

    @property
    def warnings(self) -> list[str]:
        """What went wrong without failing a file (clipped boxes, heatmaps, redone outputs)."""
        return self.outputs.warnings

    def run(self, found: Inputs, groups: dict[str, list[InputFile]] | None = None) -> None:
        """Conceal ``found`` in ``groups`` (by default grouped by ``config.group_by``'s names)."""
        record_problems(self.report, found)
        if groups is None:
            groups = group_files(found.files, self.config.group_by)
        disable = None if self.config.progress else True  # None: only on a terminal
        with tqdm(total=len(found.files), unit="image", desc="conceal", disable=disable) as bar:
            self.run_groups(groups.items(), bar.update)

    def run_groups(
        self, groups: Iterable[tuple[str, list[InputFile]]], advance: Callable[[int], object] | None = None
    ) -> None:
        """Conceal, write and record the ``(key, members)`` groups; ``advance(n)`` as each is read."""
        for key, members in groups:
            self._enqueue(key, members)
            if advance is not None:
                advance(len(members))
        self._conceal_jobs(self.queue.take())

    # ------------------------------------------------------------------ reading and queueing

    def _enqueue(self, key: str, members: list[InputFile]) -> None:
        """Queue a group's crops as one person, and each of its frames as soon as it is read."""
        done = {m.path: self.outputs.done(m) for m in members}
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
            self._hold(Job(key, kept, person, [person]))

    def _take(self, member: InputFile, key: str, crops: dict[Path, torch.Tensor], read: set[Path]) -> None:
        """Read ``member``: keep a person crop for its group, queue a frame at once (not all held)."""
        image = self._read(member, key)
        if image is None:
            return
        read.add(member.path)
        try:
            given = self._given_boxes(member, image)
        except BoxesError as exc:
            self.outputs.record(member, "failed", group=key, error=f"--masks: {exc}; not written")
            return
        if given is None and taken_as_crop(image, self.config.kind):
            crops[member.path] = image
        else:
            self._enqueue_frame(member, image, given)

    def _hold(self, job: Job) -> None:
        for jobs in self.queue.add(job):
            self._conceal_jobs(jobs)

    def _read(self, member: InputFile, key: str) -> torch.Tensor | None:
        try:
            image, self.outputs.read[member.path] = read_image_hashed(member.path)
            return image
        except ImageReadError as exc:
            self.outputs.record(member, "failed", group=key, error=exc.reason)
        except OSError as exc:
            self.outputs.record(member, "failed", group=key, error=f"cannot read: {describe(exc)}")
        return None

    def _given_boxes(self, member: InputFile, image: torch.Tensor) -> list[Box] | None:
        """The boxes the user gave for ``member`` (``--boxes`` or ``--masks``), None for none.

        Raises:
            BoxesError: ``member``'s mask cannot be used.
        """
        if self.config.masks is not None:
            path = mask_file(self.config.masks, member.relative)
            return mask_boxes(path, *image.shape[-2:]) if path.is_file() else None
        return None if self.boxes is None else self.boxes.get(member.path)

    def _enqueue_frame(self, member: InputFile, image: torch.Tensor, given: list[Box] | None) -> None:
        key = f"frame:{member.relative.as_posix()}"
        source, warning = "the person finder", ""
        if given is not None:
            source = "the masks folder" if self.config.masks is not None else "the boxes file"
            try:
                given, clipped = clip_boxes(given, image.shape[-1], image.shape[-2])
            except BoxesError as exc:
                error = f"--boxes: {exc}; not written"
                self.outputs.record(member, "failed", group=key, kind="frame", error=error)
                return
            if clipped:  # said in the record's note and on stderr, never silently
                warning = f" (warning: {'; '.join(clipped)})"
                self.outputs.problems.append(f"{member.path}: {'; '.join(clipped)}")
        start = time.perf_counter()
        try:
            people = plan_frame(
                image,
                given,
                uncertain=self.config.uncertain,
                finder=self.config.finder_config,
                head=self.config.loop.head,
                head_scale=self.config.loop.head_scale,
            )
            found = None if people.found is None else [_found(p) for p in people.found]
            if given is None and people.found:
                source = _finders([p.how for p in people.found])
            if given is not None and people.added:
                source = f"{source} ({len(given)}) and the person finder's second look ({len(people.added)})"
            source += warning
        except Exception as exc:
            error = f"detection failed: {describe(exc)}"
            self.outputs.record(member, "failed", group=key, kind="frame", error=error)
            return
        if people.crops:
            detection = time.perf_counter() - start
            held = [compact(image)]
            crops = [[c] for c in people.crops]
            self._hold(
                Job(
                    key,
                    [member],
                    held,
                    crops,
                    people.boxes,
                    source,
                    detection,
                    found=found,
                    flagged=people.flagged,
                    looked=people.looked,
                )
            )
            return
        self._no_person(member, image, key, source, people.flagged)

    def _no_person(
        self, member: InputFile, image: torch.Tensor, key: str, source: str, flagged: list[Box]
    ) -> None:
        """Record a frame where nobody was found: not written, or unchanged with --keep-undetected.

        ``flagged``: unsure people the finder saw, left out by ``--uncertain flag``."""
        note, target, digest = "not written: the frame was not anonymized", None, None
        if self.config.keep_undetected:
            written = self.outputs.write(member, image, key, "frame")
            if written is None:
                return
            target, digest = written
            note = "written UNCHANGED because of --keep-undetected: NOT anonymized"
        self.outputs.record(
            member,
            "no_person",
            output=None if target is None else str(target),
            group=key,
            kind="frame",
            persons=0,
            error=f"no person found by {source}" + flagged_note(flagged),
            note=note,
            flagged=[[b.x, b.y, b.w, b.h] for b in flagged],
            sha256=digest,
        )

    # ------------------------------------------------------------------ concealing and writing

    def _conceal_jobs(self, jobs: list[Job]) -> None:
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
                error = f"conceal failed: {describe(failure)}"
                kind = "frame" if job.is_frame else "crop"
                for member in job.members:
                    self.outputs.record(member, "failed", group=job.key, kind=kind, error=error)
            elif job.is_frame:
                self._finish_frame(job)
            else:
                self._finish_crops(job)

    def _conceal(self, people: list[list[torch.Tensor]], paths: list[list[Path]]) -> list[list[CropResult]]:
        """Run ``conceal_batch`` and check what it returns; raises with a readable message."""
        out = [[as_result(r) for r in person] for person in self.conceal_batch(people, paths)]
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

    def _finish_crops(self, job: Job) -> None:
        seconds = round(job.seconds / len(job.members), 4)
        heatmaps = []
        for member, image, result in zip(job.members, job.images, job.results[0], strict=True):
            written = self.outputs.write(member, result.image, job.key, "crop", result.encoded)
            if written is None:
                continue
            target, digest = written
            heatmaps.append(
                (image, result.attribution, self.outputs.heatmap_path(target, f"{target.stem}.heatmap.png"))
            )
            outcome = crop_outcome(result)
            if len(job.members) == 1 and outcome["group_reason"] is None:
                outcome["group_reason"] = ALONE
            self.outputs.record(
                member,
                "ok",
                output=str(target),
                group=job.key,
                kind="crop",
                seconds=seconds,
                sha256=digest,
                **outcome,
            )
        self.outputs.heatmaps(heatmaps)

    def _finish_frame(self, job: Job) -> None:
        member, image = job.members[0], job.images[0]
        results = [person[0] for person in job.results]
        people = FramePeople(
            job.boxes,
            [person[0] for person in job.people],
            None,
            flagged=job.flagged,
            face_threshold=self.config.finder_config.faces,
            face_treatment=self.config.loop.head,
            looked=job.looked,
            look_written=self.config.finder_config.look_written,
        )
        try:  # the verdict is taken on the people re-cut from the frame as written and decoded
            frame = paste_people(
                image,
                people,
                [r.image for r in results],
                output_format=output_format(self.outputs.target(member)),
                check=self.check_written,
                covers=[r.cover for r in results],
            )
        except ValueError as exc:
            error = f"cannot encode: {describe(exc)}"
            self.outputs.record(member, "failed", group=job.key, kind="frame", error=error)
            return
        if frame.private is not None:
            results = held(results, frame.private)
        found = job.found
        if found is not None:
            found = [{**seen, "head": r.person.head} for seen, r in zip(found, results, strict=True)]
        written = self.outputs.write(member, frame.image, job.key, "frame", frame.encoded)
        if written is None:
            return
        target, digest = written
        self.outputs.record(
            member,
            "ok",
            output=str(target),
            group=job.key,
            kind="frame",
            seconds=round(job.seconds, 4),
            sha256=digest,
            people=found,
            **frame_outcome(
                results,
                job.boxes,
                image.shape[1] * image.shape[2],
                source=job.source,
                flagged=job.flagged,
                faces=frame.faces,
                face_treatment=self.config.loop.head,
                untreated=frame.untreated,
            ),
        )
        self.outputs.heatmaps(
            [(crop, r.attribution, self.outputs.heatmap_path(target, f"{target.stem}.person{i}.heatmap.png"))
             for i, (crop, r) in enumerate(zip(people.crops, results, strict=True))]
        )  # fmt: skip


def record_problems(report: RecordSink, found: Inputs) -> None:
    """Record the inputs that could not even be listed (unreadable folders, broken links, ...)."""
    for problem in found.problems:
        report.add(Record(input=str(problem.path), status=problem.status, error=problem.error))


#: What :attr:`deid.finder.Person.how` names, as a frame's note says it.
_FINDERS = {"finder": "the person finder", "second look": "its second look", "face": "the face net"}


def _finders(hows: list[str]) -> str:
    """Who found a frame's people, for its note: ``"the person finder"`` when it found them all,
    else each with its count (``"the person finder (2), its second look (1) and the face net (1)"``)."""
    order = [*(how for how in _FINDERS if how in hows), *sorted(set(hows) - set(_FINDERS))]
    if len(order) == 1:
        return _FINDERS.get(order[0], order[0])
    named = [f"{_FINDERS.get(how, how)} ({hows.count(how)})" for how in order]
    return ", ".join(named[:-1]) + " and " + named[-1]


def _found(person: Person) -> dict[str, Any]:
    """What the report keeps of a person the finder found: score, unsure flag, what found them,
    33 keypoints."""
    keypoints = [[round(float(v), 1) for v in point] for point in person.keypoints.tolist()]
    return {
        "score": round(float(person.score), 4),
        "uncertain": bool(person.uncertain),
        "found_by": person.how,
        "keypoints": keypoints,
    }

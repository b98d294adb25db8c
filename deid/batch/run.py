"""The batch runner behind ``deid conceal INPUT... -o OUTDIR``.

Inputs (files, folders, globs) are grouped by person. Each group's crops are concealed together
(one person, one mask); each full frame is searched for people, each person concealed on their
own and pasted back. People are handed to the conceal function in batches of about
``batch_size`` crops. Outputs mirror the input folders under the output folder and are written
atomically; inputs are only read. Every input gets a record in the report (see
:mod:`deid.batch.report`), written as the run goes, and ``resume`` skips what an earlier run finished.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch

from deid.batch import wiring
from deid.batch.boxes import BoxesError, load_boxes, match_boxes
from deid.batch.config import BatchConfig
from deid.batch.inputs import BatchError, check_output, collect_inputs
from deid.batch.lock import FolderLock
from deid.batch.ray_engine import run_on_ray
from deid.batch.report import Report, ReportError, plain, saved_report
from deid.batch.results import ConcealBatch, ConcealGroup, HeatmapWriter
from deid.batch.runner import ALONE, Runner
from deid.boxes import Box


@dataclass
class BatchSummary:
    """How a batch went: record counts by status, and where the report is."""

    counts: dict[str, int]
    still_matched: int
    resumed: int
    report_json: Path
    report_csv: Path
    warnings: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """1 when a file failed; else 3 when a written output is still matched; else 0.

        0 means every output written is private by the adversary's check; a script that
        publishes the outputs on success never publishes a person the report calls matched.
        """
        if self.counts.get("failed", 0):
            return 1
        return 3 if self.still_matched else 0


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Torch's intra-op threads set to ``threads`` (unchanged when None), restored after."""
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _lock_folders(output: Path, report: Path) -> list[tuple[Path, str]]:
    """The folders one run holds: the output folder, and the report's when it is elsewhere."""
    folders = [(output, "output")]
    if os.path.realpath(report.parent) != os.path.realpath(output):
        folders.append((report.parent, "report"))
    return folders


def _check_same_settings(report: Path, settings: dict[str, object]) -> None:
    """Refuse to resume a run made with other settings: its finished outputs would be kept as
    they were made, under a report that names only the new settings (frames taken as crops,
    another operator or strength, another seed's outfits).

    Raises:
        BatchError: the report at ``report`` records other settings (``param="kind"`` when the
            kind differs, else ``"resume"``).
    """
    saved = saved_report(report)  # None: no earlier report to resume, nothing kept
    before = saved.get("settings") if saved is not None else None
    if not isinstance(before, dict):
        return
    now = plain(settings)
    changed = [k for k in dict.fromkeys([*before, *now]) if before.get(k) != now.get(k)]
    if not changed:
        return

    def said(values: dict[str, object], key: str) -> str:  # a setting is left out at its default
        return repr(values[key]) if key in values else "the default"

    shown = "; ".join(f"{k}: {said(before, k)} then, {said(now, k)} now" for k in changed[:3])
    more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
    raise BatchError(
        f"the run being resumed ({report}) was made with other settings ({shown}{more}), and its "
        "finished outputs would be kept as made; resume with its settings, or conceal into another "
        "output folder",
        param="kind" if "kind" in changed else "resume",
    )


def run_batch(
    config: BatchConfig,
    *,
    conceal_group: ConcealGroup | None = None,
    conceal_batch: ConcealBatch | None = None,
    write_heatmaps: HeatmapWriter | None = None,
) -> BatchSummary:
    """Conceal every image the inputs name, write the outputs and the report.

    Args:
        config: the run's settings.
        conceal_group: conceals one person's appearances (used one person at a time).
        conceal_batch: conceals several people per call; by default, unless ``conceal_group``
            is given, the conceal loop (:func:`deid.conceal_people`) against the bundled
            adversary, or ``config.weights`` with its gallery.
        write_heatmaps: writes attribution overlays when ``config.heatmaps`` is set; by
            default each crop's attribution overlay (:func:`attribution.save_heatmap`).

    Raises:
        BatchError: the inputs hold no image file, the output folder or report would overlap
            the inputs, the boxes file is malformed or names inputs ambiguously, another run
            holds the output folder (a ``LockError``), or the run resumed was made with other
            settings. Problems with single files are reported per file instead.
        ReportError: the report cannot be written (up front, or during the run: the run
            stops there, the last complete report stays on disk).

    Example:
        >>> config = BatchConfig(inputs=("photos",), output="anonymized")
        >>> summary = run_batch(config)  # doctest: +SKIP
        >>> summary.counts  # doctest: +SKIP
        {'ok': 12, 'failed': 0, 'skipped': 1, 'no_person': 0}
    """
    output = Path(config.output)
    found = collect_inputs(config.inputs, output=output)
    report_path = config.report_path
    for parent in (output, *output.parents):
        if parent.exists():
            if not parent.is_dir():
                raise BatchError(
                    f"output folder {output}: {parent} is a file, expected a folder", param="output"
                )
            break
    check_output(found, output, [report_path.with_suffix(s) for s in (".json", ".csv", ".jsonl")])
    if not found.files:  # a typo'd path or an empty folder: nothing is written, not even OUT
        shown = "; ".join(f"{p.path}: {p.error}" for p in found.problems[:3])
        more = f" and {len(found.problems) - 3} more" if len(found.problems) > 3 else ""
        raise BatchError(f"no image files found in the inputs ({shown}{more})", param="inputs")
    if config.resume:
        _check_same_settings(report_path, config.settings())
    boxes: dict[Path, list[Box]] | None = None
    unused: list[str] = []
    try:
        if config.boxes:
            files = [f.path for f in found.files]
            where = f"boxes file {config.boxes}"
            boxes, unused = match_boxes(load_boxes(config.boxes), files, found.roots, source=where)
    except BoxesError as exc:
        raise BatchError(str(exc), param="boxes") from exc
    with contextlib.ExitStack() as held:
        locks = [held.enter_context(FolderLock(f, param=p)) for f, p in _lock_folders(output, report_path)]
        # the models are loaded (and --weights checked) before the report: a bad one fails with nothing written
        grouper = wiring.build_adversary(config) if config.group_by == "reid" else None
        local = None
        if config.engine == "local":
            local = wiring.concealers(config, conceal_group, conceal_batch, write_heatmaps, grouper)
        elif grouper is None and config.weights and conceal_group is None and conceal_batch is None:
            wiring.build_adversary(config)  # --weights checked once here, not in every worker
        groups = None
        if grouper is not None:
            from deid.batch.reid_groups import group_by_reid  # scipy, only when asked

            groups = group_by_reid(found.files, grouper, kind=config.kind)
        expected = len(found.files) + len(found.problems)
        earlier = None if config.resume else saved_report(report_path.with_suffix(".json"))
        report = Report(report_path, settings=config.settings(), resume=config.resume, expected=expected)
        try:
            if local is None:
                hooks = {
                    "conceal_group": conceal_group,
                    "conceal_batch": conceal_batch,
                    "write_heatmaps": write_heatmaps,
                }
                resumed, run_warnings = run_on_ray(config, found, report, boxes, hooks, groups)
            else:
                conceal, heatmaps, check = local
                runner = Runner(config, output, report, conceal, heatmaps, boxes, check)
                with torch_threads(config.threads):
                    runner.run(found, groups)
                resumed, run_warnings = runner.resumed, runner.warnings
            report.finished = True
        except ReportError as exc:
            raise ReportError(exc.path, OSError(exc.reason), during_run=True) from exc
        finally:
            report.close()
    warnings = [w for lock in locks for w in lock.warnings]
    warnings.extend(run_warnings)
    if earlier is not None and earlier.get("records"):
        warnings.append(
            f"{report.json_path} held the report of an earlier run ({len(earlier['records'])} records), "
            "replaced by this run's; that run's outputs this run did not write again are no longer "
            "listed (deid verify names them; --resume adds to a report instead)"
        )
    if unused:
        keys = ", ".join(repr(k) for k in unused[:5]) + (
            f" and {len(unused) - 5} more" if len(unused) > 5 else ""
        )
        warnings.append(f"boxes file {config.boxes}: {len(unused)} key(s) name no input: {keys}")
    alone = sum(1 for r in report.records.values() if r.status == "ok" and r.group_reason == ALONE)
    if alone > 1:
        warnings.append(
            f"{alone} crops were each concealed alone, judged against their own original only (no "
            f"VIPeR or Market names, folders or clusters grouped them: --group-by {config.group_by}); "
            "another image of the same person may still match one: --group-by folder or reid groups them"
        )
    still = sum(1 for r in report.records.values() if r.status == "ok" and r.success is False)
    return BatchSummary(report.counts(), still, resumed, report.json_path, report.csv_path, warnings)

"""``deid conceal --engine ray``: the batch run's groups concealed by a pool of Ray actors.

The driver (the process that runs ``deid conceal``) lists and groups the inputs, holds the
locks and the report, and hands out *tasks*: a few groups of about ``batch_size`` crops, one
person's appearances never split across two tasks, so a person keeps one treatment. Each worker
is a Ray actor that loads the adversary, the conceal loop and the person finder once, then runs
the local engine's :class:`~deid.batch.runner.Runner` on each task it is given: it reads the
inputs and writes the outputs itself (atomically, so the output folder must be on a filesystem
every worker sees), and returns the records, which the driver journals as tasks finish.

Same results: with a seed, what a person gets depends only on the seed and the person
(:func:`deid.loop.search.person_generators`), never on the task, its order or the worker, so the
outputs are byte-identical to the local engine's at the same torch thread count
(``BatchConfig.threads``; floating-point sums change with it). A video is one task
(:func:`map_on_ray`): its tracks stay together. Faults: a worker that dies is restarted by Ray
and its task run again (``max_task_retries``); a task that kills its worker every time has its
files recorded as failed and the run goes on; records are only taken from finished tasks, so
nothing is recorded twice, and a run killed as a whole resumes with ``--resume`` as a local one.

Ray is an optional extra (``pip install 'deid-reid[ray]'``), imported only here and only when
asked for.
"""

from __future__ import annotations

import contextlib
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from deid.batch.config import BatchConfig
from deid.batch.grouping import group_files
from deid.batch.inputs import BatchError, InputFile, Inputs
from deid.batch.outputs import Outputs, describe
from deid.batch.report import Record, Report
from deid.batch.runner import Runner, record_problems
from deid.batch.wiring import concealers
from deid.boxes import Box

#: How many times Ray runs a task again after its worker died (then its files are failed).
TASK_RETRIES = 2

Group = tuple[str, list[InputFile]]


@dataclass
class Task:
    """Groups one worker conceals together, with what they need of the driver's state."""

    groups: list[Group]
    previous: dict[str, Record]  # the resumed run's records of these files
    boxes: dict[Path, list[Box]] | None

    @property
    def files(self) -> list[InputFile]:
        return [member for _, members in self.groups for member in members]


@dataclass
class Finished:
    """What a worker sends back for a task."""

    records: list[Record]
    resumed: int
    warnings: list[str]


class _Collected:
    """The report inside a worker: the earlier run's records given, the new ones collected."""

    def __init__(self, previous: dict[str, Record]) -> None:
        self.previous = previous
        self.records: list[Record] = []

    def add(self, record: Record) -> None:
        self.records.append(record)


class ConcealWorker:
    """One worker: the run's models loaded once, then :meth:`conceal` for task after task.

    Made a Ray actor by :func:`run_on_ray` (``ray.remote(...)(ConcealWorker)``); usable as a
    plain object, which is how the tests check it without Ray.
    """

    def __init__(
        self,
        config: BatchConfig,
        hooks: dict[str, Callable[..., Any] | None],
        threads: int,
    ) -> None:
        torch.set_num_threads(threads)
        self.config = config
        self.concealers = concealers(
            config, hooks.get("conceal_group"), hooks.get("conceal_batch"), hooks.get("write_heatmaps")
        )

    def conceal(self, task: Task) -> Finished:
        sink = _Collected(task.previous)
        conceal_batch, write_heatmaps, check_written = self.concealers
        runner = Runner(
            self.config,
            Path(self.config.output),
            sink,
            conceal_batch,
            write_heatmaps,
            task.boxes,
            check_written,
        )
        runner.run_groups(task.groups)
        return Finished(sink.records, runner.resumed, runner.warnings)

    def pid(self) -> int:
        """The worker's process id (the tests kill workers by it)."""
        return os.getpid()


def plan_tasks(
    groups: Iterable[Group],
    *,
    crops: int,
    previous: dict[str, Record],
    boxes: dict[Path, list[Box]] | None,
) -> list[Task]:
    """Cut the groups into tasks of at least ``crops`` files each (the last may hold fewer);
    a group is never split."""
    tasks: list[Task] = []
    current: list[Group] = []
    for group in groups:
        current.append(group)
        if sum(len(members) for _, members in current) >= crops:
            tasks.append(_task(current, previous, boxes))
            current = []
    if current:
        tasks.append(_task(current, previous, boxes))
    return tasks


def _task(groups: list[Group], previous: dict[str, Record], boxes: dict[Path, list[Box]] | None) -> Task:
    files = [m for _, members in groups for m in members]
    mine = {str(f.path): previous[str(f.path)] for f in files if str(f.path) in previous}
    given = None if boxes is None else {f.path: boxes[f.path] for f in files if f.path in boxes}
    return Task(groups, mine, given)


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise BatchError(
            "--engine ray needs Ray, which is not installed: pip install 'deid-reid[ray]'", param="engine"
        ) from exc
    return ray


@contextlib.contextmanager
def cluster(address: str | None, workers: int | None) -> Iterator[Any]:
    """The ``ray`` module, joined to the cluster at ``address`` (a local one of ``workers``
    CPUs when None) unless this process already is; a cluster started here is stopped after.

    Raises:
        BatchError: Ray is not installed, or the cluster cannot be started or reached.
    """
    ray = _ray()
    started_here = not ray.is_initialized()
    if started_here:
        try:
            ray.init(
                address=address,
                num_cpus=workers if address is None else None,
                include_dashboard=False,
                logging_level="WARNING",
            )
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = address or "a local cluster"
            raise BatchError(
                f"cannot start or reach Ray at {where}: {describe(exc)}", param="address"
            ) from exc
    try:
        yield ray
    finally:
        if started_here:
            ray.shutdown()


def map_on_ray(
    function: Callable[..., Any],
    calls: Sequence[dict[str, Any]],
    *,
    address: str | None,
    workers: int | None,
    threads: int = 1,
) -> Iterator[tuple[int, Any]]:
    """``function(**call)`` for each call as a Ray task (``threads`` CPUs and torch threads; run
    again, twice at most, if its worker dies); yields ``(index, result)`` as each finishes, the
    exception as the result of a call that failed. For work that is one task each (a video:
    its tracks stay together)."""
    with cluster(address, workers) as ray:
        remote = ray.remote(num_cpus=threads, max_retries=TASK_RETRIES)(_with_threads(function, threads))
        running = {remote.remote(**call): i for i, call in enumerate(calls)}
        while running:
            (done,), _ = ray.wait(list(running), num_returns=1)
            index = running.pop(done)
            try:
                yield index, ray.get(done)
            except Exception as exc:  # a RayTaskError is also an instance of the call's own error
                yield index, exc


def _with_threads(function: Callable[..., Any], threads: int) -> Callable[..., Any]:
    def call(**kwargs: Any) -> Any:
        torch.set_num_threads(threads)
        return function(**kwargs)

    return call


def run_on_ray(
    config: BatchConfig,
    found: Inputs,
    report: Report,
    boxes: dict[Path, list[Box]] | None,
    hooks: dict[str, Callable[..., Any] | None],
) -> tuple[int, list[str]]:
    """Conceal ``found`` on a Ray cluster (``config.address``; a local one when None), recording
    into ``report``. Returns how many records were kept from the resumed run, and the warnings.

    Groups whose every file an earlier run finished are kept here, without a worker.

    Raises:
        BatchError: Ray is not installed, or the cluster cannot be reached.
    """
    record_problems(report, found)
    kept = Outputs(Path(config.output), report, None)
    todo: list[Group] = []
    resumed = 0
    for key, members in group_files(found.files, config.group_by).items():
        said = len(kept.warnings)
        finished = [record for record in map(kept.done, members) if record is not None]
        if len(finished) < len(members):  # the worker looks again, and warns
            del kept.warnings[said:]
            todo.append((key, members))
            continue
        for record in finished:
            report.add(record)
        resumed += len(members)
    warnings = list(kept.warnings)
    tasks = plan_tasks(todo, crops=config.batch_size, previous=report.previous, boxes=boxes)
    if not tasks:
        return resumed, warnings
    with cluster(config.address, config.workers) as ray:
        done_here, more = _run(ray, config, tasks, report, hooks, total=len(found.files), already=resumed)
    return resumed + done_here, warnings + more


def _run(
    ray: Any,
    config: BatchConfig,
    tasks: list[Task],
    report: Report,
    hooks: dict[str, Callable[..., Any] | None],
    *,
    total: int,
    already: int,
) -> tuple[int, list[str]]:
    threads = config.threads or 1
    cpus = int(ray.cluster_resources().get("CPU", 1))
    n_workers = max(1, min(config.workers or max(1, cpus // threads), len(tasks)))
    Worker = ray.remote(num_cpus=threads, max_restarts=-1, max_task_retries=TASK_RETRIES)(ConcealWorker)
    workers = [Worker.remote(config, hooks, threads) for _ in range(n_workers)]
    resumed, warnings = 0, []
    disable = None if config.progress else True
    desc = f"conceal ({n_workers} Ray workers)"
    with tqdm(total=total, initial=already, unit="image", desc=desc, disable=disable) as bar:
        for task, outcome in _dispatch(ray, workers, tasks):
            if isinstance(outcome, Finished):
                for record in outcome.records:
                    report.add(record)
                resumed += outcome.resumed
                warnings.extend(outcome.warnings)
            else:
                error = f"the Ray worker failed {TASK_RETRIES + 1} times on its task: {describe(outcome)}"
                for key, members in task.groups:
                    for member in members:
                        report.add(
                            Record(
                                input=str(member.path),
                                status="failed",
                                relative=member.relative.as_posix(),
                                group=key,
                                error=error,
                            )
                        )
            bar.update(len(task.files))
    return resumed, warnings


def _dispatch(
    ray: Any, workers: Sequence[Any], tasks: Sequence[Task]
) -> Iterable[tuple[Task, Finished | Exception]]:
    """Give each idle worker the next task; yield each task with its result as it finishes."""
    todo, idle = deque(tasks), list(workers)
    running: dict[Any, tuple[Any, Task]] = {}
    while todo or running:
        while idle and todo:
            worker, task = idle.pop(), todo.popleft()
            running[worker.conceal.remote(task)] = (worker, task)
        (done,), _ = ray.wait(list(running), num_returns=1)
        worker, task = running.pop(done)
        idle.append(worker)
        try:
            outcome: Finished | Exception = ray.get(done)
        except ray.exceptions.RayError as exc:
            outcome = exc
        yield task, outcome

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
and its task run again (``TASK_RETRIES`` times); a task of several groups that still fails is
split into one task per group, so only the group at fault fails: its files are recorded
``failed`` (and any output written for them removed) and the run goes on; a worker dead for good
is replaced, a few times. Records are only taken from finished tasks, so nothing is recorded
twice, and a run killed as a whole resumes with ``--resume`` as a local one. Every path is made
absolute before it is sent: workers may run in other folders, on other machines.

Ray is an optional extra (``pip install 'deid-reid[ray]'``), imported only here and only when
asked for.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
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

    def alone(self) -> list[Task]:
        """This task's groups, one task each."""
        return [_task([group], self.previous, self.boxes) for group in self.groups]


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
        if not Path(config.output).is_dir():
            raise RuntimeError(
                f"the output folder {config.output} is not there on {socket.gethostname()}: "
                "the inputs and the output must be on a filesystem every Ray worker sees"
            )
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
def cluster(address: str | None, cpus: int | None) -> Iterator[Any]:
    """The ``ray`` module, joined to the cluster at ``address`` (``RAY_ADDRESS`` when None and
    set; else a local cluster of ``cpus`` CPUs, all when None) unless this process already is;
    a cluster started here is stopped after.

    Raises:
        BatchError: Ray is not installed, or the cluster cannot be started or reached.
    """
    ray = _ray()
    started_here = not ray.is_initialized()
    if started_here:
        address = address or os.environ.get("RAY_ADDRESS") or None
        _check_reachable(address)
        try:
            ray.init(
                address=address,
                num_cpus=cpus if address is None else None,
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


def _check_reachable(address: str | None, timeout: float = 5.0) -> None:
    """Refuse a ``HOST:PORT`` nobody answers at within ``timeout`` (Ray itself retries for minutes)."""
    if address is None or address == "auto" or "://" in address or ":" not in address:
        return
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except (OSError, ValueError) as exc:
        raise BatchError(
            f"cannot reach Ray at {address}: {describe(exc) if isinstance(exc, OSError) else 'bad port'}; "
            "expected HOST:PORT of a running Ray head (ray start --head), or auto",
            param="address",
        ) from exc


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
    with cluster(address, _local_cpus(workers, threads)) as ray:
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
    groups: dict[str, list[InputFile]] | None = None,
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
    if groups is None:
        groups = group_files(found.files, config.group_by)
    for key, members in groups.items():
        said = len(kept.problems)
        finished = [record for record in map(kept.done, members) if record is not None]
        if len(finished) < len(members):  # the worker looks again, and warns
            del kept.problems[said:]
            todo.append((key, members))
            continue
        for record in finished:
            report.add(record)
        resumed += len(members)
    warnings = list(kept.warnings)
    tasks = plan_tasks(todo, crops=config.batch_size, previous=report.previous, boxes=boxes)
    if not tasks:
        return resumed, warnings
    threads = config.threads or 1
    # the workers may run in other folders, on other machines: every path absolute
    config = replace(
        config,
        output=str(_absolute(config.output)),
        masks=_absolute(config.masks),
        weights=_absolute(config.weights),
    )
    with cluster(config.address, _local_cpus(config.workers, threads)) as ray:
        done_here, more = _run(ray, config, tasks, report, hooks, total=len(found.files), already=resumed)
    return resumed + done_here, warnings + more


def _local_cpus(workers: int | None, threads: int) -> int | None:
    """CPUs of a local cluster for ``workers`` of ``threads`` each, never more than this machine
    has (so too many workers or threads is said, not run oversubscribed); None: all of them."""
    return None if workers is None else min(workers * threads, os.cpu_count() or 1)


def _absolute(path: str | None) -> str | None:
    return None if path is None else str(Path(path).resolve())


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
    cpus = int(ray.cluster_resources().get("CPU", 0))
    room = cpus // threads
    if room < 1:
        raise BatchError(
            f"the Ray cluster has {cpus} CPU(s); each worker needs {threads} (--threads)", param="threads"
        )
    warnings = []
    n_workers = min(config.workers or room, room, len(tasks))
    if config.workers and config.workers > room:
        warnings.append(f"--workers {config.workers}: the cluster has room for {room}; using that many")
    Worker = ray.remote(num_cpus=threads, max_restarts=TASK_RETRIES, max_task_retries=TASK_RETRIES)(
        ConcealWorker
    )

    def start() -> Any:
        return Worker.remote(config, hooks, threads)

    started = time.time()
    resumed = 0
    disable = None if config.progress else True
    desc = f"conceal ({n_workers} Ray workers)"
    with tqdm(total=total, initial=already, unit="image", desc=desc, disable=disable) as bar:
        for task, outcome in _dispatch(ray, start, n_workers, tasks):
            if isinstance(outcome, Finished):
                for record in outcome.records:
                    report.add(record)
                resumed += outcome.resumed
                warnings.extend(outcome.warnings)
            else:
                _fail(report, Path(config.output), task, _why(ray, outcome), since=started)
            bar.update(len(task.files))
    return resumed, warnings


def _why(ray: Any, failure: Exception) -> str:
    if isinstance(failure, ray.exceptions.ActorDiedError):
        return f"its Ray worker died on it (tried {TASK_RETRIES + 1} times): {describe(failure)}"
    if isinstance(failure, ray.exceptions.RayTaskError):
        return f"conceal failed in the Ray worker: {describe(failure.cause) if failure.cause else failure}"
    return str(failure)


def _fail(report: Report, output: Path, task: Task, error: str, *, since: float) -> None:
    """Record a task's files as failed; an output a worker wrote for them before it failed is
    removed (its record is ``failed``, so nothing would check it)."""
    for key, members in task.groups:
        for member in members:
            written = output / member.relative
            with contextlib.suppress(OSError):
                if written.stat().st_mtime >= since:
                    written.unlink()
            report.add(
                Record(
                    input=str(member.path),
                    status="failed",
                    relative=member.relative.as_posix(),
                    group=key,
                    error=error,
                )
            )


#: How many workers may be started in place of ones that died, per worker asked for.
REPLACEMENTS = 2


def _dispatch(
    ray: Any, start: Callable[[], Any], n_workers: int, tasks: Sequence[Task]
) -> Iterator[tuple[Task, Finished | Exception]]:
    """Give each idle worker the next task; yield each task with its result as it finishes.

    A task of several groups that fails is split into one task per group, so only the group at
    fault fails. A worker that died for good is replaced, up to ``REPLACEMENTS`` per worker; when
    none is left, the tasks still to do fail with the last worker's death."""
    todo, idle = deque(tasks), [start() for _ in range(n_workers)]
    spare = REPLACEMENTS * n_workers
    running: dict[Any, tuple[Any, Task]] = {}
    try:
        yield from _loop(ray, start, todo, idle, running, spare)
    finally:  # their CPUs go back to the cluster now, not when Ray notices the handles are gone
        for worker in idle + [w for w, _ in running.values()]:
            ray.kill(worker)


def _loop(
    ray: Any,
    start: Callable[[], Any],
    todo: deque[Task],
    idle: list[Any],
    running: dict[Any, tuple[Any, Task]],
    spare: int,
) -> Iterator[tuple[Task, Finished | Exception]]:
    death: Exception | None = None
    while todo or running:
        while idle and todo:
            worker, task = idle.pop(), todo.popleft()
            running[worker.conceal.remote(task)] = (worker, task)
        if not running:  # tasks left, no worker
            gone = RuntimeError(
                f"no Ray worker is left; the last one died: {describe(death) if death else '?'}"
            )
            while todo:
                yield todo.popleft(), gone
            return
        (done,), _ = ray.wait(list(running), num_returns=1)
        worker, task = running.pop(done)
        try:
            outcome: Finished | Exception = ray.get(done)
        except ray.exceptions.ActorDiedError as exc:  # gone for good: replace it while allowed
            outcome, death = exc, exc
            if spare > 0:
                spare -= 1
                idle.append(start())
        except ray.exceptions.RayError as exc:
            outcome = exc
            idle.append(worker)
        else:
            idle.append(worker)
        if isinstance(outcome, Exception) and len(task.groups) > 1:
            todo.extendleft(reversed(task.alone()))
            continue
        yield task, outcome

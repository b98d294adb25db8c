"""Faults around a batch: two runs into one folder, a killed run, a report that cannot be written."""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from deid.batch import BatchConfig, run_batch
from deid.batch.lock import LOCK_NAME, FolderLock, LockError
from deid.batch.report import ReportError
from deid.cli import main
from tests.conftest import REPO
from tests.deid.conftest import Interrupted, StandIn, tree_hashes

ROOT = REPO

# A real second process: a batch whose second conceal call waits until the file GATE exists.
CHILD = """
import sys, time
from pathlib import Path
from deid.batch import BatchConfig, run_batch
from tests.deid.conftest import StandIn

inputs, output, gate = sys.argv[1:4]
class Waiting(StandIn):
    def __call__(self, images, paths):
        if len(self.calls) == 1:
            print("waiting", flush=True)
            while not Path(gate).exists():
                time.sleep(0.02)
        return super().__call__(images, paths)

config = BatchConfig(inputs=(inputs,), output=output, batch_size=1, progress=False)
print(run_batch(config, conceal_group=Waiting()).counts, flush=True)
"""


def _child(inputs: Path, output: Path, gate: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(inputs), str(output), str(gate)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert child.stdout is not None
    line = child.stdout.readline()  # blocks until the child is inside its run
    assert line.strip() == "waiting", (line, child.stderr.read() if child.stderr else "")
    return child


def _config(inputs: Path, output: Path, **options) -> BatchConfig:
    return BatchConfig(inputs=(str(inputs),), output=str(output), progress=False, **options)


def _journal(path: Path) -> list[dict]:
    text = path.read_text()
    assert text == "" or text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]  # every line parses


def _cli(*args: object, stand_in: StandIn) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        main, ["conceal", *map(str, args), "--no-progress"], obj={"conceal_group": stand_in}
    )
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError("the command raised instead of reporting") from result.exception
    return result.exit_code, result.stdout, result.stderr


# ----------------------------------------------------------------------------- one run per folder


def test_a_second_run_into_a_busy_folder_is_refused_and_touches_nothing(crop_tree, tmp_path):
    out, gate = tmp_path / "out", tmp_path / "gate"
    child = _child(crop_tree, out, gate)
    try:
        lock = json.loads((out / LOCK_NAME).read_text())
        assert lock["pid"] == child.pid and lock["host"] == socket.gethostname()
        before = tree_hashes(out)
        second = StandIn()
        with pytest.raises(LockError, match=rf"in use by another deid conceal run \(PID {child.pid} on host"):
            run_batch(_config(crop_tree, out), conceal_group=second)
        code, _, stderr = _cli(crop_tree, "-o", out, stand_in=second)
        assert code != 0 and f"PID {child.pid}" in stderr and len(stderr.strip().splitlines()) == 1
        assert second.calls == [] and tree_hashes(out) == before  # the other run's files untouched
    finally:
        gate.touch()
        _, stderr = child.communicate(timeout=60)
    assert child.returncode == 0, stderr
    report = json.loads((out / "report.json").read_text())
    assert report["counts"]["ok"] == 7 and len(_journal(out / "report.jsonl")) == 7
    assert not (out / LOCK_NAME).exists()


def test_a_killed_run_leaves_valid_reports_and_a_stale_lock_that_is_taken_over(crop_tree, tmp_path):
    out, gate = tmp_path / "out", tmp_path / "gate"
    child = _child(crop_tree, out, gate)
    child.kill()  # SIGKILL: no cleanup of any kind
    child.communicate(timeout=60)
    json.loads((out / "report.json").read_text())  # still a whole JSON document
    done = _journal(out / "report.jsonl")
    assert len(done) >= 1
    assert json.loads((out / LOCK_NAME).read_text())["pid"] == child.pid
    rest = StandIn()
    summary = run_batch(_config(crop_tree, out, resume=True), conceal_group=rest)
    assert any(f"stale lock {out / LOCK_NAME} left by PID {child.pid}" in w for w in summary.warnings)
    assert "no longer running" in summary.warnings[0]
    assert summary.counts["ok"] == 7 and summary.resumed == len(done)
    assert not (out / LOCK_NAME).exists()


def test_a_lock_from_another_host_is_an_error_and_an_unreadable_one_is_taken_over(crop_tree, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    lock = out / LOCK_NAME
    lock.write_text(json.dumps({"pid": 1, "host": "elsewhere.example", "started": "2026-01-01T00:00:00"}))
    with pytest.raises(LockError, match=r"PID 1 on host elsewhere\.example.*another machine.*delete"):
        run_batch(_config(crop_tree, out), conceal_group=StandIn())
    assert lock.is_file() and sorted(p.name for p in out.iterdir()) == [LOCK_NAME]  # kept, nothing written
    lock.write_text("\x00garbage")
    summary = run_batch(_config(crop_tree, out), conceal_group=StandIn())
    assert summary.counts["ok"] == 7 and "unreadable lock file" in summary.warnings[0]
    assert not lock.exists()


def test_a_lock_in_this_process_is_exclusive_and_released_on_errors(crop_tree, tmp_path):
    out = tmp_path / "out"
    with FolderLock(out) as held, pytest.raises(LockError, match=f"PID {os.getpid()}"):
        assert held.warnings == []
        run_batch(_config(crop_tree, out), conceal_group=StandIn())
    assert not (out / LOCK_NAME).exists()

    with pytest.raises(KeyboardInterrupt):
        run_batch(_config(crop_tree, out), conceal_group=Interrupted(0))
    assert not (out / LOCK_NAME).exists()
    summary = run_batch(_config(crop_tree, out, resume=True), conceal_group=StandIn())
    # crop_tree's x.png leaves every crop alone (no layout for all): the only warning says so
    assert [w for w in summary.warnings if "crops were each concealed alone" not in w] == []
    assert summary.counts["ok"] == 7


def test_the_report_folder_is_locked_too(crop_tree, tmp_path):
    with FolderLock(tmp_path / "reports", param="report"), pytest.raises(LockError, match="report folder"):
        run_batch(
            _config(crop_tree, tmp_path / "out", report=str(tmp_path / "reports" / "r.json")),
            conceal_group=StandIn(),
        )
    assert not (tmp_path / "out").exists()  # made for the lock, removed again when left empty


# ----------------------------------------------------------------------------- the report cannot be written


def test_a_report_path_that_is_a_folder_is_one_line_and_a_failure(crop_tree, tmp_path, stand_in):
    (tmp_path / "out" / "report.json").mkdir(parents=True)
    code, _, stderr = _cli(crop_tree, "-o", tmp_path / "out", stand_in=stand_in)
    assert code == 1 and stderr.strip().splitlines() == [
        f"Error: cannot write the report at {tmp_path / 'out' / 'report.json'}: "
        f"{tmp_path / 'out' / 'report.json'} is a folder, expected a file (IsADirectoryError)"
    ]
    assert stand_in.calls == [] and not (tmp_path / "out" / LOCK_NAME).exists()


def test_a_report_under_a_file_is_one_line_and_a_failure(crop_tree, tmp_path, stand_in):
    (tmp_path / "file").write_text("x")
    code, _, stderr = _cli(
        crop_tree, "-o", tmp_path / "out", "--report", tmp_path / "file" / "r.json", stand_in=stand_in
    )
    assert code == 1 and len(stderr.strip().splitlines()) == 1
    assert stderr.startswith(f"Error: cannot write the report at {tmp_path / 'file'}: ")
    assert stand_in.calls == [] and not (tmp_path / "out").exists()


def test_a_full_disk_under_the_journal_stops_the_run_cleanly(crop_tree, tmp_path, monkeypatch):
    out, journal = tmp_path / "out", tmp_path / "out" / "report.jsonl"
    real_write = os.write
    lines, full = [], set()

    def disk_fills(fd: int, data: bytes) -> int:
        """The third record finds the disk full half way, as the kernel reports it: a short
        write, then ENOSPC for every later write to that file."""
        if fd in full:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        if data.startswith(b'{"input"'):
            lines.append(data)
            if len(lines) == 3:
                full.add(fd)
                return real_write(fd, data[: len(data) // 2])
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", disk_fills)
    code, _, stderr = _cli(crop_tree, "-o", out, "--batch-size", "1", stand_in=StandIn())
    monkeypatch.undo()
    assert code == 1 and len(stderr.strip().splitlines()) == 1, stderr
    assert f"cannot write the report at {journal}: No space left on device" in stderr
    assert "--resume" in stderr and "Traceback" not in stderr
    assert len(_journal(journal)) == 2  # the torn third line was cut off again: valid JSONL
    assert json.loads((out / "report.json").read_text())["format"] == "deid-conceal-report"
    assert not (out / LOCK_NAME).exists()
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    again = StandIn()
    summary = run_batch(_config(crop_tree, out, resume=True), conceal_group=again)
    assert summary.counts["ok"] == 7 and summary.resumed >= 1


def test_a_full_disk_at_the_last_report_write_keeps_the_last_complete_report(
    crop_tree, tmp_path, monkeypatch
):
    out = tmp_path / "out"
    real_replace = os.replace
    replaced = []

    def disk_fills(src, dst) -> None:
        if Path(dst).name.startswith("report."):
            replaced.append(Path(dst).name)
            if len(replaced) > 2:  # the first JSON and CSV (empty) go through, then the disk is full
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", disk_fills)
    code, _, stderr = _cli(crop_tree, "-o", out, stand_in=StandIn())
    monkeypatch.undo()
    assert code == 1 and len(stderr.strip().splitlines()) == 1 and "No space left on device" in stderr
    report = json.loads((out / "report.json").read_text())
    assert report["records"] == []  # the last complete one, not a half one
    assert (out / "report.csv").read_text().count("\n") == 1  # its header, matching the JSON
    assert len(_journal(out / "report.jsonl")) == 7  # nothing finished is lost
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    again = StandIn()
    summary = run_batch(_config(crop_tree, out, resume=True), conceal_group=again)
    assert again.calls == [] and summary.resumed == 7


def test_report_error_says_what_failed():
    error = ReportError(
        Path("out/report.json"), OSError(errno.EROFS, os.strerror(errno.EROFS)), during_run=True
    )
    assert str(error).startswith(
        "cannot write the report at out/report.json: Read-only file system (OSError)"
    )
    assert error.param == "report" and "rerun with --resume" in str(error)

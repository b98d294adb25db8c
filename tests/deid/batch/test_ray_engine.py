"""``--engine ray``: the same outputs and report as the local engine, on a real local Ray cluster;
workers killed mid-task; resume; tasks that keep one person together."""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import ray
import torch

from deid.batch import BatchConfig, BatchError, run_batch, verify
from deid.batch.grouping import group_files
from deid.batch.inputs import collect_inputs
from deid.batch.ray_engine import ConcealWorker, Task, plan_tasks
from deid.loop import ConcealConfig
from tests.conftest import REPO
from tests.deid.conftest import StandIn, tree_hashes, write_crop


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    """A two-CPU Ray cluster inside the test process, shared by the tests of this module."""
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        logging_level="ERROR",
        # the workers import this module (its stand-ins) as pytest did: by its folder
        runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join([str(REPO), str(Path(__file__).parent)])}},
    )
    yield
    ray.shutdown()


def _records(report: Path) -> dict[str, dict]:
    return {r["input"]: r for r in json.loads(report.read_text())["records"]}


def _journal_inputs(report: Path) -> list[str]:
    lines = report.with_suffix(".jsonl").read_text().splitlines()
    return [json.loads(line)["input"] for line in lines]


def _people(root: Path, n: int) -> Path:
    for pid in range(n):
        write_crop(root / "cam_a" / f"{pid:03d}_45.bmp", seed=2 * pid)
        write_crop(root / "cam_b" / f"{pid:03d}_90.bmp", seed=2 * pid + 1)
    return root


def _on_ray(root: Path, out: Path, **options: Any) -> BatchConfig:
    return BatchConfig(inputs=(str(root),), output=str(out), progress=False, engine="ray", **options)


def test_tasks_hold_whole_groups_of_about_the_batch_size(tmp_path):
    found = collect_inputs([str(_people(tmp_path / "in", 7))], output=tmp_path / "out")
    groups = list(group_files(found.files, "auto").items())
    tasks = plan_tasks(groups, crops=5, previous={}, boxes=None)
    assert [len(t.files) for t in tasks] == [6, 6, 2]  # 3 persons of 2 crops reach 5; the rest
    assert [g for t in tasks for g in t.groups] == groups
    assert all(len({m.path.name[:3] for m in members}) == 1 for t in tasks for _, members in t.groups)


def test_a_worker_outside_ray_conceals_its_task_like_the_local_runner(tmp_path):
    """The actor's class works as a plain object: records for every file, outputs written."""
    root = _people(tmp_path / "in", 2)
    config = BatchConfig(inputs=(str(root),), output=str(tmp_path / "out"), progress=False)
    found = collect_inputs(config.inputs, output=Path(config.output))
    groups = list(group_files(found.files, "auto").items())
    Path(config.output).mkdir()  # the driver's lock makes it before any worker starts
    finished = ConcealWorker(config, {"conceal_group": StandIn()}, threads=1).conceal(Task(groups, {}, None))
    assert sorted(r.status for r in finished.records) == ["ok"] * 4
    assert all(Path(str(r.output)).is_file() for r in finished.records)


@pytest.mark.viper
def test_ray_outputs_are_byte_identical_to_the_local_engines_on_20_viper_persons(
    tmp_path, viper_root, cluster
):
    root = tmp_path / "in"
    for pid in sorted({p.name[:3] for p in (viper_root / "cam_a").iterdir()})[:20]:
        for cam in ("cam_a", "cam_b"):
            (source,) = (viper_root / cam).glob(f"{pid}_*.bmp")
            (root / cam).mkdir(parents=True, exist_ok=True)
            (root / cam / source.name).write_bytes(source.read_bytes())
    loop = ConcealConfig(seed=0)
    # one torch thread, as each Ray worker has: sums, so near-ties, change with the thread count
    local = BatchConfig(
        inputs=(str(root),), output=str(tmp_path / "local"), loop=loop, progress=False, threads=1
    )
    on_ray = BatchConfig(
        inputs=(str(root),),
        output=str(tmp_path / "ray"),
        loop=loop,
        progress=False,
        engine="ray",
        workers=2,
        batch_size=8,  # other batches than the local run's 32: the outputs must not care
    )
    first, second = run_batch(local), run_batch(on_ray)
    assert first.counts == second.counts and first.counts["ok"] == 40
    assert first.still_matched == second.still_matched
    hashes = {k: v for k, v in tree_hashes(tmp_path / "local").items() if not k.startswith("report.")}
    assert hashes == {k: v for k, v in tree_hashes(tmp_path / "ray").items() if not k.startswith("report.")}
    a, b = _records(first.report_json), _records(second.report_json)
    assert a.keys() == b.keys()
    for key in a:
        for field in ("sha256", "success", "area", "outfit", "steps", "fallback", "treatment"):
            assert a[key][field] == b[key][field], (key, field)
    settings = [json.loads(s.report_json.read_text())["settings"] for s in (first, second)]
    assert settings[0] | {"output": None} == settings[1] | {"output": None}  # the engine is not a setting
    checked = verify(second.report_json)  # deid verify reads a Ray run's report as a local one's
    assert not checked.failures and checked.counts() == verify(first.report_json).counts()


class KillsItsWorker(StandIn):
    """Kills its own process (SIGKILL, as an out-of-memory killer would) the first time it is
    given ``victim``, or every time with ``always``; else the stand-in's grey crops."""

    def __init__(self, victim: str, marker: Path, *, always: bool = False) -> None:
        super().__init__()
        self.victim, self.marker, self.always = victim, marker, always

    def __call__(self, images: list[torch.Tensor], paths: list[Path]) -> list:
        if any(p.name == self.victim for p in paths) and (self.always or not self.marker.exists()):
            with open(self.marker, "a") as f:
                f.write(f"{os.getpid()}\n")
            os.kill(os.getpid(), signal.SIGKILL)
        return super().__call__(images, paths)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_worker_killed_mid_task_is_retried_and_nothing_is_lost_or_recorded_twice(tmp_path, cluster):
    root = _people(tmp_path / "in", 6)
    marker = tmp_path / "killed"
    config = _on_ray(root, tmp_path / "out", workers=2, batch_size=2)
    summary = run_batch(config, conceal_group=KillsItsWorker("003_45.bmp", marker))
    assert len(marker.read_text().split()) == 1  # the worker did die, once
    assert summary.counts == {"ok": 12, "failed": 0, "skipped": 0, "no_person": 0}
    journal = _journal_inputs(summary.report_json)
    assert len(journal) == len(set(journal)) == 12
    records = _records(summary.report_json)
    assert all(Path(r["output"]).is_file() for r in records.values())


def test_a_task_that_kills_every_worker_fails_its_files_and_the_run_goes_on(tmp_path, cluster):
    root = _people(tmp_path / "in", 4)
    config = _on_ray(root, tmp_path / "out", workers=2, batch_size=2)
    summary = run_batch(config, conceal_group=KillsItsWorker("001_90.bmp", tmp_path / "killed", always=True))
    records = _records(summary.report_json)
    failed = sorted(Path(k).name for k, r in records.items() if r["status"] == "failed")
    assert failed == ["001_45.bmp", "001_90.bmp"]
    assert "died on it (tried 3 times)" in records[str(root / "cam_b" / "001_90.bmp")]["error"]
    assert summary.counts["ok"] == 6 and summary.exit_code == 1
    assert len((tmp_path / "killed").read_text().split()) == 3


def test_a_failing_task_of_several_people_is_split_so_only_the_one_at_fault_fails(tmp_path, cluster):
    root = _people(tmp_path / "in", 3)  # tasks of 4 crops: persons 000 and 001 together, then 002
    marker = tmp_path / "killed"
    summary = run_batch(
        _on_ray(root, tmp_path / "out", workers=1, batch_size=4),
        conceal_group=KillsItsWorker("001_45.bmp", marker, always=True),
    )
    records = _records(summary.report_json)
    status = {Path(k).name: r["status"] for k, r in records.items()}
    assert status == {
        "000_45.bmp": "ok",
        "000_90.bmp": "ok",
        "001_45.bmp": "failed",
        "001_90.bmp": "failed",
        "002_45.bmp": "ok",
        "002_90.bmp": "ok",
    }
    assert not (tmp_path / "out" / "cam_a" / "001_45.bmp").exists()
    assert all(Path(r["output"]).is_file() for r in records.values() if r["status"] == "ok")


class CannotLoad(StandIn):
    """A conceal function no worker can load (as a model file only the driver can read)."""

    def __setstate__(self, state: dict) -> None:
        raise RuntimeError("this worker cannot load the models")


def test_workers_that_cannot_start_fail_every_file_with_the_reason_and_the_run_ends(tmp_path, cluster):
    root = _people(tmp_path / "in", 3)
    summary = run_batch(_on_ray(root, tmp_path / "out", workers=1, batch_size=2), conceal_group=CannotLoad())
    records = _records(summary.report_json)
    assert summary.counts["failed"] == 6 and summary.exit_code == 1
    assert all("cannot load the models" in r["error"] for r in records.values()), records


def test_more_threads_than_the_cluster_has_is_a_clear_error(tmp_path, cluster):
    root = _people(tmp_path / "in", 1)
    with pytest.raises(BatchError, match=r"cluster has 2 CPU\(s\); each worker needs 3"):
        run_batch(_on_ray(root, tmp_path / "out", threads=3), conceal_group=StandIn())


def test_an_address_nobody_answers_at_is_refused_at_once():
    """Ray itself retries such an address for minutes (checked before joining; with this
    module's cluster running, ``run_batch`` would join that one instead)."""
    import time

    from deid.batch.ray_engine import _check_reachable

    start = time.monotonic()
    with pytest.raises(BatchError, match=r"cannot reach Ray at 127\.0\.0\.1:1"):
        _check_reachable("127.0.0.1:1")
    assert time.monotonic() - start < 10
    _check_reachable("auto")  # left to Ray


def test_relative_paths_mean_the_drivers_folder_whatever_the_workers_is(tmp_path, cluster, monkeypatch):
    _people(tmp_path / "in", 1)
    monkeypatch.chdir(tmp_path)  # the workers were started in another folder
    summary = run_batch(_on_ray(Path("in"), Path("out"), workers=1), conceal_group=StandIn())
    assert summary.counts["ok"] == 2
    assert sorted(p.name for p in (tmp_path / "out").rglob("*.bmp")) == ["000_45.bmp", "000_90.bmp"]


def test_resume_on_ray_redoes_only_what_is_missing(tmp_path, cluster, monkeypatch):
    root = _people(tmp_path / "in", 3)
    out = tmp_path / "out"
    config = _on_ray(root, out, workers=1)
    assert run_batch(config, conceal_group=StandIn()).counts["ok"] == 6
    (out / "cam_b" / "002_90.bmp").unlink()
    again = run_batch(BatchConfig(**{**config.__dict__, "resume": True}), conceal_group=StandIn())
    assert again.counts["ok"] == 6 and again.resumed == 4  # person 002 redone whole: one treatment
    assert (out / "cam_b" / "002_90.bmp").is_file()

    def no_ray():
        raise AssertionError("a finished run must not start Ray")

    monkeypatch.setattr("deid.batch.ray_engine._ray", no_ray)
    done = run_batch(BatchConfig(**{**config.__dict__, "resume": True}), conceal_group=StandIn())
    assert done.resumed == 6 and done.counts["ok"] == 6


def test_without_ray_installed_the_error_says_how_to_get_it(tmp_path, monkeypatch):
    root = _people(tmp_path / "in", 1)
    monkeypatch.setitem(sys.modules, "ray", None)
    config = BatchConfig(inputs=(str(root),), output=str(tmp_path / "out"), progress=False, engine="ray")
    with pytest.raises(BatchError, match=r"pip install 'deid-reid\[ray\]'"):
        run_batch(config, conceal_group=StandIn())


def test_ray_options_are_refused_with_the_local_engine(tmp_path):
    with pytest.raises(BatchError, match="for engine 'ray'"):
        BatchConfig(inputs=("x",), output=str(tmp_path), workers=2)
    with pytest.raises(BatchError, match="workers must be >= 1"):
        BatchConfig(inputs=("x",), output=str(tmp_path), engine="ray", workers=0)


def test_the_cli_runs_on_ray_and_refuses_ray_options_without_it(tmp_path, cluster):
    from click.testing import CliRunner

    from deid.cli import main

    root = _people(tmp_path / "in", 2)
    out = tmp_path / "out"
    args = ["conceal", str(root), "-o", str(out), "--no-progress"]
    result = CliRunner().invoke(
        main, [*args, "--engine", "ray", "--workers", "1"], obj={"conceal_group": StandIn()}
    )
    assert result.exit_code == 0, result.output
    assert "4 ok" in result.output and len(_records(out / "report.json")) == 4
    refused = CliRunner().invoke(main, [*args, "--workers", "2"], obj={"conceal_group": StandIn()})
    assert refused.exit_code == 2 and "--engine" in refused.output and "for engine 'ray'" in refused.output
    video = CliRunner().invoke(main, [*args, "--as-video", "--address", "auto"])
    assert video.exit_code == 2 and "--engine ray" in video.output


def test_a_video_on_ray_is_the_local_engines_frame_for_frame(tmp_path, pets_video, cluster):
    """Twelve real PETS frames as a folder of frames: one Ray task, the same frames and tracks."""
    import av
    from click.testing import CliRunner

    from deid.cli import main

    frames = tmp_path / "clip"
    frames.mkdir()
    with av.open(str(pets_video)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i >= 412:
                break
            if i >= 400:
                frame.to_image().save(frames / f"{i:04d}.png")
    runs = {}
    for engine in ("local", "ray"):
        out = tmp_path / engine
        args = [
            "conceal",
            str(frames),
            "--as-video",
            "-o",
            str(out),
            "--no-progress",
            "--seed",
            "0",
            "--threads",
            "1",
        ]
        result = CliRunner().invoke(main, [*args, "--engine", engine])
        assert result.exit_code in (0, 3), result.output
        assert "12 frames read, 12 written" in result.output
        runs[engine] = out
    assert tree_hashes(runs["local"] / "clip") == tree_hashes(runs["ray"] / "clip")
    reports = [json.loads((runs[e] / "clip.json").read_text()) for e in ("local", "ray")]
    assert [t["treatment"] for t in reports[0]["tracks"]] == [t["treatment"] for t in reports[1]["tracks"]]
    assert reports[0]["tracks"]


def test_boxes_given_for_frames_reach_the_ray_workers(tmp_path, cluster):
    """Frames with ``--boxes``: each worker gets its frames' boxes; outputs as the local engine's."""
    import cv2
    import numpy as np

    examples = REPO / "examples" / "images"
    boxes = {}
    for i, name in enumerate(("cam_a/001_45.bmp", "cam_b/001_90.bmp")):
        frame = np.full((300, 400, 3), 90, np.uint8)
        crop = cv2.imread(str(examples / name))
        frame[40 : 40 + crop.shape[0], 60 + 100 * i : 60 + 100 * i + crop.shape[1]] = crop
        (tmp_path / "in").mkdir(exist_ok=True)
        cv2.imwrite(str(tmp_path / "in" / f"frame{i}.png"), frame)
        boxes[f"frame{i}.png"] = [[60 + 100 * i, 40, crop.shape[1], crop.shape[0]]]
    (tmp_path / "boxes.json").write_text(json.dumps(boxes))
    runs = {}
    for engine in ("local", "ray"):
        options: dict[str, Any] = {"engine": "ray", "workers": 2, "batch_size": 1} if engine == "ray" else {}
        config = BatchConfig(
            inputs=(str(tmp_path / "in"),),
            output=str(tmp_path / engine),
            boxes=str(tmp_path / "boxes.json"),
            progress=False,
            **options,
        )
        runs[engine] = run_batch(config, conceal_group=StandIn())
    assert runs["ray"].counts["ok"] == 2
    frames = [{k: v for k, v in tree_hashes(tmp_path / e).items() if k.endswith(".png")} for e in runs]
    assert len(frames[0]) == 2 and frames[0] == frames[1]
    records = _records(runs["ray"].report_json)
    assert sorted(r["boxes"] for r in records.values()) == sorted(boxes.values())


def test_a_local_cluster_never_claims_more_cpus_than_the_machine_has():
    from deid.batch.ray_engine import _local_cpus

    cpus = os.cpu_count() or 1
    assert _local_cpus(None, 1) is None  # Ray counts them itself
    assert _local_cpus(1, 1) == 1
    assert _local_cpus(4 * cpus, 1) == cpus and _local_cpus(1, 8 * cpus) == cpus

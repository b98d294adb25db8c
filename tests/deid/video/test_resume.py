"""A killed video run takes up its saved work: the frames followed, the tracks decided."""

from __future__ import annotations

from pathlib import Path

import pytest

import deid.video.run as run
from deid.adversary import Adversary
from deid.loop import ConcealConfig
from deid.video import Follower, conceal_video
from tests.deid.video.conftest import walking_folder


def _frames_of(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _conceal(source: Path, output: Path, adversary: Adversary, *, resume: bool = False, seed: int = 0):
    return conceal_video(
        source,
        output,
        config=ConcealConfig(seed=seed),
        adversary=adversary,
        progress=False,
        look_every=0,
        segment=5,
        resume=resume,
    )


def test_a_killed_run_resumes_at_its_last_segment(
    stand_ins: None, adversary: Adversary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = walking_folder(tmp_path)
    step, treat = Follower.step, run._treat_chunk
    monkeypatch.setattr(run, "CHUNK", 1)  # a chunk per track: two pieces of decided work
    never_stopped = _conceal(source, tmp_path / "a" / "frames", adversary)
    assert len(never_stopped.tracks) == 2
    output = tmp_path / "b" / "frames"
    work = output.with_name(".frames.deid")

    def killed_at(index: int):
        def dying(self: Follower, frame) -> None:
            if frame.index == index:
                raise KeyboardInterrupt
            step(self, frame)

        return dying

    monkeypatch.setattr(Follower, "step", killed_at(13))
    with pytest.raises(KeyboardInterrupt):
        _conceal(source, output, adversary)
    assert (work / "follow.pt").is_file() and not output.exists()

    stepped: list[int] = []

    def counting(self: Follower, frame) -> None:
        stepped.append(frame.index)
        step(self, frame)

    calls: list[range] = []

    def second_dies(chunk, *args):
        calls.append(chunk)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return treat(chunk, *args)

    monkeypatch.setattr(Follower, "step", counting)
    monkeypatch.setattr(run, "_treat_chunk", second_dies)
    with pytest.raises(KeyboardInterrupt):
        _conceal(source, output, adversary, resume=True)
    assert stepped == list(range(10, 24))  # from the last segment saved (frame 10), not frame 0
    assert (work / "decided-0.pt").is_file() and not (work / "decided-1.pt").exists()

    stepped.clear()
    calls.clear()
    monkeypatch.setattr(run, "_treat_chunk", treat)
    resumed = _conceal(source, output, adversary, resume=True)
    assert stepped == [] and resumed.notes[0].startswith("resumed from the work saved")
    # the same video as the run never stopped, and the saved work gone
    assert _frames_of(output) == _frames_of(tmp_path / "a" / "frames")
    assert [t.private for t in resumed.tracks] == [t.private for t in never_stopped.tracks]
    assert not work.exists()


def test_saved_work_of_other_settings_is_not_taken_up(
    stand_ins: None, adversary: Adversary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = walking_folder(tmp_path)
    output = tmp_path / "out" / "frames"
    step = Follower.step

    def dying(self: Follower, frame) -> None:
        if frame.index == 7:
            raise KeyboardInterrupt
        step(self, frame)

    monkeypatch.setattr(Follower, "step", dying)
    with pytest.raises(KeyboardInterrupt):
        _conceal(source, output, adversary)
    stepped: list[int] = []

    def counting(self: Follower, frame) -> None:
        stepped.append(frame.index)
        step(self, frame)

    monkeypatch.setattr(Follower, "step", counting)
    report = _conceal(source, output, adversary, resume=True, seed=1)
    assert "another source or settings: started over" in report.notes[0]
    assert stepped == list(range(24))


def test_saved_work_that_cannot_be_read_back_is_done_again(
    stand_ins: None, adversary: Adversary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = walking_folder(tmp_path)
    output = tmp_path / "out" / "frames"
    step = Follower.step

    def dying(self: Follower, frame) -> None:
        if frame.index == 7:
            raise KeyboardInterrupt
        step(self, frame)

    monkeypatch.setattr(Follower, "step", dying)
    with pytest.raises(KeyboardInterrupt):
        _conceal(source, output, adversary)
    saved = output.with_name(".frames.deid") / "follow.pt"
    saved.write_bytes(saved.read_bytes()[:100])  # damaged on disk
    monkeypatch.setattr(Follower, "step", step)
    report = _conceal(source, output, adversary, resume=True)
    assert report.notes[0].startswith("resumed from the work saved")
    assert any("cannot be read back" in note and "done again" in note for note in report.notes)
    assert report.frames_written == 24 and len(report.tracks) == 2

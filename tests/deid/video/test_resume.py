"""A killed video run takes up its saved work: the frames followed, the tracks decided."""

from __future__ import annotations

from pathlib import Path

import pytest

import deid.video.run as run
from deid.adversary import Adversary
from deid.loop import ConcealConfig
from deid.video import FollowConfig, Follower, Frame, Sighting, conceal_video
from deid.video.resume import Checkpoints, SavedFollower
from tests.deid.video.conftest import walking_folder, walking_frames


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


def _kill_at(
    index: int, source: Path, output: Path, adversary: Adversary, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run killed as it reaches frame ``index`` of following."""
    step = Follower.step

    def dying(self: Follower, frame: Frame, *, last: bool = False) -> None:
        if frame.index == index:
            raise KeyboardInterrupt
        step(self, frame, last=last)

    monkeypatch.setattr(Follower, "step", dying)
    with pytest.raises(KeyboardInterrupt):
        _conceal(source, output, adversary)
    monkeypatch.setattr(Follower, "step", step)


def _count_steps(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The frames followed from now on, in order."""
    stepped: list[int] = []
    step = Follower.step

    def counting(self: Follower, frame: Frame, *, last: bool = False) -> None:
        stepped.append(frame.index)
        step(self, frame, last=last)

    monkeypatch.setattr(Follower, "step", counting)
    return stepped


def test_a_killed_run_resumes_at_its_last_segment(
    stand_ins: None, adversary: Adversary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = walking_folder(tmp_path)
    treat = run._treat_chunk
    monkeypatch.setattr(run, "CHUNK", 1)  # a chunk per track: two pieces of decided work
    never_stopped = _conceal(source, tmp_path / "a" / "frames", adversary)
    assert len(never_stopped.tracks) == 2
    output = tmp_path / "b" / "frames"
    work = output.with_name(".frames.deid")
    _kill_at(13, source, output, adversary, monkeypatch)
    assert (work / "follow.pt").is_file() and not output.exists()

    stepped = _count_steps(monkeypatch)
    calls: list[range] = []

    def second_dies(chunk, *args):
        calls.append(chunk)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return treat(chunk, *args)

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
    _kill_at(7, source, output, adversary, monkeypatch)
    stepped = _count_steps(monkeypatch)
    report = _conceal(source, output, adversary, resume=True, seed=1)
    assert "another source or settings: started over" in report.notes[0]
    assert stepped == list(range(24))


def test_saved_work_that_cannot_be_read_back_is_done_again(
    stand_ins: None, adversary: Adversary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = walking_folder(tmp_path)
    output = tmp_path / "out" / "frames"
    _kill_at(7, source, output, adversary, monkeypatch)
    saved = output.with_name(".frames.deid") / "follow.pt"
    saved.write_bytes(saved.read_bytes()[:100])  # damaged on disk
    report = _conceal(source, output, adversary, resume=True)
    assert report.notes[0].startswith("resumed from the work saved")
    assert any("cannot be read back" in note and "done again" in note for note in report.notes)
    assert report.frames_written == 24 and len(report.tracks) == 2


def _rows(by_frame: list[list[Sighting]]) -> list[tuple]:
    return [
        (s.frame, s.track, tuple(s.box), s.how, s.crop.tolist(), s.silhouette.tolist())
        for frame in by_frame
        for s in frame
    ]


def test_the_follower_is_saved_without_writing_a_settled_frame_twice(
    stand_ins: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = FollowConfig(detect_every=2, thorough_every=0, motion=False)  # two recent frames kept
    frames = walking_frames(17, {0: (0, 16, 5), 1: (3, 16, 60)})
    whole = Follower(config, 10.0)
    for frame in frames:
        whole.step(frame)

    saved = Checkpoints(tmp_path / "out.mp4", {"k": 1}, resume=False)
    written: list[tuple[str, int]] = []
    save = saved.save
    monkeypatch.setattr(
        saved, "save", lambda name, state: written.append((name, frame.index)) or save(name, state)
    )
    saves, follower = SavedFollower(saved), Follower(config, 10.0)
    for frame in frames[:15]:
        follower.step(frame)
        if (frame.index + 1) % 5 == 0:
            saves.save(follower)
    pieces = [name for name, _ in written if name != "follow"]
    assert pieces == ["follow-frames-0", "follow-frames-3", "follow-frames-8"]  # each frame once
    assert len(saved.load("follow")[1]["by_frame"]) == 2  # the frames still open

    again = SavedFollower(saved)
    resumed = again.load()
    assert resumed is not None and again.pieces == 13
    for frame in frames[15:]:
        resumed.step(frame)
    assert _rows(resumed.by_frame) == _rows(whole.by_frame)  # as if never stopped

    (saved.folder / "follow-frames-3.pt").unlink()
    assert SavedFollower(saved).load() is None
    assert "frames 3- of the saved following are missing: followed again" in saved.notes
    saved.save("follow", follower)  # as an earlier release saved it
    assert SavedFollower(saved).load() is None
    assert "the saved following is of another release: followed again" in saved.notes

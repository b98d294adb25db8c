"""``deid verify`` on a concealed video: the written video judged again against its report."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import deid.video.verification as verification
from deid.adversary import Adversary
from deid.cli import main
from deid.video import VideoError, VideoReport, conceal_video, verify_video, video_reports
from reid_model import embed
from tests.conftest import TinyEmbedder
from tests.deid.video.conftest import patch_stand_ins, walking_folder


@pytest.fixture(scope="module")
def tiny() -> Adversary:
    """The ``adversary`` fixture's tiny adversary, built once for the module."""
    torch.manual_seed(0)
    model = TinyEmbedder().eval()
    gallery = embed(model, torch.rand(20, 3, 128, 48, generator=torch.Generator().manual_seed(0)))
    return Adversary([model], [gallery], top_k=1)


@pytest.fixture(scope="module")
def run_once(tiny: Adversary, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two people walking through a folder of frames, concealed once into ``out/frames``."""
    root = tmp_path_factory.mktemp("run")
    with pytest.MonkeyPatch.context() as patch:
        patch_stand_ins(patch)
        conceal_video(
            walking_folder(root), root / "out" / "frames", adversary=tiny, look_every=0, progress=False
        )
    return root


@pytest.fixture
def concealed(run_once: Path, tmp_path: Path) -> tuple[Path, VideoReport]:
    """A copy of the module's run (its report naming the copies): each test may spoil its own."""
    shutil.copytree(run_once, tmp_path, dirs_exist_ok=True)
    path = tmp_path / "out" / "frames.json"
    saved = json.loads(path.read_text())
    saved["source"], saved["output"] = str(tmp_path / "frames"), str(tmp_path / "out" / "frames")
    path.write_text(json.dumps(saved))
    return path, VideoReport.read(path)


def test_a_video_as_written_holds_its_report(concealed: tuple[Path, VideoReport], tiny: Adversary) -> None:
    path, report = concealed
    assert video_reports(path) == [path] and video_reports(path.parent) == [path]
    sightings = sum(len(t.sightings) for t in report.tracks)
    assert sum(t.private_frames for t in report.tracks) == sightings, "the tiny adversary defeated"
    result = verify_video(path, adversary=tiny)
    assert result.problems == [] and result.contradicted == [] and result.exit_code == 0
    assert result.counts == {"verified": sightings, "not_private": 0, "contradicted": 0, "private_now": 0}
    assert result.tracks == (len(report.tracks), len(report.tracks))
    assert all(len(t.references) == 4 for t in report.tracks)
    # a sighting the report calls matched is counted as such, not as a failure
    saved = json.loads(path.read_text())
    saved["tracks"][0]["sightings"][3][6] = False
    path.write_text(json.dumps(saved))
    result = verify_video(path, adversary=tiny)
    assert result.counts["private_now"] == 1 and result.counts["verified"] == sightings - 1
    assert result.exit_code == 0


def test_a_video_put_back_in_the_clear_is_contradicted(
    concealed: tuple[Path, VideoReport], tiny: Adversary, tmp_path: Path
) -> None:
    path, report = concealed
    for frame in (tmp_path / "frames").iterdir():  # the originals over the concealed frames
        shutil.copyfile(frame, path.with_suffix("") / frame.name)
    result = verify_video(path, adversary=tiny)
    assert any("changed since the run" in p for p in result.problems) and result.exit_code == 1
    reported = {(t.track, s[0]) for t in report.tracks for s in t.sightings if s[6]}
    assert set(result.contradicted) == reported and result.counts["verified"] == 0


def test_a_changed_source_is_said_and_nothing_judged(
    concealed: tuple[Path, VideoReport], tiny: Adversary, tmp_path: Path
) -> None:
    path, _ = concealed
    first = sorted((tmp_path / "frames").iterdir())[0]
    shutil.copyfile(sorted((tmp_path / "frames").iterdir())[1], first)
    result = verify_video(path, adversary=tiny)
    assert result.exit_code == 1 and sum(result.counts.values()) == 0
    assert [p for p in result.problems if p.startswith("source") and "changed since the run" in p]
    shutil.rmtree(tmp_path / "frames")
    gone = verify_video(path, adversary=tiny)
    assert gone.exit_code == 1 and gone.problems[0].startswith("source: video")


def test_a_report_without_references_or_of_another_kind_is_refused(
    concealed: tuple[Path, VideoReport], tmp_path: Path
) -> None:
    path, _ = concealed
    saved = json.loads(path.read_text())
    for track in saved["tracks"]:
        track.pop("references")
    older = tmp_path / "older.json"
    older.write_text(json.dumps(saved))
    with pytest.raises(VideoError, match="conceal the video again"):
        verify_video(older)
    (tmp_path / "other.json").write_text(json.dumps({"format": "deid-conceal-report", "records": []}))
    with pytest.raises(VideoError, match="not a deid video report"):
        verify_video(tmp_path / "other.json")
    assert video_reports(tmp_path / "other.json") == []


def test_cli_verifies_the_videos_of_an_output_folder(
    concealed: tuple[Path, VideoReport], tiny: Adversary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = concealed
    monkeypatch.setattr(verification, "_bundled", lambda report, path, device: tiny)
    result = CliRunner().invoke(main, ["verify", str(path.parent)])
    assert result.exit_code == 0, result.output
    assert "contradicted (reported private, matched as written)      0" in result.output
    assert "the written video holds every verdict of its report" in result.output
    refused = CliRunner().invoke(main, ["verify", str(path), "--weights", "x.pt"])
    assert refused.exit_code == 2 and "--weights" in refused.output
    for frame in (tmp_path / "frames").iterdir():
        shutil.copyfile(frame, path.with_suffix("") / frame.name)
    tampered = CliRunner().invoke(main, ["verify", str(path)])
    assert tampered.exit_code == 1 and "changed since the run" in tampered.output
    assert "contradicted: track" in tampered.output

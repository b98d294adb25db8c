"""``deid verify`` on a concealed video: the written video judged again against its report."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner

import deid.video.run as run
import deid.video.verification as verification
from deid.adversary import Adversary
from deid.cli import main
from deid.environment import environment
from deid.video import VideoError, VideoReport, conceal_video, unreported, verify_video, video_reports
from deid.video.judging import Judge
from reid_model import embed
from tests.conftest import TinyEmbedder
from tests.deid.video.conftest import patch_stand_ins, walking_folder


def _recording(calls: list[Any]) -> type[Judge]:
    """A :class:`Judge` that notes each judge's tracks' frames, reference frames and gap."""

    class Recorded(Judge):
        def __init__(self, tracks: Any, adversary: Adversary, *, references: Any, gap: int) -> None:
            super().__init__(tracks, adversary, references=references, gap=gap)
            frames = [[s.frame for s in t] for t in tracks]
            calls.append((frames, [[s.frame for s in r] for r in self.references], gap))

    return Recorded


@pytest.fixture(scope="module")
def tiny() -> Adversary:
    """The ``adversary`` fixture's tiny adversary, built once for the module."""
    torch.manual_seed(0)
    model = TinyEmbedder().eval()
    gallery = embed(model, torch.rand(20, 3, 128, 48, generator=torch.Generator().manual_seed(0)))
    return Adversary([model], [gallery], top_k=1)


@pytest.fixture(scope="module")
def run_once(tiny: Adversary, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Any]]:
    """Two people walking through a folder of frames, concealed once into ``out/frames``; the
    run's judge as :func:`_recording` noted it."""
    root, calls = tmp_path_factory.mktemp("run"), []
    with pytest.MonkeyPatch.context() as patch:
        patch_stand_ins(patch)
        patch.setattr(run, "Judge", _recording(calls))
        conceal_video(
            walking_folder(root), root / "out" / "frames", adversary=tiny, look_every=0, progress=False
        )
    return root, calls


@pytest.fixture
def concealed(run_once: tuple[Path, list[Any]], tmp_path: Path) -> tuple[Path, VideoReport]:
    """A copy of the module's run (its report naming the copies): each test may spoil its own."""
    shutil.copytree(run_once[0], tmp_path, dirs_exist_ok=True)
    path = tmp_path / "out" / "frames.json"
    saved = json.loads(path.read_text())
    saved["source"], saved["output"] = str(tmp_path / "frames"), str(tmp_path / "out" / "frames")
    path.write_text(json.dumps(saved))
    return path, VideoReport.read(path)


def _edited(path: Path, edit: Any) -> Path:
    saved = json.loads(path.read_text())
    edit(saved)
    path.write_text(json.dumps(saved))
    return path


def test_a_video_as_written_holds_its_report(
    concealed: tuple[Path, VideoReport],
    run_once: tuple[Path, list[Any]],
    tiny: Adversary,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path, report = concealed
    assert video_reports(path) == [path] and video_reports(path.parent) == [path]
    sightings = sum(len(t.sightings) for t in report.tracks)
    assert sum(t.private_frames for t in report.tracks) == sightings, "the tiny adversary defeated"
    calls: list[Any] = []
    monkeypatch.setattr(verification, "Judge", _recording(calls))
    fresh = dataclasses.replace(tiny)  # empty caches: every crop embedded again, as in a new process
    result = verify_video(path, adversary=fresh)
    assert result.problems == [] and result.contradicted == [] and result.exit_code == 0
    assert result.counts == {"verified": sightings, "not_private": 0, "contradicted": 0, "private_now": 0}
    assert result.tracks == (len(report.tracks), len(report.tracks)) and result.missed == 0
    # the same tracks, references and gap as the run's judge (the run's last judge is its own)
    assert calls == run_once[1][-1:] and all(len(t.references) == 4 for t in report.tracks)

    # a sighting the report calls matched is counted as such, not as a failure
    def matched(saved: Any) -> None:
        saved["tracks"][0]["sightings"][3][6] = False
        saved["tracks"][0]["private_frames"] -= 1
        saved["tracks"][0]["private"] = False

    result = verify_video(_edited(path, matched), adversary=tiny)
    assert result.counts["private_now"] == 1 and result.counts["verified"] == sightings - 1
    assert result.exit_code == 0


def test_a_track_reported_private_with_a_frame_without_its_sighting_fails(
    concealed: tuple[Path, VideoReport], tiny: Adversary
) -> None:
    path, report = concealed
    track = report.tracks[0]
    assert track.private and len(track.sightings) > 5
    k = next(k for k, s in enumerate(track.sightings[1:-1], 1) if s[0] not in track.references)
    dropped = track.sightings[k][0]

    def without_a_frame(saved: Any) -> None:  # as a release before frames were bridged wrote it
        del saved["tracks"][0]["sightings"][k]
        saved["tracks"][0]["private_frames"] -= 1

    result = verify_video(_edited(path, without_a_frame), adversary=tiny)
    assert result.exit_code == 1 and result.contradicted == []
    assert result.problems == [
        f"track {track.track} is reported private, but has no sighting on frames {dropped} between "
        "its first and last: the person may be in the clear there, unjudged"
    ]


def test_verify_says_where_the_runs_environment_differs(
    concealed: tuple[Path, VideoReport], tiny: Adversary, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, report = concealed
    assert report.environment == environment() and report.environment["packages"]["torch"]
    assert verify_video(path, adversary=tiny).environment == []

    def older_torch(saved: Any) -> None:
        saved["environment"]["packages"]["torch"] = "2.0.0"

    result = verify_video(_edited(path, older_torch), adversary=tiny)
    assert result.environment == [
        f"package torch: 2.0.0 in the run, {environment()['packages']['torch']} here"
    ]
    assert result.exit_code == 0, "a note, not a failure: the verdicts are what count"
    monkeypatch.setattr(verification, "_bundled", lambda report, path, device: tiny)
    shown = CliRunner().invoke(main, ["verify", str(path)])
    assert shown.exit_code == 0 and "note: the run's environment and this one differ" in shown.output
    assert "package torch: 2.0.0 in the run" in shown.output
    # a report of an earlier version, without the field, still reads; verify says it is unknown
    result = verify_video(_edited(path, lambda saved: saved.pop("environment")), adversary=tiny)
    assert result.exit_code == 0 and "does not record the environment" in result.environment[0]


def test_a_video_put_back_in_the_clear_is_contradicted(
    concealed: tuple[Path, VideoReport], tiny: Adversary, tmp_path: Path
) -> None:
    path, report = concealed
    for frame in (tmp_path / "frames").iterdir():  # the originals over the concealed frames
        shutil.copyfile(frame, path.with_suffix("") / frame.name)
    result = verify_video(path, adversary=tiny)
    assert any("written video: changed since the run" in p for p in result.problems) and result.exit_code == 1
    reported = {(t.track, s[0]) for t in report.tracks for s in t.sightings if s[6]}
    assert set(result.contradicted) == reported and result.counts["verified"] == 0


def test_a_frame_added_to_the_written_folder_is_a_change(
    concealed: tuple[Path, VideoReport], tiny: Adversary
) -> None:
    path, _ = concealed
    written = path.with_suffix("")
    shutil.copyfile(written / "000.png", written / "999.png")
    result = verify_video(path, adversary=tiny)
    assert result.exit_code == 1 and "changed since the run" in result.problems[0]


def test_a_changed_or_missing_source_is_said_and_nothing_judged(
    concealed: tuple[Path, VideoReport], tiny: Adversary, tmp_path: Path
) -> None:
    path, _ = concealed
    frames = sorted((tmp_path / "frames").iterdir())
    shutil.copyfile(frames[1], frames[0])
    result = verify_video(path, adversary=tiny)
    assert result.exit_code == 1 and sum(result.counts.values()) == 0
    assert result.problems[0].startswith("source: changed since the run")
    shutil.rmtree(tmp_path / "frames")
    gone = verify_video(path, adversary=tiny)
    assert gone.exit_code == 1 and gone.problems[0].startswith("source ")
    assert (
        "cannot be read" in gone.problems[0]
        and "from the folder the conceal run was started in" in gone.problems[0]
    )


def test_the_written_video_is_found_beside_its_report(
    concealed: tuple[Path, VideoReport], tiny: Adversary, tmp_path: Path
) -> None:
    path, _ = concealed
    moved = tmp_path / "moved"
    shutil.move(path.parent, moved)  # the output folder moved: its report names the old place
    result = verify_video(moved / path.name, adversary=tiny)
    assert result.exit_code == 0 and result.output == moved / "frames"


def test_paths_as_the_run_was_given_them_are_found_from_any_folder(
    concealed: tuple[Path, VideoReport], tiny: Adversary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run started in ``tmp_path`` as ``deid conceal frames -o out`` records relative paths:
    verify finds them from inside ``out`` (where ``frames`` as given is the written video, never
    taken for the source) and from elsewhere."""
    path, _ = concealed
    _edited(path, lambda saved: saved.update(source="frames", output="out/frames"))
    for cwd in (tmp_path / "out", tmp_path.parent):
        monkeypatch.chdir(cwd)
        result = verify_video(path, adversary=tiny)
        assert result.exit_code == 0 and result.problems == [], (cwd, result.problems)
        assert result.counts["verified"] > 0


def test_a_video_file_names_its_report(tmp_path: Path) -> None:
    (tmp_path / "clip.mp4").write_bytes(b"")
    (tmp_path / "clip.mp4.json").write_text("{")  # damaged: still the video's report, to fail
    assert video_reports(tmp_path / "clip.mp4") == [tmp_path / "clip.mp4.json"]
    assert video_reports(tmp_path / "clip.mp4.json") == [tmp_path / "clip.mp4.json"]
    assert video_reports(tmp_path) == [tmp_path / "clip.mp4.json"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda saved: [t.pop("references") for t in saved["tracks"]], "fields missing \\['references'\\]"),
        (lambda saved: saved.pop("output_sha256"), "fields missing \\['output_sha256'\\]"),
        (lambda saved: saved.__setitem__("fps", "ten"), "expected a frame rate > 0"),
        (
            lambda saved: saved["tracks"][0]["sightings"][2].__setitem__(0, 99),
            "sighting at frame 99: expected frames in increasing order",
        ),
        (lambda saved: saved["tracks"][0]["sightings"][2].__setitem__(1, 500), "is not inside the 120x60"),
        (lambda saved: saved["tracks"][0]["references"].append(1000), "references \\[1000\\]"),
        (lambda saved: saved["tracks"][0].__setitem__("private_frames", 0), "are not its sightings'"),
        (lambda saved: saved.__setitem__("tracks", saved["tracks"] * 2), "track numbers repeat"),
    ],
)
def test_a_report_that_does_not_hold_together_is_refused(
    concealed: tuple[Path, VideoReport], edit: Any, message: str
) -> None:
    path, _ = concealed
    with pytest.raises(VideoError, match=message):
        verify_video(_edited(path, edit))


def test_a_report_of_another_kind_is_not_a_video_report(tmp_path: Path) -> None:
    (tmp_path / "other.json").write_text(json.dumps({"format": "deid-conceal-report", "records": []}))
    with pytest.raises(VideoError, match="not a deid video report"):
        verify_video(tmp_path / "other.json")
    assert video_reports(tmp_path / "other.json") == []


def test_the_bundled_adversary_the_report_names_judges() -> None:
    fast = Adversary.default(fused=False)
    report: Any = dataclasses.make_dataclass("R", ["judged_by"])([m.arch for m in fast.models])
    assert verification._bundled(report, Path("r.json"), "cpu") is fast
    report.judged_by = ["stripe"]
    with pytest.raises(VideoError, match="no adversary this version bundles"):
        verification._bundled(report, Path("r.json"), "cpu")


def test_cli_verifies_the_videos_of_an_output_folder(
    concealed: tuple[Path, VideoReport], tiny: Adversary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = concealed
    monkeypatch.setattr(verification, "_bundled", lambda report, path, device: tiny)
    result = CliRunner().invoke(main, ["verify", str(path.parent)])
    assert result.exit_code == 0, result.output
    assert "contradicted (reported private, matched as written)      0" in result.output
    assert "the written video holds every verdict of its report (which calls it private)" in result.output
    assert "a part of one outside their box, is not judged" in result.output
    assert CliRunner().invoke(main, ["verify", str(path), "--require-private"]).exit_code == 0
    saved = path.read_text()
    path.write_text(json.dumps({**json.loads(saved), "missed": [[0, 1, 1, 6, 12]]}))  # a person missed
    gate = CliRunner().invoke(main, ["verify", str(path), "--require-private"])
    assert gate.exit_code == 3 and "the report calls the video not private" in gate.output
    assert CliRunner().invoke(main, ["verify", str(path)]).exit_code == 0  # its verdict holds
    path.write_text(saved)
    # a folder two runs wrote into, one of images: both verified
    (path.parent / "report.json").write_text(json.dumps({"format": "deid-conceal-report", "records": []}))
    both = CliRunner().invoke(main, ["verify", str(path.parent)])
    assert both.exit_code == 0, both.output
    assert "every written output holds its verdict" in both.output and "frames.json" in both.output
    (path.parent / "report.json").unlink()
    refused = CliRunner().invoke(main, ["verify", str(path), "--weights", "x.pt"])
    assert refused.exit_code == 2 and "--weights" in refused.output
    for frame in (tmp_path / "frames").iterdir():
        shutil.copyfile(frame, path.with_suffix("") / frame.name)
    tampered = CliRunner().invoke(main, ["verify", str(path)])
    assert tampered.exit_code == 1 and "changed since the run" in tampered.output
    assert "contradicted: track" in tampered.output
    # a damaged report, and a video with none, in the folder: each an error, the others verified
    (path.parent / "clip.mp4").write_bytes(b"not a video")
    (path.parent / "other.mp4").write_bytes(b"not a video either")
    (path.parent / "other.mp4.json").write_text("{")
    path.write_text(json.dumps(json.loads((tmp_path / "out" / "frames.json").read_text())))
    assert unreported(path.parent) == [path.parent / "clip.mp4"]
    folder = CliRunner().invoke(main, ["verify", str(path.parent)])
    assert folder.exit_code == 1
    assert "clip.mp4: a video with no report beside it" in folder.output
    assert "other.mp4.json: cannot be read as JSON" in folder.output


def test_verify_on_the_folder_of_a_video_run_that_did_not_finish_says_so(tmp_path):
    """A run killed before it wrote anything leaves only its work folder (``.NAME.deid``): verify
    names the video, says the run did not finish and how to finish it, not "no report"."""
    (tmp_path / ".clip.mp4.deid").mkdir()
    result = CliRunner().invoke(main, ["verify", str(tmp_path)])
    assert result.exit_code == 1
    assert f"{tmp_path / 'clip.mp4'}: a video run that did not finish" in result.output
    assert "--resume" in result.output and "report.json: no such file" not in result.output

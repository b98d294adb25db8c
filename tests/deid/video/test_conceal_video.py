"""A real video concealed end to end, and the CLI's video path."""

from __future__ import annotations

import dataclasses
import itertools
import json
import socket
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from deid.adversary import Adversary
from deid.batch.lock import LOCK_NAME
from deid.boxes import Box
from deid.cli import main
from deid.loop import ConcealConfig
from deid.video import (
    LOOK_EVERY,
    QUALITY,
    VideoError,
    VideoReader,
    VideoReport,
    VideoWriter,
    conceal_video,
    verify_video,
)
from deid.video.io import to_tensor
from reid_model.io import write_image
from tests.deid.video.conftest import variable_rate_clip, walking_folder, walking_frames


def _head_of(video: Path, out: Path, frames: int) -> Path:
    reader = VideoReader.open(video)
    with VideoWriter(out, reader.info) as writer:
        for frame in itertools.islice(reader, frames):
            writer.write(frame)
    return out


@pytest.mark.slow
def test_pets_clip_concealed_where_people_are(pets_video: Path, tmp_path: Path) -> None:
    clip = _head_of(pets_video, tmp_path / "clip.mp4", 16)
    out = tmp_path / "out" / "clip.mp4"
    out.parent.mkdir()
    report = conceal_video(clip, out, config=ConcealConfig(seed=0), progress=False)
    written = VideoReader.open(out)
    assert written.info.frames == 16 and written.info.fps == 10
    assert (written.info.width, written.info.height) == (480, 360)
    assert report.frames_read == report.frames_written == 16
    assert report.tracks, "people walk through the first frames of PETS S2.L1"
    saved = json.loads((tmp_path / "out" / "clip.mp4.json").read_text())
    assert saved["success"] == report.success
    assert "missed" in saved and all(len(m) == 5 for m in saved["missed"])
    assert [t["private"] for t in saved["tracks"]] == [t.private for t in report.tracks]
    # the loop's verdict on the frames it decided on is not named like the track's verdict
    assert all("success" not in t["treatment"] for t in saved["tracks"])
    assert all(isinstance(t["treatment"]["decided_private"], bool) for t in saved["tracks"])
    # every sighting's box changed in the written video (its person concealed there)
    originals = {f.index: to_tensor(f.pixels) for f in VideoReader.open(clip)}
    for frame in VideoReader.open(out):
        if any(t.frames[0] <= frame.index <= t.frames[1] for t in report.tracks):
            changed = (to_tensor(frame.pixels) - originals[frame.index]).abs().amax(0) > 0.2
            assert bool(changed.any())
    # a track is private only if every frame of it is, as written
    for track in report.tracks:
        assert track.private_frames <= sum(track.seen.values())
        assert track.private == (track.private_frames == sum(track.seen.values()))
    # deid verify judges the written video again to the same verdicts, every crop embedded again
    fresh = dataclasses.replace(Adversary.default())  # the run's adversary with empty caches
    verified = verify_video(tmp_path / "out" / "clip.mp4.json", adversary=fresh)
    assert verified.exit_code == 0 and verified.problems == []
    private = sum(t.private_frames for t in report.tracks)
    assert verified.counts == {
        "verified": private,
        "not_private": sum(len(t.sightings) for t in report.tracks) - private,
        "contradicted": 0,
        "private_now": 0,
    }


def test_cli_video_without_people_is_not_called_private(tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()

    for i in range(3):
        write_image(folder / f"{i:03d}.png", torch.full((3, 120, 160), 0.3 + 0.1 * i))
    result = CliRunner().invoke(
        main, ["conceal", str(folder), "--as-video", "-o", str(tmp_path / "out"), "--no-progress"]
    )
    assert result.exit_code == 3, result.output
    assert "nobody was found" in result.output
    assert sorted(p.name for p in (tmp_path / "out" / "frames").iterdir()) == [
        "000.png",
        "001.png",
        "002.png",
    ]
    report = json.loads((tmp_path / "out" / "frames.json").read_text())
    assert report["success"] is False and report["tracks"] == []
    assert not (tmp_path / "out" / ".frames.deid").exists()  # the saved work goes once written
    assert "weaker attacker" not in result.output
    again = CliRunner().invoke(
        main,
        [
            "conceal",
            str(folder),
            "--as-video",
            "-o",
            str(tmp_path / "out"),
            "--no-progress",
            "--resume",
            "--adversary",
            "fast",
        ],
    )
    assert again.exit_code == 3 and "nothing saved" in again.output  # --resume reaches the video path
    # judged by the fast adversary: the output says so
    assert "judged by stripe, color_stripes only: a weaker attacker" in again.output


def test_cli_a_folder_of_frames_read_in_part_fails_and_says_where(tmp_path: Path) -> None:
    # a damaged frame stops the reading as it stops a video file's decoding: never a success
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(4):
        write_image(folder / f"{i:03d}.png", torch.full((3, 120, 160), 0.3 + 0.1 * i))
    (folder / "002.png").write_bytes((folder / "002.png").read_bytes()[:50])
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["conceal", str(folder), "--as-video", "-o", str(out), "--no-progress"])
    assert result.exit_code == 1, result.output
    assert "reading stopped after frame 2: cannot read image" in result.output
    assert f"read only in part: the frames after are not in {out / 'frames'}" in result.output
    assert sorted(p.name for p in (out / "frames").iterdir()) == ["000.png", "001.png"]
    report = json.loads((out / "frames.json").read_text())
    assert report["read_whole"] is False and report["frames_read"] == 2


def test_cli_refuses_videos_mixed_with_images(tmp_path: Path) -> None:
    (tmp_path / "a.mp4").write_bytes(b"x")
    (tmp_path / "b.png").write_bytes(b"x")
    result = CliRunner().invoke(
        main, ["conceal", str(tmp_path / "a.mp4"), str(tmp_path / "b.png"), "-o", str(tmp_path / "out")]
    )
    assert result.exit_code == 2
    assert "in a run of their own" in result.output


def test_cli_names_an_unreadable_video(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    result = CliRunner().invoke(main, ["conceal", str(bad), "-o", str(tmp_path / "out"), "--no-progress"])
    assert result.exit_code == 1
    assert "bad.mp4" in result.output


def test_a_video_with_no_decodable_frame_is_an_error(tmp_path: Path) -> None:
    from deid.video import VideoError

    folder = tmp_path / "frames"
    folder.mkdir()
    write_image(folder / "0.png", torch.full((3, 120, 160), 0.5))
    clip = tmp_path / "clip.mkv"
    reader = VideoReader.open(folder, fps=10)
    with VideoWriter(clip, reader.info) as writer:
        for frame in reader:
            writer.write(frame)
    data = clip.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) // 3])  # the header survives, the only frame does not
    with pytest.raises(VideoError, match=r"cut\.mkv (has no frame that decodes|cannot be read)"):
        conceal_video(cut, tmp_path / "out.mp4", progress=False)
    assert not (tmp_path / "out.mp4").exists()


def _quick(source: Path, output: Path, adversary: Adversary) -> VideoReport:
    """``source`` concealed to ``output`` with the quick ``adversary``, no second look, no bar."""
    return conceal_video(source, output, adversary=adversary, look_every=0, progress=False)


def test_a_person_the_second_look_finds_untreated_is_missed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Missed: a person the second look confirms whose silhouette the written frame's treatments
    leave mostly as it was, outside every box or inside one whose treatment takes another shape."""
    import numpy as np

    import deid.finder.look as look
    import deid.video.run as run
    from deid.boxes import Box
    from deid.finder import Person
    from deid.video import Frame, Sighting

    mask = torch.zeros(70, 80, dtype=torch.bool)
    mask[10:50, 50:60] = True
    person = Person(Box(50, 10, 10, 40, 0.9), 0.9, mask, torch.zeros(33, 3), uncertain=False)
    monkeypatch.setattr(look, "find_people", lambda image, config=None: [person])
    frame = Frame(0, np.zeros((70, 80, 3), np.uint8))

    def sighting(track: int, box: Box) -> Sighting:
        whole = torch.ones(box.h, box.w, dtype=torch.bool)
        return Sighting(0, track, box, whole, None, "found", torch.zeros(3, box.h, box.w, dtype=torch.uint8))

    def missed(boxes: list[Box], covers: list[torch.Tensor]) -> list[Box]:
        """Each box drawn white where its cover says, the rest as it was."""
        sightings = [sighting(t, b) for t, b in enumerate(boxes)]
        concealed = {
            t: {0: (torch.where(c, 255, 0).to(torch.uint8).expand(3, -1, -1), c)}
            for t, c in enumerate(covers)
        }
        written = run._pasted(frame, sightings, concealed)
        return [p.box for p in run._missed(frame, run._held(frame, written, sightings, concealed))]

    elsewhere, on_them = Box(0, 0, 20, 40), Box(48, 8, 14, 44)
    whole = [torch.ones(b.h, b.w, dtype=torch.bool) for b in (elsewhere, on_them)]
    assert missed([elsewhere], whole[:1]) == [person.box]
    assert missed([elsewhere, on_them], whole) == []
    other_shape = torch.zeros(44, 14, dtype=torch.bool)
    other_shape[:, :3] = True  # a treatment in a neighbour's shape, at the box's left edge
    assert missed([elsewhere, on_them], [whole[0], other_shape]) == [person.box]
    black = torch.zeros(3, 44, 14, dtype=torch.uint8)  # set to what they were: held all the same
    sightings = [sighting(0, on_them)]
    concealed = {0: {0: (black, torch.ones(44, 14, dtype=torch.bool))}}
    written = run._pasted(frame, sightings, concealed)
    assert run._missed(frame, run._held(frame, written, sightings, concealed)) == []


def test_a_missed_person_is_concealed_in_their_shape_on_that_frame() -> None:
    """The second look's missed people are concealed in the written frame (silhouette grown by
    3 px, and the head's ellipse) as ``--head`` says; the rest of the frame is as it was."""
    import numpy as np

    import deid.video.run as run
    from deid.boxes import Box
    from deid.finder import Person
    from deid.video import Frame

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (90, 80, 3), dtype=np.uint8)
    frame = Frame(0, pixels)
    mask = torch.zeros(90, 80, dtype=torch.bool)
    mask[30:80, 50:60] = True
    keypoints = torch.zeros(33, 3)
    keypoints[:11, :2] = torch.tensor([55.0, 35.0])  # the face points
    keypoints[11:13, :2] = torch.tensor([[52.0, 42.0], [58.0, 42.0]])  # shoulders
    keypoints[23:25, :2] = torch.tensor([[52.0, 60.0], [58.0, 60.0]])  # hips
    person = Person(Box(50, 30, 10, 50, 0.9), 0.9, mask, keypoints, uncertain=False)
    for how in ("blur", "pixelate", "fill"):
        written = run._concealed_people(frame, [person], how).pixels
        changed = torch.from_numpy((written != pixels).any(axis=2))
        assert float(changed[mask].float().mean()) > 0.8, how
        assert not changed[:, :44].any() and not changed[:20].any(), how
    assert run._concealed_people(frame, [person], "keep") is frame
    assert run._concealed_people(frame, [], "blur") is frame


def test_cli_refuses_two_inputs_with_one_output_name(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "clip.mp4").write_bytes(b"x")
    result = CliRunner().invoke(
        main,
        [
            "conceal",
            str(tmp_path / "a" / "clip.mp4"),
            str(tmp_path / "b" / "clip.mp4"),
            "-o",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 2
    assert "clip.mp4" in result.output


def test_cli_refuses_options_a_video_would_ignore(tmp_path: Path) -> None:
    (tmp_path / "clip.mp4").write_bytes(b"x")
    result = CliRunner().invoke(
        main,
        [
            "conceal",
            str(tmp_path / "clip.mp4"),
            "-o",
            str(tmp_path / "out"),
            "--boxes",
            "b.json",
            "--heatmaps",
        ],
    )
    assert result.exit_code == 2
    assert "--heatmaps, --boxes" in result.output and "not taken for videos" in result.output
    image = tmp_path / "a.png"
    write_image(image, torch.rand(3, 128, 48))
    result = CliRunner().invoke(main, ["conceal", str(image), "-o", str(tmp_path / "out2"), "--fps", "5"])
    assert result.exit_code == 2 and "--fps" in result.output
    result = CliRunner().invoke(
        main, ["conceal", str(image), "-o", str(tmp_path / "out3"), "--look-every", "5"]
    )
    assert result.exit_code == 2 and "--look-every: for videos" in result.output
    result = CliRunner().invoke(main, ["conceal", str(image), "-o", str(tmp_path / "out4"), "--quality", "5"])
    assert result.exit_code == 2 and "--quality: for videos" in result.output


def test_cli_look_every_quality_and_adversary_reach_the_video(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import deid.cli.video as cli_video

    calls: list[dict[str, object]] = []

    def stand_in(**call: object) -> None:
        calls.append(call)
        raise VideoError("stand-in: not concealed")

    monkeypatch.setattr(cli_video, "conceal_video", stand_in)
    (tmp_path / "clip.mp4").write_bytes(b"x")
    out = str(tmp_path / "out")
    clip = str(tmp_path / "clip.mp4")
    result = CliRunner().invoke(main, ["conceal", clip, "-o", out, "--look-every", "7", "--quality", "0"])
    assert result.exit_code == 1 and "stand-in: not concealed" in result.output
    result = CliRunner().invoke(main, ["conceal", clip, "-o", out, "--adversary", "fast"])
    assert [(call["look_every"], call["quality"]) for call in calls] == [(7, 0), (LOOK_EVERY, QUALITY)]
    # the bundled adversary judges: strong by default (with the fused model), fast without it
    assert [len(call["adversary"].models) for call in calls] == [3, 2]  # type: ignore[attr-defined]
    result = CliRunner().invoke(main, ["conceal", clip, "-o", out, "--quality", "52"])
    assert result.exit_code == 2 and "--quality" in result.output and len(calls) == 2


def test_link_none_keeps_the_pieces_of_a_track_apart(
    stand_ins: None, adversary: Adversary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import deid.video.run as run

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("link='none' must not join pieces")

    monkeypatch.setattr(run, "link_tracks", never)
    source = walking_folder(tmp_path)
    report = conceal_video(
        source, tmp_path / "out" / "frames", adversary=adversary, link="none", look_every=0, progress=False
    )
    assert len(report.tracks) == 2 and all(t.pieces == 1 for t in report.tracks)
    # the report says who judged: each model of the adversary
    assert report.judged_by == [model.arch for model in adversary.models] and report.judged_by
    with pytest.raises(ValueError, match="link must be one of"):
        conceal_video(
            source, tmp_path / "out2" / "frames", adversary=adversary, link="person", progress=False
        )


def test_a_variable_frame_rate_video_is_written_at_its_own_times(
    stand_ins: None, adversary: Adversary, tmp_path: Path
) -> None:
    frames = walking_frames(12, {0: (0, 11, 5)})
    times = [0, 100, 150, 300, 350, 400, 600, 650, 700, 900, 950, 1000]
    clip = variable_rate_clip(tmp_path / "vfr.mkv", times, [f.pixels for f in frames])
    out = tmp_path / "out" / "vfr.mp4"
    report = _quick(clip, out, adversary)
    assert "variable frame rate: the source's time stamps kept" in report.notes
    written = VideoReader.open(out)
    assert [f.pts * written.info.time_base for f in written] == [Fraction(t, 1000) for t in times]


def test_a_bad_quality_is_refused_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"quality must be an x264 CRF in \[0, 51\], got 60"):
        conceal_video(tmp_path / "missing.mp4", tmp_path / "out.mp4", quality=60, progress=False)


def test_a_track_left_with_a_frame_without_its_sighting_is_not_private(
    stand_ins: None, adversary: Adversary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import deid.video.run as run

    recut = run.recut

    def read_short(by_frame: list, frames: object, *args: object, **kwargs: object) -> list:  # not bridged
        out = recut(by_frame, frames, *args, **kwargs)
        out[5] = [s for s in out[5] if s.track != 0]
        return out

    monkeypatch.setattr(run, "recut", read_short)
    report = _quick(walking_folder(tmp_path), tmp_path / "out" / "frames", adversary)
    first = report.tracks[0]
    assert 5 not in [s[0] for s in first.sightings] and first.frames[0] < 5 < first.frames[1]
    assert all(s[6] for s in first.sightings), "every sighting there is private as written"
    assert not first.private and not report.success
    assert any(n.startswith("track 0: no sighting on frames [5]") for n in report.notes)


def test_a_video_whose_camera_moves_is_not_private_and_says_where(
    stand_ins: None, adversary: Adversary, tmp_path: Path
) -> None:
    """A review of panning cuts of PETS S2.L1 found people in the clear with no sighting and no
    flag: where the camera moves, nothing catches people by their motion."""
    import cv2
    import numpy as np

    from reid_model.io import write_bytes_atomic

    texture = np.random.default_rng(0).integers(0, 110, (60, 400, 3), dtype=np.uint8)
    folder = tmp_path / "pan"
    folder.mkdir()
    for frame in walking_frames(12, {0: (0, 11, 5)}):
        pixels = texture[:, 3 * frame.index : 3 * frame.index + 120].copy()  # the camera pans 3 px a frame
        pixels[frame.pixels > 200] = 230  # the person, bright
        ok, data = cv2.imencode(".png", pixels)
        assert ok
        write_bytes_atomic(folder / f"{frame.index:03d}.png", data.tobytes())
    report = _quick(folder, tmp_path / "out" / "pan", adversary)
    assert len(report.camera_moved) >= 10 and not report.success
    assert any(n.startswith("the camera moved (or the light changed) in") for n in report.notes)
    still = _quick(walking_folder(tmp_path), tmp_path / "out" / "still", adversary)
    assert still.camera_moved == []
    assert still.untreated == []  # everyone who moves is in a sighting


def test_a_person_moving_in_the_clear_is_concealed_and_listed_untreated(
    monkeypatch: pytest.MonkeyPatch, adversary: Adversary, tmp_path: Path
) -> None:
    """A review found a man walking in full view for 7 frames of a cut of PETS S2.L1, with no
    sighting on him and no flag (the box beside him shrank off him). Every frame is checked for
    person-shaped blobs of moving pixels outside every sighting: here nobody is ever found. They
    are concealed as the head is, and listed."""
    import deid.video.follow as follow
    from deid.finder import Person

    def unsure(crops: list[torch.Tensor], config: object = None, recentre: bool = True) -> list[Person]:
        return [
            Person(Box(0, 0, c.shape[2], c.shape[1]), 0.0, torch.ones(c.shape[1:], dtype=torch.bool),
                   torch.zeros(33, 3), uncertain=True)
            for c in crops
        ]  # fmt: skip

    monkeypatch.setattr(follow, "find_people", lambda image, config=None, known=(): [])
    monkeypatch.setattr(follow, "find_people_in_crops", unsure)
    source = walking_folder(tmp_path)
    report = _quick(source, tmp_path / "out" / "w", adversary)
    assert not report.tracks and not report.success
    assert len({u[0] for u in report.untreated}) >= 10
    for frame, x, y, w, h in report.untreated:  # on the walkers (12 px wide, rows 10-50, 2 px a frame)
        assert (
            y >= 10
            and y + h <= 50
            and any(x0 + 2 * frame <= x + w and x <= x0 + 2 * frame + 12 for x0 in (5, 60))
        )
    assert any(
        n.startswith(f"{len(report.untreated)} blobs of moving pixels outside every sighting")
        for n in report.notes
    )
    originals = {f.index: f.pixels for f in VideoReader.open(source)}
    for f in VideoReader.open(report.output):  # concealed as the head is (blurred)
        for frame, x, y, w, h in report.untreated:
            if frame == f.index:
                assert (f.pixels[y : y + h, x : x + w] != originals[frame][y : y + h, x : x + w]).mean() > 0.5


def test_a_person_only_the_second_look_finds_is_concealed_on_its_frames(
    stand_ins: None, monkeypatch: pytest.MonkeyPatch, adversary: Adversary, tmp_path: Path
) -> None:
    """A person standing still whom the follower never finds, confirmed by the second look, is
    listed in ``missed`` and concealed in their shape on the frames it looked at (as an image's
    untreated people are); the other frames keep them as they were."""
    import cv2
    import numpy as np

    import deid.video.run as run
    from deid.finder import Person
    from reid_model.io import write_bytes_atomic

    still = np.random.default_rng(0).integers(40, 120, (36, 10, 3), dtype=np.uint8)  # never bright
    folder = tmp_path / "frames"
    folder.mkdir()
    for frame in walking_frames(24, {0: (0, 23, 5)}):
        frame.pixels[12:48, 100:110] = still
        ok, data = cv2.imencode(".png", frame.pixels[..., ::-1])
        assert ok
        write_bytes_atomic(folder / f"{frame.index:03d}.png", data.tobytes())
    mask = torch.zeros(60, 120, dtype=torch.bool)
    mask[12:48, 100:110] = True
    keypoints = torch.zeros(33, 3)
    keypoints[:, 0], keypoints[:, 1] = 105.0, 16.0
    person = Person(Box(100, 12, 10, 36, 0.9), 0.9, mask, keypoints, uncertain=False)
    monkeypatch.setattr(run, "second_look", lambda image, config=None: [person])
    report = conceal_video(
        folder, tmp_path / "out" / "frames", adversary=adversary, look_every=8, progress=False
    )
    looked = {m[0] for m in report.missed}
    assert looked == {4, 12, 20} and all(m[1:] == [100, 12, 10, 36] for m in report.missed)
    assert not report.success
    originals = {f.index: f.pixels for f in VideoReader.open(folder)}
    for f in VideoReader.open(report.output):
        changed = (f.pixels[12:48, 100:110] != originals[f.index][12:48, 100:110]).any(axis=2).mean()
        assert changed > 0.8 if f.index in looked else changed == 0, f.index


def test_cli_video_runs_hold_the_output_folder_and_keep_out_of_their_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import deid.cli.video as cli_video
    from deid.batch.lock import FolderLock

    frames = walking_folder(tmp_path)
    inside = CliRunner().invoke(main, ["conceal", str(frames), "--as-video", "-o", str(frames / "out")])
    assert inside.exit_code == 2 and "is inside the input folder" in inside.output
    assert not (frames / "out").exists()

    out = tmp_path / "out"
    with FolderLock(out):  # another run holds it
        held = CliRunner().invoke(
            main, ["conceal", str(frames), "--as-video", "-o", str(out), "--no-progress"]
        )
    assert held.exit_code == 1 and "is in use by another deid conceal run" in held.output

    def killed(**call: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_video, "conceal_judged_by", killed)
    stopped = CliRunner().invoke(
        main, ["conceal", str(frames), "--as-video", "-o", str(out), "--no-progress"]
    )
    assert stopped.exit_code == 130 and "run the same command with --resume" in stopped.output
    assert not (out / ".deid-conceal.lock").exists()  # released


def test_a_folder_of_frames_with_two_of_one_name_is_refused(tmp_path: Path) -> None:
    frames = walking_folder(tmp_path)
    (frames / "003.jpg").write_bytes((frames / "003.png").read_bytes())
    with pytest.raises(VideoError, match=r"frames \['003.jpg', '003.png'\] share a name but for the suffix"):
        VideoReader.open(frames, fps=10)


def test_cli_output_named_as_a_video_file_is_that_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import deid.cli.video as cli_video

    targets: list[Path] = []

    def stand_in(**call: object) -> None:
        targets.append(Path(str(call["output"])))
        raise VideoError("stand-in: not concealed")

    monkeypatch.setattr(cli_video, "conceal_video", stand_in)
    clip = tmp_path / "clip.avi"
    clip.write_bytes(b"x")
    for output in (tmp_path / "new" / "hidden.mp4", tmp_path / "out"):  # a file's name; a folder
        result = CliRunner().invoke(main, ["conceal", str(clip), "-o", str(output), "--no-progress"])
        assert result.exit_code == 1 and "stand-in: not concealed" in result.output
    assert [t.resolve() for t in targets] == [
        (tmp_path / "new" / "hidden.mp4").resolve(),
        (tmp_path / "out" / "clip.avi").resolve(),
    ]
    (tmp_path / "old.mp4").write_bytes(b"written before")  # a file there is written again
    result = CliRunner().invoke(
        main, ["conceal", str(clip), "-o", str(tmp_path / "old.mp4"), "--no-progress"]
    )
    assert result.exit_code == 1 and targets[-1].resolve() == (tmp_path / "old.mp4").resolve()
    (tmp_path / "folder.mp4").mkdir()  # a folder with a video's suffix stays a folder
    CliRunner().invoke(main, ["conceal", str(clip), "-o", str(tmp_path / "folder.mp4"), "--no-progress"])
    assert targets[-1].resolve() == (tmp_path / "folder.mp4" / "clip.avi").resolve()

    other = tmp_path / "other.mp4"
    other.write_bytes(b"x")
    two = CliRunner().invoke(main, ["conceal", str(clip), str(other), "-o", str(tmp_path / "one.mp4")])
    assert two.exit_code == 2 and "names one video file, but the inputs are 2 videos" in two.output
    frames = walking_folder(tmp_path)
    folder = CliRunner().invoke(main, ["conceal", str(frames), "--as-video", "-o", str(tmp_path / "f.mp4")])
    assert folder.exit_code == 2 and "folder of frames" in folder.output
    assert len(targets) == 4 and not (tmp_path / "one.mp4").exists() and not (tmp_path / "f.mp4").exists()
    image = tmp_path / "person.png"
    write_image(image, torch.rand(3, 128, 48))
    onto_file = CliRunner().invoke(main, ["conceal", str(image), "-o", str(tmp_path / "old.mp4")])
    assert onto_file.exit_code == 2 and "is a file; images are written into a folder" in onto_file.output
    assert (tmp_path / "old.mp4").read_bytes() == b"written before"


def test_cli_says_how_many_people_the_second_look_found_in_the_clear(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import deid.cli.video as cli_video

    missed: list[list[int]] = []

    def stand_in(**call: object) -> VideoReport:
        return VideoReport(
            source=str(call["source"]),
            output=str(call["output"]),
            frames_read=3,
            frames_written=3,
            fps=10.0,
            size=[64, 48],
            tracks=[],
            missed=list(missed),
            frames_without_people=3,
            frames_with_unposed=[],
            judged_by=["stripe", "color_stripes", "fused"],
            gap=10,
            source_sha256="",
            output_sha256="",
        )

    monkeypatch.setattr(cli_video, "conceal_judged_by", stand_in)
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"x")
    for n, said in (
        (1, "1 person a second look found left out by the tracks"),
        (2, "2 people a second look found left out"),
    ):
        missed[:] = [[0, 1, 2, 3, 4]] * n
        result = CliRunner().invoke(
            main, ["conceal", str(clip), "-o", str(tmp_path / "out"), "--no-progress"]
        )
        assert result.exit_code == 3 and said in result.output, result.output


def test_cli_a_lock_a_killed_run_left_is_taken_over_with_a_warning(tmp_path: Path) -> None:
    folder, out = tmp_path / "frames", tmp_path / "out"
    folder.mkdir()
    for i in range(2):
        write_image(folder / f"{i:03d}.png", torch.full((3, 120, 160), 0.4))
    out.mkdir()
    (out / LOCK_NAME).write_text(json.dumps({"pid": _gone_pid(), "host": socket.gethostname()}))
    result = CliRunner().invoke(main, ["conceal", str(folder), "--as-video", "-o", str(out), "--no-progress"])
    assert "warning: took over the stale lock" in result.output, result.output
    assert "it is no longer running" in result.output and not (out / LOCK_NAME).exists()


def _gone_pid() -> int:
    """The PID of a process that has ended."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid

"""The batch runner with a stand-in conceal: inputs, grouping, frames, report, resume, bad files."""

from __future__ import annotations

import csv
import json
import os
import shutil
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from deid.batch import BatchConfig, BatchError, CropResult, run_batch
from deid.batch.grouping import group_key
from deid.batch.inputs import InputFile, check_output, collect_inputs
from deid.batch.report import FIELDS
from deid.boxes import Box
from deid.finder import find_people
from deid.loop import ConcealConfig
from deid.loop.feet import with_head_and_feet
from deid.loop.heads import head_box
from reid_model.io import read_image
from tests.deid.conftest import Interrupted, StandIn, tree_hashes, write_crop


def _config(inputs, output, **options) -> BatchConfig:
    return BatchConfig(inputs=tuple(str(i) for i in inputs), output=str(output), progress=False, **options)


def _records(summary) -> dict[str, dict]:
    data = json.loads(summary.report_json.read_text())
    return {Path(r["input"]).name: r for r in data["records"]}


def _huge_png(path: Path, width: int = 100_000, height: int = 100_000) -> Path:
    """A PNG whose header claims ``width x height`` pixels (with valid CRCs) and no real data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )
    return path


def _frame_with_people(path: Path, viper_like_seed: int = 0) -> tuple[Path, list[list[int]]]:
    rng = np.random.default_rng(viper_like_seed)
    frame = np.full((300, 400, 3), 90, np.uint8)
    frame[20:148, 30:78] = rng.integers(0, 256, (128, 48, 3), dtype=np.uint8)
    frame[100:228, 250:298] = rng.integers(0, 256, (128, 48, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), frame)
    return path, [[30, 20, 48, 128], [250, 100, 48, 128]]


# ----------------------------------------------------------------------------- inputs


def test_collect_mirrors_folders_files_and_globs(crop_tree, tmp_path):
    out = tmp_path / "out"
    found = collect_inputs([crop_tree], output=out)
    rel = sorted(f.relative.as_posix() for f in found.files)
    assert rel == [
        "cam_a/000_45.bmp", "cam_a/001_45.bmp", "cam_a/002_45.bmp",
        "cam_b/000_90.bmp", "cam_b/001_90.bmp", "cam_b/002_90.bmp", "extra/sub/x.png",
    ]  # fmt: skip
    both = collect_inputs([crop_tree / "cam_a", crop_tree / "cam_b" / "001_90.bmp"], output=out)
    assert sorted(f.relative.as_posix() for f in both.files) == [
        "cam_a/000_45.bmp", "cam_a/001_45.bmp", "cam_a/002_45.bmp", "cam_b/001_90.bmp",
    ]  # fmt: skip
    pattern = collect_inputs([str(crop_tree / "cam_*" / "00[01]_*.bmp")], output=out)
    assert sorted(f.relative.as_posix() for f in pattern.files) == [
        "cam_a/000_45.bmp", "cam_a/001_45.bmp", "cam_b/000_90.bmp", "cam_b/001_90.bmp",
    ]  # fmt: skip
    recursive = collect_inputs([str(crop_tree / "**" / "*.png")], output=out)
    assert [f.relative.as_posix() for f in recursive.files] == ["extra/sub/x.png"]
    assert not found.problems and not both.problems and not pattern.problems


def test_collect_reports_missing_non_image_empty_and_loops(crop_tree, tmp_path):
    (crop_tree / "notes.txt").write_text("not an image")
    (crop_tree / "walk.MP4").write_bytes(b"a video's bytes")
    (crop_tree / "loop").symlink_to(crop_tree, target_is_directory=True)
    (crop_tree / "cam_a" / "self.png").symlink_to(crop_tree / "cam_a" / "self.png")
    (tmp_path / "empty").mkdir()
    found = collect_inputs(
        [crop_tree, tmp_path / "empty", tmp_path / "missing", str(tmp_path / "nomatch*.png")],
        output=tmp_path / "out",
    )
    problems = {p.path.name: (p.status, p.error) for p in found.problems}
    assert problems["notes.txt"] == ("skipped", "not an image file (suffix .txt); not processed")
    assert problems["walk.MP4"] == (
        "failed",
        f"a video (suffix .MP4): not concealed among images; conceal it on its own "
        f"(deid conceal {crop_tree / 'walk.MP4'} -o OUT)",
    )
    assert problems["loop"][0] == "skipped" and "symlink loop" in problems["loop"][1]
    assert problems["self.png"] == ("failed", "cannot read: a symlink loop")
    assert problems["empty"] == ("skipped", "empty folder: no files found")
    assert problems["missing"] == ("failed", "no such file or folder")
    assert "no file or folder matches the pattern" in problems["nomatch*.png"][1]
    assert len(found.files) == 7  # the loop added nothing


@pytest.mark.parametrize(
    ("make_output", "message"),
    [
        (lambda root: root, "is inside the input folder"),
        (lambda root: root / "cam_a" / "out", "is inside the input folder"),
        (lambda root: root.parent, "is inside the output folder"),
    ],
)
def test_refuses_output_overlapping_an_input_folder(crop_tree, make_output, message):
    output = make_output(crop_tree)
    found = collect_inputs([crop_tree], output=output)
    with pytest.raises(BatchError, match=message) as info:
        check_output(found, output, [])
    assert info.value.param == "output"


def test_output_beside_an_input_file_is_allowed_but_not_over_it(crop_tree):
    image = crop_tree / "cam_a" / "000_45.bmp"
    found = collect_inputs([image], output=crop_tree / "cam_a" / "anon")
    check_output(found, crop_tree / "cam_a" / "anon", [])
    with pytest.raises(BatchError, match="inside the output folder"):
        check_output(collect_inputs([image], output=crop_tree / "cam_a"), crop_tree / "cam_a", [])


def test_refuses_output_a_recursive_glob_would_read_back(crop_tree):
    pattern = str(crop_tree / "**" / "*.bmp")
    found = collect_inputs([pattern], output=crop_tree / "anon")
    with pytest.raises(BatchError, match="would match the input pattern"):
        check_output(found, crop_tree / "anon", [])
    flat = str(crop_tree / "cam_a" / "*.bmp")
    check_output(collect_inputs([flat], output=crop_tree / "anon"), crop_tree / "anon", [])


def test_refuses_a_report_inside_an_input_folder(crop_tree, tmp_path):
    found = collect_inputs([crop_tree], output=tmp_path / "out")
    with pytest.raises(BatchError, match=r"report .* is inside the input folder"):
        check_output(found, tmp_path / "out", [crop_tree / "report.json"])


@pytest.mark.parametrize(
    ("name", "group_by", "key"),
    [
        ("cam_a/000_45.bmp", "viper", "viper:000"),
        ("cam_b/000_90.bmp", "auto", "file:cam_b/000_90.bmp"),  # auto is decided by group_files
        ("x/000_90.bmp", "viper", "file:x/000_90.bmp"),  # VIPeR crops live in cam_a/ or cam_b/
        ("cam_a/20240101_000001.bmp", "viper", "file:cam_a/20240101_000001.bmp"),
        ("q/0002_c1s1_000451_03.jpg", "market", "market:0002"),
        ("q/0002_c1s1_000451_03_x.jpg", "market", "file:q/0002_c1s1_000451_03_x.jpg"),
        ("q/0000_c1s1_000451_03.jpg", "market", "file:q/0000_c1s1_000451_03.jpg"),
        ("q/-1_c1s1_000451_03.jpg", "market", "file:q/-1_c1s1_000451_03.jpg"),
        ("people/anna/1.png", "folder", "folder:people/anna"),
        ("street.jpg", "auto", "file:street.jpg"),
        ("cam_a/000_45.bmp", "none", "file:cam_a/000_45.bmp"),
        ("street.jpg", "viper", "file:street.jpg"),
    ],
)
def test_group_keys(name, group_by, key):
    assert group_key(InputFile(Path("/x") / name, Path(name)), group_by) == key


# ----------------------------------------------------------------------------- runs


def test_run_conceals_groups_together_and_mirrors_the_tree(crop_tree, tmp_path, stand_in):
    before = tree_hashes(crop_tree)
    summary = run_batch(_config([crop_tree], tmp_path / "out", group_by="viper"), conceal_group=stand_in)
    assert summary.exit_code == 0 and summary.counts["ok"] == 7
    groups = sorted(sorted(p.name for p in call) for call in stand_in.calls)
    assert groups == [
        ["000_45.bmp", "000_90.bmp"],
        ["001_45.bmp", "001_90.bmp"],
        ["002_45.bmp", "002_90.bmp"],
        ["x.png"],
    ]
    for rel in before:
        out = tmp_path / "out" / rel
        assert out.is_file()
        assert torch.allclose(read_image(out), torch.full_like(read_image(out), 0.5), atol=1 / 255)
    assert tree_hashes(crop_tree) == before
    record = _records(summary)["000_45.bmp"]
    assert record["status"] == "ok" and record["group"] == "viper:000" and record["kind"] == "crop"
    assert record["scores_after"] == {"match_rate": 0.0, "rank": 50.0}
    with summary.report_csv.open() as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == FIELDS and len(rows) == 7


def test_batches_several_people_per_call(crop_tree, tmp_path):
    calls = []

    def conceal_batch(people, paths):
        calls.append(len(people))
        return [[CropResult.of(image=torch.zeros_like(i), success=True) for i in person] for person in people]

    run_batch(
        _config([crop_tree], tmp_path / "out", batch_size=4, group_by="viper"), conceal_batch=conceal_batch
    )
    assert sum(calls) == 4 and max(calls) > 1  # 3 VIPeR persons and x.png, in fewer calls than people


def test_bad_files_are_reported_per_file_and_the_batch_goes_on(tmp_path, stand_in):
    root = tmp_path / "in"
    write_crop(root / "good.png", seed=1)
    rng = np.random.default_rng(0)
    cv2.imwrite(str(root / "gray.png"), rng.integers(0, 256, (128, 48), dtype=np.uint8))
    cv2.imwrite(str(root / "rgba.png"), rng.integers(0, 256, (128, 48, 4), dtype=np.uint8))
    cv2.imwrite(str(root / "deep.png"), rng.integers(0, 65536, (128, 48, 3), dtype=np.uint16))
    full = (root / "good.png").read_bytes()
    (root / "truncated.png").write_bytes(full[: len(full) // 2])
    (root / "corrupt.bmp").write_bytes(b"BM" + bytes(rng.integers(0, 256, 500, dtype=np.uint8)))
    (root / "text.png").write_text("this is not a picture")
    (root / "zero.png").write_bytes(b"")
    _huge_png(root / "huge.png")
    (root / "notes.txt").write_text("a note")
    (root / "loop").symlink_to(root, target_is_directory=True)
    write_crop(root / "blocked" / "b.png", seed=3)
    (tmp_path / "empty").mkdir()
    out = tmp_path / "out"
    (out / "in").mkdir(parents=True)  # outputs mirror the inputs' common folder, tmp_path
    (out / "in" / "blocked").write_text("a regular file where the output folder should be")
    (out / "keep.txt").write_text("written earlier")
    before = tree_hashes(root)

    summary = run_batch(_config([root, tmp_path / "empty"], out, group_by="none"), conceal_group=stand_in)
    records = _records(summary)
    for name in ("good.png", "gray.png", "rgba.png", "deep.png"):
        assert records[name]["status"] == "ok", records[name]
        assert read_image(out / "in" / name).shape == (3, 128, 48)
    expected = {
        "truncated.png": "corrupt or truncated",
        "corrupt.bmp": "not a readable image file",
        "text.png": "not a readable image file",
        "zero.png": "the file is empty (0 bytes)",
        "huge.png": "too large to decode safely",
        "b.png": "cannot write",
    }
    for name, message in expected.items():
        assert records[name]["status"] == "failed", records[name]
        assert message in records[name]["error"], records[name]
    assert "BufferedReader" not in records["text.png"]["error"]  # no Python internals
    assert (
        records["notes.txt"]["status"] == "skipped" and "not an image file" in records["notes.txt"]["error"]
    )
    assert records["loop"]["status"] == "skipped" and "symlink loop" in records["loop"]["error"]
    assert records["empty"]["status"] == "skipped" and "empty folder" in records["empty"]["error"]
    assert summary.exit_code == 1
    assert tree_hashes(root) == before
    assert (out / "keep.txt").read_text() == "written earlier"
    assert not list(out.rglob("*.tmp"))


def test_unwritable_output_folder_with_permissions(tmp_path, stand_in):
    out = tmp_path / "out"
    (out / "ro").mkdir(parents=True)
    os.chmod(out / "ro", 0o500)
    try:
        if os.access(out / "ro", os.W_OK):
            pytest.skip("running as root: chmod does not stop writes (the blocked-path case covers this)")
        write_crop(tmp_path / "in" / "ro" / "a.png", seed=0)
        write_crop(tmp_path / "in" / "ok" / "b.png", seed=1)
        summary = run_batch(_config([tmp_path / "in"], out, group_by="none"), conceal_group=stand_in)
        records = _records(summary)
        assert records["a.png"]["status"] == "failed" and "Permission denied" in records["a.png"]["error"]
        assert records["b.png"]["status"] == "ok"
    finally:
        os.chmod(out / "ro", 0o700)


def test_a_failing_person_does_not_stop_the_others(crop_tree, tmp_path):
    def conceal_group(images, paths):
        if any(p.name.startswith("001") for p in paths):
            raise RuntimeError("boom")
        return [CropResult.of(image=torch.zeros_like(i), success=True) for i in images]

    summary = run_batch(_config([crop_tree], tmp_path / "out"), conceal_group=conceal_group)
    records = _records(summary)
    assert (
        records["001_45.bmp"]["status"] == "failed"
        and "conceal failed: boom" in records["001_45.bmp"]["error"]
    )
    assert records["000_45.bmp"]["status"] == "ok" and summary.counts == {
        "ok": 5, "failed": 2, "skipped": 0, "no_person": 0,
    }  # fmt: skip
    assert summary.exit_code == 1


def test_a_conceal_returning_the_wrong_shape_is_a_failure(crop_tree, tmp_path):
    def conceal_group(images, paths):
        return [{"image": torch.zeros(3, 10, 10), "success": True} for _ in images]

    summary = run_batch(_config([crop_tree / "cam_a"], tmp_path / "out"), conceal_group=conceal_group)
    assert summary.counts["failed"] == 3
    assert "conceal returned shape (3, 10, 10)" in _records(summary)["000_45.bmp"]["error"]
    assert not (tmp_path / "out" / "000_45.bmp").exists()


def test_an_unmatched_person_is_said_so(crop_tree, tmp_path):
    def conceal_group(images, paths):
        return [CropResult.of(image=i, success=False, fallback=True) for i in images]

    summary = run_batch(_config([crop_tree / "cam_a"], tmp_path / "out"), conceal_group=conceal_group)
    record = _records(summary)["000_45.bmp"]
    assert record["success"] is False and record["fallback"] is True and "still matches" in record["note"]
    assert summary.still_matched == 3


# ----------------------------------------------------------------------------- frames


def test_frames_use_boxes_and_paste_each_person_back(tmp_path, stand_in):
    frame, boxes = _frame_with_people(tmp_path / "in" / "street" / "f1.png")
    _frame_with_people(tmp_path / "in" / "street" / "f2.png", 1)
    (tmp_path / "boxes.json").write_text(json.dumps({"street/f1.png": boxes, "f2.png": []}))
    summary = run_batch(
        _config([tmp_path / "in"], tmp_path / "out", boxes=str(tmp_path / "boxes.json")),
        conceal_group=stand_in,
    )
    records = _records(summary)
    assert records["f1.png"]["status"] == "ok" and records["f1.png"]["persons"] == 2
    assert records["f1.png"]["kind"] == "frame" and "the boxes file" in records["f1.png"]["note"]
    assert [len(c) for c in stand_in.calls] == [1, 1]  # one person per call
    original, concealed = read_image(frame), read_image(tmp_path / "out" / "street" / "f1.png")
    inside = torch.zeros(300, 400, dtype=torch.bool)
    for x, y, w, h in boxes:
        inside[y : y + h, x : x + w] = True
    assert torch.allclose(concealed[:, inside], torch.tensor(0.5), atol=1 / 255)
    assert torch.equal(concealed[:, ~inside], original[:, ~inside])
    assert abs(records["f1.png"]["area"] - inside.float().mean().item()) < 1e-6
    assert records["f2.png"]["status"] == "no_person" and records["f2.png"]["output"] is None
    assert not (tmp_path / "out" / "street" / "f2.png").exists()
    assert summary.exit_code == 0


def test_a_face_outside_every_given_box_is_concealed_listed_and_not_private(tmp_path, stand_in):
    """The bundled street frame with a box for the two people on the left only, no second look:
    the man on the right keeps no face in the file, his face is in the record, and the frame is
    not private. With the second look (the default) and no face net, the look conceals him
    (before, given boxes skipped it: his face stayed in the clear under a private verdict)."""
    example = Path(__file__).resolve().parents[3] / "examples" / "images" / "frames" / "PennPed00074.png"
    frame = tmp_path / "in" / "street.png"
    frame.parent.mkdir()
    shutil.copy(example, frame)
    (tmp_path / "boxes.json").write_text(json.dumps({"street.png": [[110, 15, 180, 290]]}))
    summary = run_batch(
        _config([frame], tmp_path / "out", boxes=str(tmp_path / "boxes.json"), second_look=False),
        conceal_group=stand_in,
    )
    record = _records(summary)["street.png"]
    assert record["status"] == "ok" and record["success"] is False
    ((x, y, w, h, score),) = record["faces"]  # not the round sign on the wall turned a quarter (0.63)
    assert 350 < x + w / 2 < 380 and score >= 0.5
    assert "1 face(s) still found once the people were concealed" in record["note"]
    original, written = read_image(frame), read_image(tmp_path / "out" / "street.png")
    face = (slice(None), slice(y, y + h), slice(x, x + w))
    assert (written[face] - original[face]).abs().mean() > 0.03
    assert summary.exit_code != 0  # not private: said in the exit code too
    off = run_batch(
        _config([frame], tmp_path / "off", boxes=str(tmp_path / "boxes.json"), faces=0.0),
        conceal_group=stand_in,
    )
    record = _records(off)["street.png"]
    assert record["faces"] == [] and len(record["boxes"]) >= 2
    assert "the boxes file (1) and the person finder's second look (" in record["note"]
    assert (read_image(tmp_path / "off" / "street.png")[face] - original[face]).abs().mean() > 0.03


def test_a_frame_with_nobody_is_reported_and_kept_only_on_request(tmp_path, stand_in):
    cv2.imwrite(str(tmp_path / "scene.png"), np.full((480, 640, 3), 128, np.uint8))
    summary = run_batch(_config([tmp_path / "scene.png"], tmp_path / "out"), conceal_group=stand_in)
    record = _records(summary)["scene.png"]
    assert record["status"] == "no_person" and "person finder" in record["error"] and record["output"] is None
    assert not (tmp_path / "out" / "scene.png").exists()
    kept = run_batch(
        _config([tmp_path / "scene.png"], tmp_path / "out2", keep_undetected=True),
        conceal_group=stand_in,
    )
    record = _records(kept)["scene.png"]
    assert record["status"] == "no_person" and "NOT anonymized" in record["note"]
    assert (tmp_path / "out2" / "scene.png").is_file()
    assert stand_in.calls == []


def test_bad_boxes_file_stops_before_anything_is_written(crop_tree, tmp_path, stand_in):
    (tmp_path / "boxes.json").write_text('{"a.png": [[1, 2, 3]]}')
    with pytest.raises(BatchError, match="must be") as info:
        run_batch(
            _config([crop_tree], tmp_path / "out", boxes=str(tmp_path / "boxes.json")),
            conceal_group=stand_in,
        )
    assert info.value.param == "boxes" and not (tmp_path / "out").exists()


# ----------------------------------------------------------------------------- report and resume


def test_resume_skips_done_files_and_redoes_failed_and_missing_ones(crop_tree, tmp_path):
    out = tmp_path / "out"
    first = StandIn()
    run_batch(_config([crop_tree], out), conceal_group=first)
    assert first.images_seen == 7
    again = StandIn()
    summary = run_batch(_config([crop_tree], out, resume=True), conceal_group=again)
    assert again.calls == [] and summary.resumed == 7 and summary.counts["ok"] == 7
    (alone,) = summary.warnings  # no layout groups crop_tree's x.png with the others
    assert alone.startswith("7 crops were each concealed alone, judged against their own original only")
    with pytest.raises(BatchError, match=r"other settings \(strength: 1.0 then, 0.5 now\)") as info:
        run_batch(
            _config([crop_tree], out, resume=True, loop=ConcealConfig(strength=0.5)), conceal_group=again
        )
    assert info.value.param == "resume" and again.calls == []
    (out / "extra" / "sub" / "x.png").unlink()  # a lost output is redone
    third = StandIn()
    summary = run_batch(_config([crop_tree], out, resume=True), conceal_group=third)
    assert [[p.name for p in c] for c in third.calls] == [["x.png"]] and summary.resumed == 6


def test_a_killed_run_loses_nothing_and_a_resume_finishes_it(crop_tree, tmp_path):
    out = tmp_path / "out"

    with pytest.raises(KeyboardInterrupt):
        run_batch(_config([crop_tree], out, batch_size=1, group_by="viper"), conceal_group=Interrupted(2))
    report = json.loads((out / "report.json").read_text())
    done = {Path(r["input"]).name for r in report["records"] if r["status"] == "ok"}
    assert done == {"000_45.bmp", "000_90.bmp", "001_45.bmp", "001_90.bmp"}
    assert report["finished"] is False and report["expected"] == 7  # the report says it is not whole
    rest = StandIn()
    summary = run_batch(
        _config([crop_tree], out, resume=True, batch_size=1, group_by="viper"), conceal_group=rest
    )
    assert sorted(p.name for c in rest.calls for p in c) == ["002_45.bmp", "002_90.bmp", "x.png"]
    assert summary.counts["ok"] == 7 and summary.resumed == 4
    assert json.loads((out / "report.json").read_text())["finished"] is True


def test_the_journal_recovers_records_the_json_had_not_caught_up_with(crop_tree, tmp_path):
    out = tmp_path / "out"
    run_batch(_config([crop_tree], out), conceal_group=StandIn())
    (out / "report.json").unlink()  # as if the run died before its last rewrite
    with (out / "report.jsonl").open("a") as journal:
        journal.write('{"input": "cut sho')  # a line cut short by the kill
    again = StandIn()
    with pytest.warns(UserWarning, match=r"report\.jsonl: dropped a last line cut short \(18 bytes\)"):
        summary = run_batch(_config([crop_tree], out, resume=True), conceal_group=again)
    assert again.calls == [] and summary.resumed == 7


def test_a_resumed_group_with_a_new_member_is_redone_whole(crop_tree, tmp_path):
    out = tmp_path / "out"
    run_batch(_config([crop_tree], out, group_by="viper"), conceal_group=StandIn())
    write_crop(crop_tree / "cam_b" / "000_180.bmp", seed=7)
    again = StandIn()
    run_batch(_config([crop_tree], out, resume=True, group_by="viper"), conceal_group=again)
    assert [sorted(p.name for p in c) for c in again.calls] == [["000_180.bmp", "000_45.bmp", "000_90.bmp"]]


def test_unwritable_report_is_refused_up_front(crop_tree, tmp_path, stand_in):
    (tmp_path / "file").write_text("x")
    with pytest.raises(BatchError, match="cannot write the report") as info:
        run_batch(
            _config([crop_tree], tmp_path / "out", report=str(tmp_path / "file" / "r.json")),
            conceal_group=stand_in,
        )
    assert info.value.param == "report" and stand_in.calls == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"group_by": "face"}, "group_by must be one of"),
        ({"batch_size": 0}, "batch_size must be >= 1"),
        ({"faces": 1.5}, r"faces must be in \[0, 1\] \(0: no face net\), got 1.5"),
    ],
)
def test_bad_config_raises(options, message, tmp_path):
    with pytest.raises(BatchError, match=message):
        _config([tmp_path], tmp_path / "out", **options)
    with pytest.raises(BatchError, match="at least one"):
        BatchConfig(inputs=(), output="out")


@pytest.mark.parametrize(
    ("options", "message"),
    [({"operator": "sharpen"}, "operator name must be one of"), ({"strength": 0.0}, "strength must be")],
)
def test_bad_loop_settings_raise_where_the_loop_config_is_made(options, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        _config([tmp_path], tmp_path / "out", loop=ConcealConfig(**options))
    with pytest.raises(BatchError, match="loop must be a ConcealConfig, got dict"):
        _config([tmp_path], tmp_path / "out", loop=options)


# ----------------------------------------------------------------------------- heatmaps


def test_heatmaps_go_to_a_folder_beside_the_outputs_never_among_them(crop_tree, tmp_path, stand_in):
    """A heatmap shows the original person: it must not be published with the outputs."""
    written = []

    def write_heatmaps(originals, attributions, paths):
        written.extend(p.relative_to(tmp_path / "out.heatmaps").as_posix() for p in paths)

    run_batch(
        _config([crop_tree / "cam_a"], tmp_path / "out", heatmaps=True),
        conceal_group=stand_in,
        write_heatmaps=write_heatmaps,
    )
    assert sorted(written) == ["000_45.heatmap.png", "001_45.heatmap.png", "002_45.heatmap.png"]


def test_the_heatmap_writer_draws_attributions(tmp_path, tiny_embedder):
    from deid.adversary import Adversary
    from deid.batch.wiring import heatmap_writer
    from reid_model import embed

    gallery = embed(tiny_embedder, torch.rand(4, 3, 128, 48, generator=torch.Generator().manual_seed(0)))
    write = heatmap_writer(Adversary([tiny_embedder], [gallery]))
    image = torch.rand(3, 128, 48)
    write([image, image], [None, torch.rand(1, 128, 48)], [tmp_path / "a.png", tmp_path / "b.png"])
    for name in ("a.png", "b.png"):
        assert read_image(tmp_path / name).shape == (3, 128, 48)


def test_a_frame_record_carries_what_the_finder_saw_of_each_person(pennfudan_root, tmp_path, stand_in):
    """A real street frame through the finder: boxes, scores, unsure flags, what found them and 33
    keypoints per person; after the finder's people, those its second look finds uncovered, then
    the unsure people that faces no one's head holds propose."""
    from deid.finder import Person, find_faces, looks_for, people_below_faces, uncovered_people

    frame = pennfudan_root / "PNGImages" / "PennPed00001.png"
    (tmp_path / "in").mkdir()
    shutil.copy(frame, tmp_path / "in" / frame.name)
    summary = run_batch(_config([tmp_path / "in"], tmp_path / "out"), conceal_group=stand_in)
    (record,) = json.loads(summary.report_json.read_text())["records"]
    image = read_image(frame)

    def grown_boxes(people: list[Person]) -> list[Box]:
        """An unsure person's box; a found person's, grown to hold the head and the feet."""
        return [
            p.box if p.uncertain else with_head_and_feet(p.box, p.keypoints, *image.shape[-2:])
            for p in people
        ]

    found = find_people(image)
    found += uncovered_people(image, grown_boxes(found), config=looks_for(grown_boxes(found)))
    heads = [p.box if p.uncertain else head_box(p.keypoints) for p in found]
    proposed = people_below_faces(image, find_faces(image), heads)
    assert len(found) >= 2 and all(p.uncertain for p in proposed)
    people = found + proposed
    assert record["status"] == "ok" and record["kind"] == "frame" and record["persons"] == len(people)
    grown = grown_boxes(people)
    assert record["boxes"] == [[b.x, b.y, b.w, b.h] for b in grown]  # each grown to hold the head
    assert any(b.y < p.box.y for b, p in zip(grown, people, strict=True))
    assert [p["uncertain"] for p in record["people"]] == [p.uncertain for p in people]
    assert [p["found_by"] for p in record["people"]] == [p.how for p in people]
    for seen, person in zip(record["people"], people, strict=True):
        assert seen["head"] is None  # the stand-in does nothing to heads (the loop conceals them)
        assert seen["score"] == pytest.approx(person.score, abs=1e-4)
        assert torch.allclose(torch.tensor(seen["keypoints"]), person.keypoints, atol=0.051)


def _two_people_one_unsure(monkeypatch) -> tuple[Box, Box]:
    """The finder stubbed to see one confirmed person and one it is unsure of."""
    from deid import detection
    from deid.finder import Person

    sure, unsure = Box(30, 20, 48, 128, 0.99), Box(250, 100, 48, 128, 0.3)

    def person(box: Box, uncertain: bool) -> Person:
        mask = torch.zeros(300, 400, dtype=torch.bool)
        mask[box.y : box.y + box.h, box.x : box.x + box.w] = True
        keypoints = torch.tensor([box.x + box.w / 2, box.y + box.h / 2, 1.0]).repeat(33, 1)  # a head inside
        return Person(box, box.score, mask, keypoints, uncertain=uncertain)

    found = [person(sure, False), person(unsure, True)]
    monkeypatch.setattr(detection, "find_frame_people", lambda image, **_: list(found))
    return sure, unsure


@pytest.mark.parametrize("mode", ["conceal", "flag"])
def test_unsure_people_are_concealed_by_default_and_flagged_on_request(tmp_path, stand_in, monkeypatch, mode):
    sure, unsure = _two_people_one_unsure(monkeypatch)
    frame, _ = _frame_with_people(tmp_path / "in" / "street.png")
    summary = run_batch(_config([tmp_path / "in"], tmp_path / "out", uncertain=mode), conceal_group=stand_in)
    record = _records(summary)["street.png"]
    written = read_image(tmp_path / "out" / "street.png")
    original = read_image(frame)
    inside = (slice(None), slice(unsure.y, unsure.y + unsure.h), slice(unsure.x, unsure.x + unsure.w))
    assert record["status"] == "ok"
    if mode == "conceal":
        assert record["persons"] == 2 and record["flagged"] == [] and record["success"] is True
        assert not torch.equal(written[inside], original[inside])
    else:  # left unchanged, listed, and the frame is not called private
        assert record["persons"] == 1 and record["boxes"] == [[sure.x, sure.y, sure.w, sure.h]]
        assert record["flagged"] == [[unsure.x, unsure.y, unsure.w, unsure.h]]
        assert record["success"] is False
        assert "1 unsure person(s) flagged and left UNCHANGED (--uncertain flag)" in record["note"]
        assert torch.equal(written[inside], original[inside])


def test_a_frame_with_only_unsure_people_flagged_is_not_written(tmp_path, stand_in, monkeypatch):
    from deid import detection

    _, unsure = _two_people_one_unsure(monkeypatch)
    only = [p for p in detection.find_frame_people(None) if p.uncertain]
    monkeypatch.setattr(detection, "find_frame_people", lambda image, **_: list(only))
    _frame_with_people(tmp_path / "in" / "street.png")
    summary = run_batch(
        _config([tmp_path / "in"], tmp_path / "out", uncertain="flag"), conceal_group=stand_in
    )
    record = _records(summary)["street.png"]
    assert record["status"] == "no_person" and record["output"] is None
    assert record["flagged"] == [[unsure.x, unsure.y, unsure.w, unsure.h]]
    assert "1 unsure person(s) flagged" in record["error"]
    assert not (tmp_path / "out" / "street.png").exists()


def test_uncertain_must_be_conceal_or_flag(tmp_path):
    with pytest.raises(BatchError, match=r"uncertain must be one of \['conceal', 'flag'\], got 'drop'"):
        _config([tmp_path], tmp_path / "out", uncertain="drop")


def test_person_masks_give_the_boxes_and_a_bad_mask_fails_its_file(tmp_path, stand_in):
    _, truth = _frame_with_people(tmp_path / "in" / "street.png")
    _frame_with_people(tmp_path / "in" / "sub" / "wrong.png")
    labels = np.zeros((300, 400), np.uint8)
    for i, (x, y, w, h) in enumerate(truth, start=1):
        labels[y : y + h, x + 5 : x + w - 5] = i  # a silhouette narrower than the box
    (tmp_path / "masks" / "sub").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "masks" / "street.png"), labels)
    cv2.imwrite(str(tmp_path / "masks" / "sub" / "wrong.png"), labels[:100])
    summary = run_batch(
        _config([tmp_path / "in"], tmp_path / "out", masks=str(tmp_path / "masks")), conceal_group=stand_in
    )
    records = _records(summary)
    good, bad = records["street.png"], records["wrong.png"]
    assert good["status"] == "ok" and good["boxes"] == [[x + 5, y, w - 10, h] for x, y, w, h in truth]
    assert "from the masks folder" in good["note"] and good["people"] is None
    assert bad["status"] == "failed" and bad["output"] is None
    assert "--masks: mask" in bad["error"] and "is 400x100 pixels, the image is 400x300" in bad["error"]


def test_masks_and_boxes_are_checked(tmp_path):
    with pytest.raises(BatchError, match=r"masks folder .*absent: no such folder"):
        _config([tmp_path], tmp_path / "out", masks=str(tmp_path / "absent"))
    with pytest.raises(BatchError, match="give person boxes or person masks, not both"):
        _config([tmp_path], tmp_path / "out", masks=str(tmp_path), boxes="b.json")
    with pytest.raises(BatchError, match=r"finder must be one of \['default', 'thorough'\], got 'fast'"):
        _config([tmp_path], tmp_path / "out", finder="fast")
    assert _config([tmp_path], tmp_path / "out", finder="thorough").finder_config.tiles == (300, 200)


def test_a_frame_note_names_every_look_that_found_its_people() -> None:
    from deid.batch.runner import _finders

    assert _finders(["finder", "finder"]) == "the person finder"
    assert _finders(["face", "finder", "second look", "finder"]) == (
        "the person finder (2), its second look (1) and the face net (1)"
    )
    assert _finders(["second look"]) == "its second look"


def test_a_file_already_at_an_output_path_is_replaced_and_said(crop_tree, tmp_path, stand_in):
    """A file of the user's at an output path (or an earlier run's output) is written over, as
    the run must, but never silently: the warning names it."""
    (tmp_path / "out").mkdir()
    mine = tmp_path / "out" / "000_45.bmp"
    mine.write_bytes(b"my own notes")
    summary = run_batch(_config([crop_tree / "cam_a"], tmp_path / "out"), conceal_group=stand_in)
    assert mine.read_bytes() != b"my own notes"
    assert summary.warnings[0] == f"1 file(s) already at their output paths were replaced ({mine})"
    assert summary.warnings[1].startswith("3 crops were each concealed alone")  # cam_a alone: no pairs
    again = run_batch(_config([crop_tree / "cam_a"], tmp_path / "out"), conceal_group=stand_in)
    assert any(
        w.startswith("3 file(s) already at their output paths were replaced (") for w in again.warnings
    )

"""``deid conceal`` through click's CliRunner over temporary folder trees."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from deid.cli import main
from tests.deid.conftest import StandIn, tree_hashes, write_crop


def _conceal_loop_missing() -> str | None:
    try:
        import deid.conceal  # noqa: F401
    except ImportError as exc:
        return f"the conceal loop (deid.conceal) cannot be imported yet: {exc}"
    return None


def _run(args, stand_in=None):
    obj = {"conceal_group": stand_in} if stand_in is not None else None
    return CliRunner().invoke(
        main, ["conceal", *map(str, args), "--no-progress"], obj=obj, catch_exceptions=False
    )


def _outputs(root: Path) -> list[str]:
    return sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and "report" not in p.name
    )


def test_conceal_mirrors_the_tree_and_leaves_inputs_byte_identical(crop_tree, tmp_path, stand_in):
    before = tree_hashes(crop_tree)
    result = _run([crop_tree, "-o", tmp_path / "out"], stand_in)
    assert result.exit_code == 0, result.output
    assert "7 ok, 0 failed" in result.output
    assert _outputs(tmp_path / "out") == sorted(before)
    assert tree_hashes(crop_tree) == before
    assert (tmp_path / "out" / "report.json").is_file() and (tmp_path / "out" / "report.csv").is_file()


def test_resume_skips_done_files(crop_tree, tmp_path, stand_in):
    assert _run([crop_tree, "-o", tmp_path / "out"], stand_in).exit_code == 0
    again = StandIn()
    result = _run([crop_tree, "-o", tmp_path / "out", "--resume"], again)
    assert result.exit_code == 0 and again.calls == []
    assert "(7 kept from before)" in result.output


def test_exit_code_is_1_when_a_file_failed(crop_tree, tmp_path, stand_in):
    (crop_tree / "cam_a" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    result = _run([crop_tree, "-o", tmp_path / "out", "--report", tmp_path / "r.json"], stand_in)
    assert result.exit_code == 1
    assert "7 ok, 1 failed" in result.output
    records = json.loads((tmp_path / "r.json").read_text())["records"]
    broken = next(r for r in records if r["input"].endswith("broken.png"))
    assert broken["status"] == "failed" and "not a readable image file" in broken["error"]
    assert (tmp_path / "r.csv").is_file()


@pytest.mark.parametrize("inside", ["", "cam_a/anon"])
def test_refuses_an_output_inside_the_input(crop_tree, tmp_path, stand_in, inside):
    before = tree_hashes(crop_tree)
    result = _run([crop_tree, "-o", crop_tree / inside], stand_in)
    assert result.exit_code == 2
    assert "Invalid value for -o/--output" in result.output and "inside the input folder" in result.output
    assert tree_hashes(crop_tree) == before and stand_in.calls == []


def test_bad_options_are_usage_errors(crop_tree, tmp_path, stand_in):
    assert _run([crop_tree, "-o", tmp_path / "o", "--operator", "sharpen"], stand_in).exit_code == 2
    assert _run([crop_tree, "-o", tmp_path / "o", "--strength", "0"], stand_in).exit_code == 2
    assert _run([crop_tree], stand_in).exit_code == 2  # no -o
    assert _run(["-o", tmp_path / "o"], stand_in).exit_code == 2  # no input
    (tmp_path / "boxes.json").write_text("[]")
    result = _run([crop_tree, "-o", tmp_path / "o", "--boxes", tmp_path / "boxes.json"], stand_in)
    assert result.exit_code == 2 and "Invalid value for --boxes" in result.output


def test_no_images_at_all_is_an_error(tmp_path, stand_in):
    (tmp_path / "empty").mkdir()
    result = _run([tmp_path / "empty", "-o", tmp_path / "out"], stand_in)
    assert result.exit_code == 1 and "no image files found" in result.output
    records = json.loads((tmp_path / "out" / "report.json").read_text())["records"]
    assert records[0]["error"] == "empty folder: no files found"


def test_composed_operator_and_glob_inputs(crop_tree, tmp_path, stand_in):
    result = _run(
        [
            str(crop_tree / "cam_*" / "*.bmp"),
            "-o",
            tmp_path / "out",
            "--operator",
            "blur+color_shift",
        ],
        stand_in,
    )
    assert result.exit_code == 0, result.output
    assert _outputs(tmp_path / "out") == sorted(
        f"{cam}/{pid:03d}_{angle}.bmp" for cam, angle in (("cam_a", 45), ("cam_b", 90)) for pid in range(3)
    )


def test_end_to_end_with_the_real_conceal_loop(tmp_path):
    """The bundled adversary and the real conceal loop, with heatmaps, on two views of a person."""
    if reason := _conceal_loop_missing():
        pytest.skip(reason)
    root = tmp_path / "in"
    write_crop(root / "cam_a" / "007_45.bmp", seed=1)
    write_crop(root / "cam_b" / "007_90.bmp", seed=2, size=(256, 96))
    before = tree_hashes(root)
    result = _run([root, "-o", tmp_path / "out", "--budget", "2", "--heatmaps", "--operator", "pixelate"])
    assert result.exit_code == 0, result.output
    assert tree_hashes(root) == before
    records = {
        Path(r["input"]).name: r
        for r in json.loads((tmp_path / "out" / "report.json").read_text())["records"]
    }
    for name, rel in (("007_45.bmp", "cam_a/007_45"), ("007_90.bmp", "cam_b/007_90")):
        record = records[name]
        assert record["status"] == "ok" and record["group"] == "viper:007"
        assert 0 <= record["steps"] <= 2 and 0 < record["area"] <= 1
        assert set(record["scores_before"]) >= {"match_rate", "rank"}
        assert (tmp_path / "out" / f"{rel}.bmp").is_file() and (
            tmp_path / "out" / f"{rel}.heatmap.png"
        ).is_file()
    assert records["007_45.bmp"]["area"] == records["007_90.bmp"]["area"]  # one mask for the person


def test_seeded_outfit_runs_are_reproducible(tmp_path):
    """With --seed the outfit draw, hence every output byte, repeats; the report names the outfit."""
    if reason := _conceal_loop_missing():
        pytest.skip(reason)
    root = tmp_path / "in"
    write_crop(root / "cam_a" / "003_45.bmp", seed=3)
    write_crop(root / "cam_b" / "003_90.bmp", seed=4)
    for out in ("one", "two"):
        result = _run([root, "-o", tmp_path / out, "--seed", "7", "--colors", "outfit"])
        assert result.exit_code == 0, result.output
    images = [
        {k: v for k, v in tree_hashes(tmp_path / out).items() if k.endswith(".bmp")} for out in ("one", "two")
    ]
    assert len(images[0]) == 2 and images[0] == images[1]
    records = json.loads((tmp_path / "one" / "report.json").read_text())["records"]
    outfits = [r["outfit"] for r in records]
    assert outfits[0] == outfits[1] and len(outfits[0]) == 2  # one outfit for the person

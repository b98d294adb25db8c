"""``deid conceal`` through click's CliRunner over temporary folder trees."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest
import torch
from click.testing import CliRunner

import deid
from deid.batch import CropResult
from deid.cli import main
from deid.finder import FACE_THRESHOLD
from reid_model import read_image
from tests.conftest import REPO
from tests.deid.conftest import Interrupted, StandIn, tree_hashes

EXAMPLES = REPO / "examples" / "images"


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


def test_an_interrupted_run_exits_130_and_says_how_to_finish(crop_tree, tmp_path):
    result = _run([crop_tree, "-o", tmp_path / "out"], Interrupted(1))
    assert result.exit_code == 130
    assert "interrupted" in result.output and "--resume" in result.output
    assert json.loads((tmp_path / "out" / "report.json").read_text())["finished"] is False


def test_an_interruption_before_the_run_began_says_nothing_was_written(
    crop_tree, tmp_path, monkeypatch, stand_in
):
    assert _run([crop_tree, "-o", tmp_path / "out"], stand_in).exit_code == 0  # an earlier, finished run

    def loading(*args, **kwargs):  # Ctrl-C while the models load
        raise KeyboardInterrupt

    monkeypatch.setattr("deid.batch.run.wiring.concealers", loading)
    result = _run([crop_tree, "-o", tmp_path / "out"], stand_in)
    assert result.exit_code == 130 and "before the run began: nothing was written" in result.output
    assert json.loads((tmp_path / "out" / "report.json").read_text())["finished"] is True  # as it was


def test_a_report_path_must_end_in_json(crop_tree, tmp_path, stand_in):
    result = _run([crop_tree, "-o", tmp_path / "out", "--report", tmp_path / "r.txt"], stand_in)
    assert result.exit_code == 2 and "--report" in result.output and "ending in .json" in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_kind_frame_searches_a_small_portrait_frame_auto_takes_for_a_crop(pennfudan_root, tmp_path, stand_in):
    # the left 250 columns of PennPed00030: two women, 1.5 times as high as wide
    frame = cv2.imread(str(pennfudan_root / "PNGImages" / "PennPed00030.png"))[:, :250]
    (tmp_path / "in").mkdir()
    assert cv2.imwrite(str(tmp_path / "in" / "two.png"), frame)
    kinds = {}
    for kind in ("auto", "frame"):
        result = _run([tmp_path / "in", "-o", tmp_path / kind, "--kind", kind], stand_in)
        assert result.exit_code in (0, 3), result.output
        (record,) = json.loads((tmp_path / kind / "report.json").read_text())["records"]
        kinds[kind] = (record["kind"], record["persons"])
    assert kinds["auto"] == ("crop", 1)
    assert kinds["frame"][0] == "frame" and kinds["frame"][1] >= 2


def test_a_run_is_not_resumed_with_another_kind(crop_tree, tmp_path, stand_in):
    assert _run([crop_tree, "-o", tmp_path / "out"], stand_in).exit_code == 0
    result = _run([crop_tree, "-o", tmp_path / "out", "--resume", "--kind", "frame"], stand_in)
    assert (
        result.exit_code == 2
        and "--kind" in result.output
        and "kind: the default then, 'frame' now" in result.output
    )
    assert _run([crop_tree, "-o", tmp_path / "out", "--resume", "--kind", "auto"], stand_in).exit_code == 0


def test_kind_crop_refuses_boxes(crop_tree, tmp_path, stand_in):
    boxes = tmp_path / "boxes.json"
    boxes.write_text("{}")
    result = _run([crop_tree, "-o", tmp_path / "out", "--kind", "crop", "--boxes", boxes], stand_in)
    assert result.exit_code == 2 and "--kind" in result.output


def test_exit_code_is_1_when_a_file_failed(crop_tree, tmp_path, stand_in):
    (crop_tree / "cam_a" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    result = _run([crop_tree, "-o", tmp_path / "out", "--report", tmp_path / "r.json"], stand_in)
    assert result.exit_code == 1
    assert "7 ok, 1 failed" in result.output
    records = json.loads((tmp_path / "r.json").read_text())["records"]
    broken = next(r for r in records if r["input"].endswith("broken.png"))
    assert broken["status"] == "failed" and "not a readable image file" in broken["error"]
    assert (tmp_path / "r.csv").is_file()
    # the terminal names the file and why, not only the count
    assert f"failed: {crop_tree / 'cam_a' / 'broken.png'}: not a readable image file" in result.output


def test_exit_code_is_3_when_a_written_person_is_still_matched(crop_tree, tmp_path):
    def half_private(images, paths):
        return [
            CropResult.of(image=torch.full_like(image, 0.5), success="001" not in path.name)
            for image, path in zip(images, paths, strict=True)
        ]

    result = _run([crop_tree, "-o", tmp_path / "out", "--group-by", "viper"], half_private)
    assert result.exit_code == 3, result.output
    assert "7 ok, 0 failed" in result.output and "still matches 2 image(s)" in result.output
    assert result.output.count("still matched: ") == 2 and "001_" in result.output  # named, on stderr


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
    for inputs in ([crop_tree], [tmp_path / "clip.mp4"]):  # images, and a video (read after the flags)
        result = _run([*inputs, "-o", tmp_path / "o", "--margin", "-1"], stand_in)
        assert result.exit_code == 2 and "Invalid value for --margin: margin must be" in result.output
    (tmp_path / "boxes.json").write_text("[]")
    result = _run([crop_tree, "-o", tmp_path / "o", "--boxes", tmp_path / "boxes.json"], stand_in)
    assert result.exit_code == 2 and "Invalid value for --boxes" in result.output


def test_no_images_at_all_is_an_error(tmp_path, stand_in):
    (tmp_path / "empty").mkdir()
    result = _run([tmp_path / "empty", "-o", tmp_path / "out"], stand_in)
    assert result.exit_code == 2 and "Invalid value for INPUTS: no image files found" in result.output
    assert "empty folder: no files found" in result.output
    result = _run([tmp_path / "missing.png", "-o", tmp_path / "out"], stand_in)  # a typo
    assert result.exit_code == 2 and "missing.png: no such file or folder" in result.output
    assert not (tmp_path / "out").exists()  # nothing written, not even the folder


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


def _real_crop(name: str, target: Path, size: tuple[int, int] | None = None) -> Path:
    """Copy the real VIPeR crop ``examples/images/<name>`` to ``target`` (resized to ``size`` (h, w))."""
    target.parent.mkdir(parents=True, exist_ok=True)
    image = cv2.imread(str(EXAMPLES / name))
    if size is not None:
        image = cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_CUBIC)
    cv2.imwrite(str(target), image)
    return target


def _report(out: Path) -> dict[str, dict]:
    return {Path(r["input"]).name: r for r in json.loads((out / "report.json").read_text())["records"]}


def test_end_to_end_with_the_real_conceal_loop(tmp_path):
    """The bundled adversary and the real loop, with heatmaps, on two real views of one person."""
    root = tmp_path / "in"
    _real_crop("cam_a/016_0.bmp", root / "cam_a" / "016_0.bmp")
    _real_crop("cam_b/016_90.bmp", root / "cam_b" / "016_90.bmp", size=(256, 96))
    before = tree_hashes(root)
    result = _run([root, "-o", tmp_path / "out", "--budget", "2", "--heatmaps", "--seed", "0"])
    assert result.exit_code == 0, result.output
    assert tree_hashes(root) == before
    records = _report(tmp_path / "out")
    for name, rel in (("016_0.bmp", "cam_a/016_0"), ("016_90.bmp", "cam_b/016_90")):
        record = records[name]
        assert record["status"] == "ok" and record["group"] == "viper:016"
        assert record["group_reason"].startswith("grouped: the adversary links it")
        assert 0 <= record["steps"] <= 2 and 0 < record["area"] <= 1
        assert record["scores_before"]["match_rate"] > 0.5  # the views match before concealment
        assert record["success"] is True or record["fallback"] is True
        written = read_image(tmp_path / "out" / f"{rel}.bmp")
        assert written.shape == read_image(root / f"{rel}.bmp").shape
        assert not torch.equal(written, read_image(root / f"{rel}.bmp"))
        assert (tmp_path / "out.heatmaps" / f"{rel}.heatmap.png").is_file()  # not among the outputs
        assert not (tmp_path / "out" / f"{rel}.heatmap.png").exists()
    assert f"not for publishing): {tmp_path / 'out.heatmaps'}" in result.output
    assert records["016_0.bmp"]["area"] == records["016_90.bmp"]["area"]  # one mask for the person


def test_two_people_named_like_phone_photos_are_each_concealed(tmp_path):
    """Issue 9, case 1: two different real persons named like date_time photos are not one person."""
    root = tmp_path / "in"
    names = {"20240101_000001.bmp": "cam_a/001_45.bmp", "20240101_000002.bmp": "cam_a/014_0.bmp"}
    for name, source in names.items():
        _real_crop(source, root / name)
    result = _run([root, "-o", tmp_path / "out", "--seed", "0"])
    assert result.exit_code == 0, result.output
    records = _report(tmp_path / "out")
    for name in names:
        record = records[name]
        assert record["status"] == "ok" and record["group"] == f"file:{name}"
        original, written = read_image(root / name), read_image(tmp_path / "out" / name)
        changed = (written - original).abs().amax(0) > 2 / 255
        assert record["area"] > 0.2 and float(changed.float().mean()) > 0.2, (name, record["area"])
        # Checked against its own original: matched before, beaten after (or the report says not).
        assert record["scores_before"] == {"match_rate": 1.0, "rank": 1.0}
        assert record["success"] is (record["scores_after"]["match_rate"] <= 0.5)
    # The written files are re-checked by an independent adversary in test_written_verdict.py.


def test_a_claimed_group_of_two_people_is_split_and_says_why(tmp_path):
    """``--group-by viper`` believes the names; the adversary does not link the two persons."""
    root = tmp_path / "in"
    _real_crop("cam_a/001_45.bmp", root / "cam_a" / "000_45.bmp")
    _real_crop("cam_b/014_90.bmp", root / "cam_b" / "000_90.bmp")
    result = _run([root, "-o", tmp_path / "out", "--group-by", "viper", "--seed", "0"])
    records = _report(tmp_path / "out")
    matched = any(r["success"] is False for r in records.values())
    assert result.exit_code == (3 if matched else 0), result.output
    for rel in ("cam_a/000_45.bmp", "cam_b/000_90.bmp"):
        record = records[Path(rel).name]
        assert record["group"] == "viper:000" and record["status"] == "ok"
        assert record["group_reason"].startswith("split from its group of 2")
        assert "concealed on its own" in record["group_reason"]
        # the name claims one person: an output still matching the other view is flagged
        assert record["success"] is ("NOT private" not in record["group_reason"])
        assert record["area"] > 0.2 and record["scores_before"] == {"match_rate": 1.0, "rank": 1.0}
        assert not torch.equal(read_image(tmp_path / "out" / rel), read_image(root / rel))


def test_a_split_appearance_must_not_match_the_rest_of_its_group(tmp_path):
    """VIPeR 001's two views are one person the adversary does not link before concealment, so
    they are split; each output must still defeat the adversary against the *other* view too
    (what `deid verify` checks), or be reported not private."""
    root = tmp_path / "in"
    _real_crop("cam_a/001_45.bmp", root / "cam_a" / "001_45.bmp")
    _real_crop("cam_b/001_90.bmp", root / "cam_b" / "001_90.bmp")
    result = _run([root, "-o", tmp_path / "out", "--group-by", "viper", "--seed", "0"])
    records = _report(tmp_path / "out")
    assert result.exit_code == (3 if any(r["success"] is False for r in records.values()) else 0)
    checked = deid.verify(tmp_path / "out")
    assert checked.counts()["contradicted"] == 0 and checked.exit_code == 0


def test_seeded_outfit_runs_are_reproducible(tmp_path):
    """With --seed the outfit draw, hence every output byte, repeats; the report names the outfit."""
    root = tmp_path / "in"
    _real_crop("cam_a/014_0.bmp", root / "cam_a" / "014_0.bmp")
    _real_crop("cam_b/014_90.bmp", root / "cam_b" / "014_90.bmp")
    for out in ("one", "two"):
        result = _run([root, "-o", tmp_path / out, "--seed", "7", "--colors", "outfit"])
        assert result.exit_code == 0, result.output
    images = [
        {k: v for k, v in tree_hashes(tmp_path / out).items() if k.endswith(".bmp")} for out in ("one", "two")
    ]
    assert len(images[0]) == 2 and images[0] == images[1]
    records = json.loads((tmp_path / "one" / "report.json").read_text())["records"]
    assert all(r["group"] == "viper:014" for r in records)
    outfits = [r["outfit"] for r in records]
    assert outfits[0] == outfits[1] and set(outfits[0]) == {"top", "bottom", "pattern"}  # one for the person


# ----------------------------------------------------------------------------- the loop's settings


#: What a report's settings held before BatchConfig held a ConcealConfig: a default run keeps them.
_SETTINGS = {
    "inputs", "output", "operator", "strength", "group_by", "heatmaps", "device", "report", "boxes",
    "weights", "adversary", "top_k", "budget", "method", "colors", "seed", "keep_undetected", "uncertain",
    "finder", "faces", "second_look", "masks", "head", "shape",
}  # fmt: skip


def _capture(monkeypatch, stand_in):
    """Run the real batch with ``stand_in`` and keep the BatchConfig the CLI built."""
    import deid.cli.conceal as command

    seen = []

    def run_batch(config, **hooks):
        seen.append(config)
        return deid.run_batch(config, conceal_group=stand_in)

    monkeypatch.setattr(command, "run_batch", run_batch)
    return seen


def test_every_loop_setting_has_a_flag_and_reaches_the_config(crop_tree, tmp_path, monkeypatch, stand_in):
    from dataclasses import fields

    from deid.cli.conceal import conceal_command

    names = {p.name for p in conceal_command.params}
    loop = {f.name for f in fields(deid.ConcealConfig)} - {"top_k", "max_match_rate"}  # the adversary's
    assert loop <= names, f"ConcealConfig fields without a flag: {sorted(loop - names)}"
    seen = _capture(monkeypatch, stand_in)
    args = ["--grid", "8", "3", "--first-cells", "4", "--growth", "3", "--no-refine", "--ig-steps", "2"]
    args += [
        "--fallback-operator",
        "blur",
        "--budget",
        "2",
        "--method",
        "integrated_gradients",
        "--seed",
        "5",
        "--head-scale",
        "0.5",
        "--figure-draws",
        "3",
        "--figure-pose",
        "own",
    ]
    result = _run([crop_tree, "-o", tmp_path / "out", *args, "--top-k", "3", "--faces", "0.3"])
    assert result.exit_code == 0, result.output
    (config,) = seen
    assert config.faces == 0.3 and config.finder_config.faces == 0.3
    expected = deid.ConcealConfig(
        grid=(8, 3),
        first_cells=4,
        growth=3.0,
        refine=False,
        ig_steps=2,
        fallback_operator="blur",
        budget=2,
        method="integrated_gradients",
        seed=5,
        head_scale=0.5,
        figure_draws=3,
        figure_pose="own",
    )
    assert config.loop == expected and config.top_k == 3
    settings = json.loads((tmp_path / "out" / "report.json").read_text())["settings"]
    assert settings["grid"] == [8, 3] and settings["first_cells"] == 4 and settings["refine"] is False
    assert settings["fallback_operator"] == "blur" and settings["top_k"] == 3 and settings["budget"] == 2
    assert settings["head_scale"] == 0.5 and settings["faces"] == 0.3 and settings["figure_pose"] == "own"


def test_a_default_run_records_the_settings_it_always_did(crop_tree, tmp_path, monkeypatch, stand_in):
    seen = _capture(monkeypatch, stand_in)
    assert _run([crop_tree, "-o", tmp_path / "out"]).exit_code == 0
    assert seen[0].loop == deid.ConcealConfig()  # the defaults come from the config
    settings = json.loads((tmp_path / "out" / "report.json").read_text())["settings"]
    assert set(settings) == _SETTINGS and settings["top_k"] == deid.Adversary.top_k
    assert settings["adversary"] == "strong" and settings["faces"] == FACE_THRESHOLD == 0.35
    assert seen[0].finder_config.faces == FACE_THRESHOLD
    assert settings["second_look"] is True and seen[0].finder_config.look


@pytest.mark.parametrize(
    ("flags", "look"), [([], True), (["--no-second-look"], False), (["--finder", "thorough"], False)]
)
def test_the_second_look_is_on_unless_turned_off_or_the_first_is_thorough(
    crop_tree, tmp_path, monkeypatch, stand_in, flags, look
):
    seen = _capture(monkeypatch, stand_in)
    assert _run([crop_tree, "-o", tmp_path / "out", *flags]).exit_code == 0
    assert seen[0].finder_config.look is look


def test_loop_flags_say_what_the_config_docstring_says():
    from deid.cli.conceal import conceal_command
    from deid.cli.options import field_help

    helps = {p.name: getattr(p, "help", "") for p in conceal_command.params}
    assert (
        helps["first_cells"]
        == field_help(deid.ConcealConfig, "first_cells")
        == ("Cells in the mask after the first step.")
    )
    assert "``" not in helps["fallback_operator"] and helps["grid"].startswith("Rows and columns")
    with pytest.raises(ValueError, match="has no attribute 'nope'"):
        field_help(deid.ConcealConfig, "nope")


def test_a_bad_loop_setting_is_a_usage_error(crop_tree, tmp_path, stand_in):
    result = CliRunner().invoke(
        main, ["conceal", str(crop_tree), "-o", str(tmp_path / "out"), "--growth", "1"], obj={}
    )
    assert result.exit_code == 2 and "--growth" in result.output and not (tmp_path / "out").exists()


def test_link_none_keeps_the_groups_the_run_knows_and_is_recorded(crop_tree, tmp_path, stand_in):
    """``--link none`` conceals each image alone (in the loop's wiring, ``test_wiring.py``) but keeps
    its group, against which each is still judged: the records keep the group, the report the
    setting, and any grouping goes with it."""
    result = _run([crop_tree, "-o", tmp_path / "out", "--link", "none", "--group-by", "viper"], stand_in)
    assert result.exit_code == 0  # refused before: "--link none conceals each image alone"
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["settings"]["link"] == "none"
    groups = [r["group"] for name, r in _report(tmp_path / "out").items() if name.endswith(".bmp")]
    assert len(groups) == 6 and all(g.startswith("viper:") for g in groups)
    kept = _run([crop_tree, "-o", tmp_path / "out2", "--link", "none", "--group-by", "folder"], StandIn())
    assert kept.exit_code == 0
    default = _run([crop_tree, "-o", tmp_path / "out3"], StandIn())
    assert default.exit_code == 0
    assert "link" not in json.loads((tmp_path / "out3" / "report.json").read_text())["settings"]


def test_a_frame_where_nobody_is_found_is_named_and_not_written(tmp_path, stand_in):
    """A new user's run of a 40x20 image got "1 frame(s) had nobody detected" without its name."""
    (tmp_path / "in").mkdir()
    assert cv2.imwrite(
        str(tmp_path / "in" / "empty.png"), torch.full((120, 160, 3), 90).numpy().astype("uint8")
    )
    result = _run([tmp_path / "in", "-o", tmp_path / "out"], stand_in)
    assert result.exit_code == 0, result.output
    assert f"nobody found: {tmp_path / 'in' / 'empty.png'}: not written" in result.output
    assert not (tmp_path / "out" / "empty.png").exists()


def test_crops_concealed_alone_say_so_in_their_records_and_on_stderr(crop_tree, tmp_path, stand_in):
    """A new user's review: renamed crops (no VIPeR names) were each judged against themselves only,
    all reported private, while the adversary matched many to the person's other photo; nothing
    said that no grouping was found."""
    from deid.batch.runner import ALONE

    result = _run([crop_tree, "-o", tmp_path / "out"], stand_in)  # x.png: no layout for all
    assert result.exit_code == 0
    assert "7 crops were each concealed alone, judged against their own original only" in result.output
    assert all(r["group_reason"] == ALONE for r in _report(tmp_path / "out").values())
    grouped = _run([crop_tree, "-o", tmp_path / "out2", "--group-by", "viper"], StandIn())
    assert grouped.exit_code == 0 and "concealed alone" not in grouped.output
    records = _report(tmp_path / "out2")
    assert records["x.png"]["group_reason"] == ALONE  # one crop alone: said in its record only
    assert all(r["group_reason"] is None for name, r in records.items() if name.endswith(".bmp"))


def test_a_run_into_an_earlier_runs_folder_says_it_replaced_that_report(crop_tree, tmp_path, stand_in):
    """A new user's review: a second run into the same folder replaced report.json, and the earlier
    run's 12 records (a "not private" among them) went without a word."""
    first = _run([crop_tree, "-o", tmp_path / "out"], stand_in)
    assert first.exit_code == 0 and "held the report of an earlier run" not in first.output
    again = _run([crop_tree / "extra", "-o", tmp_path / "out"], StandIn())
    assert again.exit_code == 0
    assert "report.json held the report of an earlier run (7 records), replaced by this run's" in again.output
    assert len(_report(tmp_path / "out")) == 1

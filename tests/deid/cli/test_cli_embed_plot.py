"""``deid embed-plot``: one PNG per split part, written atomically; bad input named."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from deid.cli import main
from reid_model import INDEPENDENT_WEIGHTS
from reid_model.io import read_image


def _run(*args):
    return CliRunner().invoke(main, ["embed-plot", *(str(a) for a in args)])


def test_embed_plot_writes_the_parts_with_persons(fake_viper, tiny_checkpoint, tmp_path):
    out = tmp_path / "plots"
    result = _run("--data", fake_viper, "--weights", tiny_checkpoint, "--out", out, "--size", 400)
    assert result.exit_code == 0, result.output
    # The tiny checkpoint's split has test persons only: train and val are left out, and said so.
    assert "train: fewer than 2 persons" in result.output and "val: fewer than 2 persons" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["embed_test.png"]  # no temporary file left
    assert read_image(out / "embed_test.png").shape == (3, 400, 400)


def test_embed_plot_compare_draws_two_panels(fake_viper, tiny_checkpoint, tmp_path):
    out = tmp_path / "plots"
    result = _run(
        "--data", fake_viper, "--weights", tiny_checkpoint, "--compare", tiny_checkpoint,
        "--part", "test", "--size", 400, "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    figure = read_image(out / "embed_test.png")
    assert figure.shape == (3, 400, 824)  # two panels and a 24-pixel gap
    assert (figure[:, :, :400] - figure[:, :, 424:]).abs().max() == 0  # same model: same panel


def test_missing_data_folder_is_named(tmp_path):
    missing = tmp_path / "no_such_dataset"
    result = _run("--data", missing, "--out", tmp_path / "plots")
    assert result.exit_code == 2, result.output
    assert "--data" in result.output and str(missing) in result.output and "does not exist" in result.output
    assert "Traceback" not in result.output


def test_unwritable_out_is_named(fake_viper, tiny_checkpoint, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    result = _run("--data", fake_viper, "--weights", tiny_checkpoint, "--out", blocker / "plots")
    assert result.exit_code == 2, result.output
    assert "--out" in result.output and "cannot create the output folder" in result.output


def test_thumbnails_larger_than_a_quarter_of_the_panel_are_refused(fake_viper, tmp_path):
    result = _run("--data", fake_viper, "--size", 400, "--thumb-height", 101, "--out", tmp_path / "plots")
    assert (
        result.exit_code == 2 and "--thumb-height" in result.output and "at most a quarter" in result.output
    )


def test_out_inside_the_dataset_is_refused(fake_viper, tiny_checkpoint):
    result = _run("--data", fake_viper, "--weights", tiny_checkpoint, "--out", fake_viper / "plots")
    assert result.exit_code == 2 and "must not be inside the dataset" in result.output
    assert not (fake_viper / "plots").exists()


def test_bad_checkpoints_and_splits_are_named(fake_viper, tiny_checkpoint, tmp_path):
    missing = tmp_path / "missing.safetensors"
    result = _run("--data", fake_viper, "--weights", tiny_checkpoint, "--compare", missing, "--out", tmp_path)
    assert result.exit_code == 2 and "--compare" in result.output and str(missing) in result.output
    folder = tmp_path / "folder_tree"
    folder.mkdir()
    for camera in ("0", "1"):
        (folder / "7" / camera).mkdir(parents=True)
        shutil.copy(fake_viper / "cam_a" / "000_0.bmp", folder / "7" / camera / "x.bmp")
    result = _run("--data", folder, "--split", "viper316", "--out", tmp_path / "plots")
    assert result.exit_code == 2 and "--split" in result.output and "viper316" in result.output


@pytest.mark.viper
def test_embed_plot_on_viper_side_by_side(viper_root, tmp_path):
    out = tmp_path / "plots"
    result = _run(
        "--data", viper_root, "--compare", INDEPENDENT_WEIGHTS, "--part", "test",
        "--size", 600, "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["embed_test.png"]
    figure = read_image(out / "embed_test.png")
    assert figure.shape == (3, 600, 1224)
    # The two networks place the 254 crops differently.
    assert (figure[:, 200:, :600] - figure[:, 200:, 624:]).abs().mean() > 0.01

import json

from click.testing import CliRunner

from deid.cli import main


def _train_args(data, run):
    return [
        "train",
        "--data",
        str(data),
        "--arch",
        "stripe",
        "--epochs",
        "1",
        "--persons-per-batch",
        "4",
        "--out",
        str(run),
    ]


def test_train_then_evaluate(fake_viper, tmp_path):
    run = tmp_path / "run"
    args = _train_args(fake_viper, run)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "test" in result.output and (run / "best.safetensors").is_file()
    out = tmp_path / "m.json"
    result = CliRunner().invoke(
        main,
        [
            "evaluate",
            "--data",
            str(fake_viper),
            "--weights",
            str(run / "best.safetensors"),
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["arch"] == "stripe"


def test_missing_dataset_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(
        main, ["train", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "r")]
    )
    assert result.exit_code != 0
    assert "does not exist" in result.output


def test_foreign_checkpoint_is_a_clear_error(fake_viper, tmp_path):
    bad = tmp_path / "model.safetensors"
    bad.write_bytes(b"not a checkpoint")
    result = CliRunner().invoke(main, ["evaluate", "--data", str(fake_viper), "--weights", str(bad)])
    assert result.exit_code != 0
    assert "metadata" in result.output and "missing" in result.output


def test_train_nproc_runs_torchrun_and_reports_once(fake_viper, tmp_path):
    result = CliRunner().invoke(main, [*_train_args(fake_viper, tmp_path / "run"), "--nproc", "2"])
    assert result.exit_code == 0, result.output
    assert result.output.count("best checkpoint:") == 1 and "test" in result.output
    assert (tmp_path / "run" / "best.safetensors").is_file()
    assert (tmp_path / "run" / "ddp_config.json").is_file()

"""Options shared by the commands: one ``--data`` for every dataset, declared once."""

from __future__ import annotations

import json

import click
import pytest
import torch
from click.testing import CliRunner

from deid.cli import main
from deid.cli.options import data_option

#: Every command that reads a dataset, with what else it needs to get as far as reading it.
DATASET_COMMANDS = {
    "train": ["--epochs", "1", "--out", "{tmp}/run"],
    "evaluate": ["--weights", "{checkpoint}"],
    "analyze": ["--weights", "{checkpoint}", "--out", "{tmp}/analysis"],
    "explain": ["--person", "0", "--weights", "{checkpoint}", "--out", "{tmp}/maps"],
    "audit": ["--methods", "blackout", "--attackers", "handcrafted", "--out", "{tmp}/audit"],
    "embed-plot": ["--weights", "{checkpoint}", "--out", "{tmp}/plots"],
}


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.mark.parametrize("command", sorted(DATASET_COMMANDS))
def test_every_dataset_command_takes_data(command):
    result = _run(command, "--help")
    assert result.exit_code == 0, result.output
    assert "--data " in result.output and "--viper" not in result.output


@pytest.mark.parametrize("command", sorted(DATASET_COMMANDS))
def test_data_is_the_dataset_read(command, tiny_checkpoint, tmp_path):
    """A missing --data folder is a usage error that names it, the same in every command."""
    missing = tmp_path / "no_such_dataset"
    extra = [a.format(tmp=tmp_path, checkpoint=tiny_checkpoint) for a in DATASET_COMMANDS[command]]
    result = _run(command, "--data", missing, *extra)
    assert result.exit_code == 2, result.output
    assert f"dataset folder {missing} does not exist or is not a folder" in result.output
    assert "Traceback" not in result.output


def test_evaluate_reads_data(fake_viper, tiny_checkpoint, tmp_path):
    out = tmp_path / "m.json"
    result = _run("evaluate", "--data", fake_viper, "--weights", tiny_checkpoint, "--json", out)
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["parts"]["test"]["num_persons"] == 12


def test_evaluate_keeps_viper_as_a_deprecated_alias(fake_viper, tiny_checkpoint, tmp_path):
    out = tmp_path / "m.json"
    result = _run("evaluate", "--viper", fake_viper, "--weights", tiny_checkpoint, "--json", out)
    assert result.exit_code == 0, result.output
    assert "--viper is deprecated; use --data" in result.output
    assert json.loads(out.read_text())["parts"]["test"]["num_persons"] == 12


@pytest.mark.parametrize("order", ["data first", "viper first"])
def test_evaluate_refuses_data_and_viper_together(fake_viper, tiny_checkpoint, tmp_path, order):
    flags = [["--data", fake_viper], ["--viper", tmp_path]]
    if order == "viper first":
        flags.reverse()
    result = _run("evaluate", *flags[0], *flags[1], "--weights", tiny_checkpoint)
    assert result.exit_code == 2
    assert "give --data or --viper, not both" in result.output


def test_data_option_alias_reaches_the_command(tmp_path):
    for name in ("default_root", "a", "b"):
        (tmp_path / name).mkdir()

    @click.command()
    @data_option(default=str(tmp_path / "default_root"), deprecated=("--old-root",))
    def show(data: str) -> None:
        click.echo(f"data={data}")

    runner = CliRunner()
    assert runner.invoke(show, []).output == f"data={tmp_path / 'default_root'}\n"
    assert runner.invoke(show, ["--data", tmp_path / "a"]).output == f"data={tmp_path / 'a'}\n"
    result = runner.invoke(show, ["--old-root", tmp_path / "b"])
    assert result.exit_code == 0 and result.stdout == f"data={tmp_path / 'b'}\n"
    missing = runner.invoke(show, ["--old-root", tmp_path / "c"])
    assert missing.exit_code == 2 and "dataset folder" in missing.output
    assert "--old-root is deprecated" in result.stderr
    assert "--old-root" not in runner.invoke(show, ["--help"]).output


@pytest.mark.parametrize("command", ["train", "audit", "embed-plot", "conceal", "verify"])
def test_a_device_torch_or_this_machine_does_not_have_is_a_usage_error(command, tmp_path):
    extra = {"conceal": [tmp_path, "-o", tmp_path / "out"], "verify": [tmp_path]}.get(command, [])
    bogus = _run(command, *extra, "--device", "bogus")
    assert bogus.exit_code == 2 and "'bogus' is not a torch device" in bogus.output
    assert "Traceback" not in bogus.output and "--weights" not in bogus.output
    if not torch.cuda.is_available():
        gpu = _run(command, *extra, "--device", "cuda")
        assert gpu.exit_code == 2 and "torch finds no CUDA GPU on this machine" in gpu.output

"""The bundled model on the real VIPeR data (skipped where ../shared/data/viper is absent)."""

import json

import pytest
from click.testing import CliRunner

from deid.cli import main
from reid_model import Split, default_metadata, evaluate, load_default, load_viper

SEED_TEST_ERROR = 0.13125  # the seed's reported test error
#: The seed's table: seed's error on train / validation / test of its 404 / 101 / 127 split.
SEED_TABLE = {"train": 0.02453, "val": 0.08125, "test": 0.13125}


@pytest.mark.viper
def test_bundled_model_reproduces_the_seed_table(viper_root):
    model = load_default()
    meta = default_metadata()
    split = Split.from_dict(meta["split"])
    assert (len(split.train), len(split.val), len(split.test)) == (404, 101, 127)
    metrics = evaluate(model, load_viper(viper_root), split)
    assert metrics["test"]["seed_error"] <= SEED_TEST_ERROR
    # The metadata's recorded metrics are what a fresh evaluation gives.
    assert metrics["test"]["seed_error"] == pytest.approx(meta["metrics"]["test"]["seed_error"], abs=1e-6)


@pytest.mark.viper
def test_the_bundled_seed_network_is_at_or_below_all_three_of_the_seeds_errors(viper_root, tmp_path):
    out = tmp_path / "seed.json"
    result = CliRunner().invoke(
        main, ["evaluate", "--data", str(viper_root), "--model", "seed", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    saved = json.loads(out.read_text())
    assert saved["arch"] == "triplet" and saved["weights"] == "bundled seed"
    assert saved["split"]["name"] == "seed"
    for part, seed_error in SEED_TABLE.items():
        assert saved["parts"][part]["seed_error"] <= seed_error, (part, saved["parts"][part])
    refused = CliRunner().invoke(main, ["evaluate", "--model", "seed", "--weights", "x.safetensors"])
    assert refused.exit_code == 2 and "give --weights or --model, not both" in refused.output


@pytest.mark.viper
def test_evaluate_command_writes_json(viper_root, tmp_path):
    out = tmp_path / "metrics.json"
    result = CliRunner().invoke(main, ["evaluate", "--viper", str(viper_root), "--json", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert set(data["parts"]) == {"train", "val", "test"}
    assert data["parts"]["test"]["seed_error"] <= SEED_TEST_ERROR
    assert "rank1" in data["parts"]["test"] and "mAP" in data["parts"]["test"]


@pytest.mark.viper
def test_evaluating_on_persons_the_model_trained_on_is_refused(viper_root):
    result = CliRunner().invoke(main, ["evaluate", "--viper", str(viper_root), "--split", "viper316"])
    assert result.exit_code == 1
    assert "was trained on" in result.output and "test persons of split 'viper316'" in result.output

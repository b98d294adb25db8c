"""``deid evaluate``: each dataset with its own protocol; a split only on the dataset it was made for."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict

import pytest
import torch
from click.testing import CliRunner

from deid.cli import main
from reid_model import (
    MARKET1501_PROTOCOL,
    Split,
    StripeEmbedder,
    evaluate_market1501,
    load_checkpoint,
    save_checkpoint,
    seed_split,
    viper_protocol_splits,
)
from tests.conftest import write_random_image
from tests.reid_model.conftest import write_market


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _checkpoint(path, split: Split):
    torch.manual_seed(0)
    model = StripeEmbedder(widths=(8, 16), stripes=2, embedding_dim=8).eval()
    return save_checkpoint(path, model, {"split": asdict(split)})


@pytest.fixture
def market(tmp_path):
    return write_market(tmp_path / "market")


@pytest.fixture
def people(tmp_path):
    """A person/camera folder tree of 4 persons (ids 0..3) x 2 cameras."""
    root = tmp_path / "people"
    for pid in range(4):
        for cam in range(2):
            write_random_image(root / str(pid) / str(cam) / "a.png", seed=10 * pid + cam, size=(16, 8))
    return root


def test_market_is_evaluated_query_against_gallery(market, tiny_checkpoint, tmp_path):
    out = tmp_path / "m.json"
    result = _run("evaluate", "--data", market, "--weights", tiny_checkpoint, "--json", out)
    assert result.exit_code == 0, result.output
    header, row = result.output.splitlines()[:2]
    assert header.split() == [
        "part",
        "persons",
        "queries",
        "gallery",
        "skipped",
        "rank1",
        "rank5",
        "rank10",
        "rank20",
        "mAP",
        "mINP",
    ]
    assert row.split()[:5] == ["test", "4", "5", "16", "1"]  # person 9's query skipped
    data = json.loads(out.read_text())
    assert (data["dataset"], data["protocol"]) == ("market1501", "market1501")
    assert data["protocol_definition"] == MARKET1501_PROTOCOL and "split" not in data
    expected = evaluate_market1501(load_checkpoint(tiny_checkpoint), market)
    assert data["parts"] == {"test": pytest.approx(expected)}


@pytest.mark.parametrize("flags", [["--dataset", "market1501"], ["--split", "market1501"]])
def test_market_flags_spelled_out(market, tiny_checkpoint, flags):
    result = _run("evaluate", "--data", market, "--weights", tiny_checkpoint, *flags)
    assert result.exit_code == 0, result.output
    assert "mINP" in result.output


@pytest.mark.parametrize(
    ("dataset", "split", "made_for", "allowed"),
    [
        ("market", "viper316", "is for viper datasets", ["'market1501'"]),
        ("market", "seed", "is for viper and folder datasets", ["'market1501'"]),
        ("viper", "market1501", "is for market1501 datasets", ["'seed'", "'viper316'"]),
        ("people", "viper316", "is for viper datasets", ["'seed'"]),
        ("people", "market1501", "is for market1501 datasets", ["'seed'"]),
    ],
)
def test_a_split_of_another_dataset_is_refused(
    market, fake_viper, people, tiny_checkpoint, dataset, split, made_for, allowed
):
    root = {"market": market, "viper": fake_viper, "people": people}[dataset]
    result = _run("evaluate", "--data", root, "--weights", tiny_checkpoint, "--split", split)
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--split'" in result.output and made_for in result.output
    assert all(f"{name} (" in result.output for name in allowed)
    assert "Traceback" not in result.output


def test_a_viper_checkpoint_s_split_is_not_applied_to_other_persons(fake_viper, people, tmp_path):
    viper_trained = _checkpoint(tmp_path / "viper.safetensors", seed_split(range(632)))
    for root, kind in ((fake_viper, "viper"), (people, "folder")):
        result = _run("evaluate", "--data", root, "--weights", viper_trained)
        assert result.exit_code == 2, result.output
        assert "the checkpoint's split 'seed' divides 632 persons (ids 0..631)" in result.output
        assert f"this {kind} dataset has" in result.output
        assert "a split is applied only to the dataset it was made for" in result.output


def test_a_market_dataset_given_as_viper_names_the_missing_folder(market, tiny_checkpoint):
    result = _run("evaluate", "--data", market, "--dataset", "viper", "--weights", tiny_checkpoint)
    assert result.exit_code == 1
    assert "VIPeR camera 'cam_a' folder" in result.output and "does not exist" in result.output


def test_a_checkpoint_trained_elsewhere_is_evaluated_on_viper316(fake_viper, tmp_path):
    elsewhere = _checkpoint(tmp_path / "m.safetensors", seed_split(range(2, 22), sizes=(12, 4, 4)))
    out = tmp_path / "m.json"
    result = _run(
        "evaluate", "--data", fake_viper, "--weights", elsewhere, "--split", "viper316", "--json", out
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert (data["dataset"], data["protocol"], data["split"]["name"]) == ("viper", "viper316", "viper316")
    assert set(data["parts"]) == {"train", "test"}


def test_test_persons_the_checkpoint_trained_on_are_still_refused(fake_viper, tmp_path):
    own = Split("seed", 0, tuple(range(6)), (), tuple(range(6, 12)))
    assert set(own.train) & set(viper_protocol_splits(range(12), trials=1)[0].test)
    result = _run(
        "evaluate",
        "--data",
        fake_viper,
        "--weights",
        _checkpoint(tmp_path / "m.safetensors", own),
        "--split",
        "viper316",
    )
    assert result.exit_code == 1
    assert "was trained on" in result.output and "test persons of split 'viper316'" in result.output


def test_a_folder_on_its_own_split(people, tmp_path):
    own = _checkpoint(tmp_path / "m.safetensors", Split("seed", 0, (0, 1), (), (2, 3)))
    out = tmp_path / "m.json"
    result = _run("evaluate", "--data", people, "--weights", own, "--json", out)
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert (data["dataset"], data["protocol"]) == ("folder", "seed")
    assert data["parts"]["test"]["num_persons"] == 2


def test_a_market_tree_without_queries_is_a_clear_error(market, tiny_checkpoint):
    shutil.rmtree(market / "query")
    (market / "bounding_box_train").mkdir()
    result = _run("evaluate", "--data", market, "--weights", tiny_checkpoint)
    assert result.exit_code == 1
    assert f"Market-1501 'query' folder {market / 'query'} does not exist" in result.output

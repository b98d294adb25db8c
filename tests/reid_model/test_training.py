import json

import pytest
import torch

from reid_model import TrainConfig, load_checkpoint, load_splits, train
from reid_model.torchrun import train_on_processes
from reid_model.training import _selection_score

SMALL = {"widths": [8, 16], "stripes": 2, "embedding_dim": 8}


def _config(root, out, **kw):
    base = dict(
        data=str(root),
        arch="stripe",
        arch_config=SMALL,
        epochs=2,
        persons_per_batch=4,
        loss="margin",
        mining="hard",
        id_loss=0.5,
        out=str(out),
        warmup_epochs=1,
    )
    base.update(kw)
    return TrainConfig(**base)


def test_training_writes_everything(fake_viper, tmp_path):
    metrics = train(_config(fake_viper, tmp_path / "run"), progress=False)
    run = tmp_path / "run"
    for name in (
        "best.safetensors",
        "best.json",
        "last.safetensors",
        "train_state.safetensors",
        "split.json",
        "metrics.json",
        "history.json",
    ):
        assert (run / name).is_file(), name
    assert set(metrics) >= {"train", "val", "test"}
    assert 0.0 <= metrics["test"]["seed_error"] <= 1.0
    meta = json.loads((run / "best.json").read_text())
    assert meta["train_config"]["epochs"] == 2 and "metrics" in meta and meta["split"]["test"]
    assert load_splits(run / "split.json")[0].test == tuple(meta["split"]["test"])


def test_the_selection_names_which_validation_measure_picks_the_best_epoch():
    history = [
        {"val_mAP": 0.30, "val_error": 0.09},
        {"val_mAP": 0.34, "val_error": 0.10},
        {"val_mAP": 0.33, "val_error": 0.08},
        {"val_mAP": 0.32, "val_error": 0.085},
    ]

    def best(select):
        scores = [_selection_score(TrainConfig(select=select), r, e) for e, r in enumerate(history)]
        return scores.index(max(scores))

    assert best("mAP") == 1 and best("error") == 2 and best("last") == 3
    assert _selection_score(TrainConfig(), {"loss": 1.0}, 5) == 5.0  # no validation: the last epoch


def test_resumed_run_equals_unbroken_run(fake_viper, tmp_path):
    train(_config(fake_viper, tmp_path / "whole"), progress=False)
    train(_config(fake_viper, tmp_path / "parts", epochs=1), progress=False)
    train(_config(fake_viper, tmp_path / "parts"), progress=False)
    whole = load_checkpoint(tmp_path / "whole" / "last.safetensors").state_dict()
    parts = load_checkpoint(tmp_path / "parts" / "last.safetensors").state_dict()
    for key in whole:
        assert torch.allclose(whole[key], parts[key], atol=1e-6), key


def test_a_run_is_not_resumed_with_another_split_or_recipe(fake_viper, tmp_path):
    run = tmp_path / "run"
    train(_config(fake_viper, run, epochs=1), progress=False)
    split = (run / "split.json").read_text()
    with pytest.raises(
        ValueError, match=r"other settings \(split_seed: 0 then, 1 now; the split's persons\)"
    ):
        train(_config(fake_viper, run, split_seed=1), progress=False)
    with pytest.raises(ValueError, match=r"other settings \(lr: 0.001 then, 0.1 now\).*--no-resume"):
        train(_config(fake_viper, run, lr=0.1), progress=False)
    assert (run / "split.json").read_text() == split  # nothing written over
    with pytest.raises(ValueError, match=r"split_seed: 0 then, 1 now"):  # asked before torchrun starts
        train_on_processes(_config(fake_viper, run, split_seed=1), 2)
    assert not (run / "ddp_config.json").exists()
    train(_config(fake_viper, run, threads=1), progress=False)  # more epochs, other threads: resumed
    assert json.loads((run / "last.json").read_text())["epoch"] == 2


def test_seed_network_trains_with_the_seed_loss(fake_viper, tmp_path):
    metrics = train(
        _config(
            fake_viper,
            tmp_path / "seed",
            arch="triplet",
            arch_config={},
            loss="softmax",
            mining="random",
            id_loss=0.0,
            epochs=1,
        ),
        progress=False,
    )
    assert metrics["test"]["num_persons"] >= 2


def test_bad_config():
    with pytest.raises(ValueError, match="loss must be one of"):
        TrainConfig(loss="contrastive")
    with pytest.raises(ValueError, match="epochs must be > 0, got 0"):
        TrainConfig(epochs=0)
    with pytest.raises(ValueError, match="negatives must be 1 with mining='hard'"):
        TrainConfig(mining="hard", negatives=4)
    with pytest.raises(ValueError, match="select must be one of"):
        TrainConfig(select="rank1")
    for name in ("margin", "id_loss", "weight_decay", "warmup_epochs"):
        with pytest.raises(ValueError, match=f"{name} must be >= 0, got -1"):
            TrainConfig(**{name: -1})


def test_viper316_is_refused_for_another_dataset_before_anything_is_written(fake_market, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(
        ValueError, match=r"split 'viper316' is VIPeR's 316/316 protocol, but .* is a market1501"
    ):
        train(_config(fake_market, out, split="viper316"), progress=False)
    assert not out.exists()

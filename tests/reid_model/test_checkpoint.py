import json

import pytest
import torch

from reid_model import CheckpointError, StripeEmbedder, TripletEmbedder, load_checkpoint, save_checkpoint


def test_round_trip(tmp_path):
    model = StripeEmbedder(widths=(8, 16), stripes=2, embedding_dim=16).eval()
    path = save_checkpoint(tmp_path / "m.safetensors", model, {"note": "hello"})
    loaded = load_checkpoint(path)
    images = torch.rand(2, 3, 128, 48)
    assert torch.allclose(model(images), loaded(images))
    meta = json.loads((tmp_path / "m.json").read_text())
    assert meta["arch"] == "stripe" and meta["note"] == "hello" and meta["input_size"] == [128, 48]
    assert meta["normalization"]["mean"] == pytest.approx(model.mean.flatten().tolist())


def test_wrong_architecture_requested(tmp_path):
    save_checkpoint(tmp_path / "m.safetensors", TripletEmbedder())
    with pytest.raises(CheckpointError, match="holds architecture 'triplet', expected 'stripe'"):
        load_checkpoint(tmp_path / "m.safetensors", arch="stripe")


def test_weights_of_another_architecture(tmp_path):
    save_checkpoint(tmp_path / "m.safetensors", StripeEmbedder(widths=(8, 16), stripes=2, embedding_dim=16))
    meta = json.loads((tmp_path / "m.json").read_text())
    meta["arch"], meta["arch_config"], meta["embedding_dim"] = "triplet", {}, 128
    (tmp_path / "m.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="does not fit architecture 'triplet'"):
        load_checkpoint(tmp_path / "m.safetensors")


def test_corrupt_weights(tmp_path):
    save_checkpoint(tmp_path / "m.safetensors", TripletEmbedder())
    (tmp_path / "m.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_checkpoint(tmp_path / "m.safetensors")


def test_foreign_files(tmp_path):
    (tmp_path / "x.safetensors").write_bytes(b"PK\x03\x04 a pickle zip")
    with pytest.raises(CheckpointError, match=r"metadata .* is missing"):
        load_checkpoint(tmp_path / "x.safetensors")
    (tmp_path / "x.json").write_text('{"format": "something-else"}')
    with pytest.raises(CheckpointError, match="is not a deid checkpoint"):
        load_checkpoint(tmp_path / "x.safetensors")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.safetensors")

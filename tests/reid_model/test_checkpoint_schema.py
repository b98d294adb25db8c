"""Issue 9, item 10: checkpoint metadata and galleries are validated; every failure a CheckpointError."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import save_file

from reid_model import DEFAULT_GALLERY, WEIGHTS_DIR, CheckpointError, load_checkpoint, load_gallery


def _copy(tmp_path: Path, name: str = "independent_stripe") -> tuple[Path, dict[str, Any]]:
    weights = tmp_path / "model.safetensors"
    shutil.copy(WEIGHTS_DIR / f"{name}.safetensors", weights)
    meta = json.loads((WEIGHTS_DIR / f"{name}.json").read_text())
    return weights, meta


def _write(weights: Path, meta: dict[str, Any]) -> None:
    weights.with_suffix(".json").write_text(json.dumps(meta))


def test_the_bundled_checkpoint_copy_loads(tmp_path: Path) -> None:
    weights, meta = _copy(tmp_path)
    _write(weights, meta)
    assert load_checkpoint(weights).arch == "stripe"


CASES = [
    ("arch_config", {"widths": [32, 64, 128, 256], "colour": 3}, r"unknown key\(s\) \['colour'\]"),
    ("arch_config", "widths=32", "arch_config must be a JSON object, got 'widths=32'"),
    ("arch_config", {"widths": "abc"}, "arch_config.widths must be a list of 1 to 8 integers, got 'abc'"),
    (
        "arch_config",
        {"widths": [2**20]},
        r"arch_config.widths\[0\] must be an integer in \[1, 2048\], got 1048576",
    ),
    ("arch_config", {"widths": [2048] * 8}, "would build about .* parameters, expected at most"),
    ("arch_config", {"widths": [32, True]}, r"arch_config.widths\[1\] must be an integer"),
    ("arch_config", {"dropout": float("nan")}, "arch_config.dropout must be a finite number"),
    (
        "normalization",
        {"mean": [0.5], "std": [0.2, 0.2, 0.2]},
        "normalization.mean must be a list of 3 numbers",
    ),
    (
        "normalization",
        {"mean": [0.4] * 3, "std": [0.2, 0.0, 0.2]},
        r"normalization.std\[1\] must be a finite number in \(0",
    ),
    ("normalization", {"mean": [0.4] * 3}, "normalization must be a JSON object with exactly"),
    ("input_size", [256, 96], r"input_size must be \[128, 48\]"),
    ("embedding_dim", 512, r"embedding_dim must be 256"),
]


@pytest.mark.parametrize(("key", "value", "message"), CASES)
def test_bad_metadata_is_a_checkpoint_error_naming_key_and_value(
    tmp_path: Path, key: str, value: object, message: str
) -> None:
    weights, meta = _copy(tmp_path)
    meta[key] = value
    _write(weights, meta)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(weights)


def test_deeply_nested_metadata_is_refused(tmp_path: Path) -> None:
    weights, meta = _copy(tmp_path)
    for depth in (100, 100_000):  # parsed then refused; too deep for the parser itself
        text = json.dumps(meta)[:-1] + ', "notes": ' + "[" * depth + "]" * depth + "}"
        weights.with_suffix(".json").write_text(text)
        with pytest.raises(CheckpointError, match="nested"):
            load_checkpoint(weights)


def test_color_matcher_config_is_checked(tmp_path: Path) -> None:
    weights, meta = _copy(tmp_path, "color")
    meta["arch_config"] = {**meta["arch_config"], "stripes": 7}
    _write(weights, meta)
    with pytest.raises(
        CheckpointError, match=r"arch_config\.stripes must be a divisor of the input height 128, got 7"
    ):
        load_checkpoint(weights)


def test_non_finite_weights_are_refused(tmp_path: Path) -> None:
    weights, meta = _copy(tmp_path)
    tensors = load_checkpoint(WEIGHTS_DIR / "independent_stripe.safetensors").state_dict()
    tensors = {k: v.clone() for k, v in tensors.items()}
    tensors["project.weight"][0, 0] = float("nan")
    save_file(tensors, str(weights))
    _write(weights, meta)
    with pytest.raises(CheckpointError, match=r"'project\.weight' must be finite"):
        load_checkpoint(weights)


def _gallery(tmp_path: Path, embeddings: torch.Tensor, labels: torch.Tensor) -> Path:
    path = tmp_path / "gallery.safetensors"
    save_file({"embeddings": embeddings, "labels": labels}, str(path))
    return path


def test_bundled_gallery_loads() -> None:
    embeddings, labels = load_gallery(DEFAULT_GALLERY, width=256)
    assert embeddings.shape == (len(labels), 256)


@pytest.mark.parametrize(
    ("embeddings", "labels", "message"),
    [
        (torch.zeros(4, 128), torch.arange(4), r"embeddings must be float \(G, 256\).*\(4, 128\)"),
        (torch.zeros(4, 256), torch.arange(3), r"labels must be integers \(4,\).*\(3,\)"),
        (torch.zeros(1, 256), torch.arange(1), "at least 2 rows, got 1"),
        (torch.full((4, 256), float("nan")), torch.arange(4), "must be finite, got 1024 NaN"),
    ],
)
def test_bad_galleries_are_refused(
    tmp_path: Path, embeddings: torch.Tensor, labels: torch.Tensor, message: str
) -> None:
    with pytest.raises(CheckpointError, match=message):
        load_gallery(_gallery(tmp_path, embeddings, labels), width=256)


def test_deid_weights_with_a_nan_gallery_is_refused(tmp_path: Path) -> None:
    from deid.batch import BatchConfig, BatchError
    from deid.batch.wiring import build_adversary

    weights, meta = _copy(tmp_path)
    _write(weights, meta)
    _gallery(tmp_path, torch.full((4, 256), float("nan")), torch.arange(4)).rename(
        tmp_path / "model_gallery.safetensors"
    )
    config = BatchConfig(inputs=(str(tmp_path),), output=str(tmp_path / "out"), weights=str(weights))
    with pytest.raises(BatchError, match="embeddings must be finite"):
        build_adversary(config)

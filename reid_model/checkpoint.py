"""Checkpoints: weights as safetensors beside a JSON of metadata. Nothing is ever unpickled."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from reid_model._checkpoint_schema import MAX_METADATA_BYTES, SchemaError, check_metadata
from reid_model.embedders import ARCHITECTURES, Embedder, build_embedder
from reid_model.io import write_bytes_atomic

FORMAT = "deid-reid-checkpoint/1"


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt, or for another architecture."""


def metadata_path(weights: str | os.PathLike[str]) -> Path:
    """The JSON metadata file beside ``weights`` (``model.safetensors`` -> ``model.json``)."""
    return Path(weights).with_suffix(".json")


def save_checkpoint(
    path: str | os.PathLike[str],
    model: Embedder,
    metadata: dict[str, Any] | None = None,
    *,
    leave_out: tuple[str, ...] = (),
) -> Path:
    """Save ``model`` to ``path`` (safetensors) and its metadata beside it (JSON), atomically.

    The metadata always records the architecture, its config, the input size and normalization.
    Weights whose names start with one of ``leave_out`` are not written (another checkpoint holds
    them: :func:`load_checkpoint` is then given them).
    """
    path = Path(path)
    tensors = {
        k: v.detach().cpu().contiguous() for k, v in model.state_dict().items() if not k.startswith(leave_out)
    }
    meta = dict(metadata or {})
    meta.update(
        {
            "format": FORMAT,
            "arch": model.arch,
            "arch_config": model.config(),
            "input_size": list(model.input_size),
            "embedding_dim": model.embedding_dim,
            "normalization": {"mean": model.mean.flatten().tolist(), "std": model.std.flatten().tolist()},
        }
    )
    write_bytes_atomic(path, save(tensors, metadata={"format": FORMAT, "arch": model.arch}))
    write_bytes_atomic(metadata_path(path), json.dumps(meta, indent=1, default=str).encode())
    return path


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check the JSON metadata of a checkpoint."""
    meta_file = metadata_path(path)
    if not meta_file.is_file():
        raise CheckpointError(f"checkpoint metadata {meta_file} is missing (expected beside {path})")
    size = meta_file.stat().st_size
    if size > MAX_METADATA_BYTES:
        raise CheckpointError(
            f"checkpoint metadata {meta_file} is {size} bytes, expected at most {MAX_METADATA_BYTES}"
        )
    try:
        meta = json.loads(meta_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"checkpoint metadata {meta_file} is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise CheckpointError(f"checkpoint metadata {meta_file} is nested too deeply to be read") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(
            f"{meta_file} is not a deid checkpoint: expected format {FORMAT!r}, "
            f"got {meta.get('format') if isinstance(meta, dict) else type(meta).__name__!r}"
        )
    if meta.get("arch") not in ARCHITECTURES:
        raise CheckpointError(
            f"{meta_file} is for architecture {meta.get('arch')!r}; this library knows {sorted(ARCHITECTURES)}"
        )
    try:
        check_metadata(meta)
    except SchemaError as exc:
        raise CheckpointError(f"checkpoint metadata {meta_file}: {exc}") from exc
    return meta


def load_checkpoint(
    path: str | os.PathLike[str],
    *,
    arch: str | None = None,
    device: str | torch.device = "cpu",
    given: dict[str, torch.Tensor] | None = None,
) -> Embedder:
    """Load an embedder saved by :func:`save_checkpoint`, in eval mode.

    Args:
        path: the ``.safetensors`` file (its ``.json`` must be beside it).
        arch: if given, the architecture the caller expects; another one is an error.
        device: where to put the weights.
        given: weights the file leaves out (``save_checkpoint(leave_out=...)``), by name; a name
            the file also holds is an error.

    Raises:
        CheckpointError: missing or corrupt files, or weights that do not fit the architecture.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    meta = read_metadata(path)
    if arch is not None and meta["arch"] != arch:
        raise CheckpointError(f"checkpoint {path} holds architecture {meta['arch']!r}, expected {arch!r}")
    try:
        tensors = load_file(str(path), device=str(device))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path} is not a readable safetensors file: {exc}") from exc
    both = sorted(set(tensors) & set(given or {}))
    if both:
        raise CheckpointError(f"checkpoint {path} holds weights it was also given: {both[:3]}")
    tensors = {**{k: v.to(device) for k, v in (given or {}).items()}, **tensors}
    for key, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise CheckpointError(
                f"checkpoint {path}: tensor {key!r} must be finite, got NaN or infinite values"
            )
    norm = meta.get("normalization", {})
    model = build_embedder(meta["arch"], **meta.get("arch_config", {}))
    if norm:
        model.mean.copy_(torch.tensor(norm["mean"]).view(1, 3, 1, 1))
        model.std.copy_(torch.tensor(norm["std"]).view(1, 3, 1, 1))
    parts_from = meta.get("parts_from")
    if isinstance(parts_from, dict) and parts_from and given is None:
        taken = ", ".join(f"{prefix}* from the bundled {source!r}" for prefix, source in parts_from.items())
        raise CheckpointError(
            f"checkpoint {path} leaves out weights it takes from another checkpoint ({taken}): load "
            "it as a bundled model (reid_model.load_bundled; the commands' --model), not on its own"
        )
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        lines = [line.strip() for line in str(exc).splitlines()[1:] if line.strip()]
        detail = f" ({'; '.join(lines)[:300]})" if lines else ""
        raise CheckpointError(
            f"checkpoint {path} does not fit architecture {meta['arch']!r}{detail}"
        ) from exc
    model.metadata = meta  # type: ignore[assignment]
    return model.to(device).eval()

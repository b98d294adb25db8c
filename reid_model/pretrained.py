"""The bundled default adversary: weights, metadata and gallery shipped inside the package."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from reid_model.checkpoint import CheckpointError, load_checkpoint, read_metadata
from reid_model.embedders import Embedder

WEIGHTS_DIR = Path(__file__).parent / "weights"
DEFAULT_WEIGHTS = WEIGHTS_DIR / "default.safetensors"
DEFAULT_GALLERY = WEIGHTS_DIR / "default_gallery.safetensors"
#: The seed network trained with the seed's loss on the same persons: an attacker that the
#: conceal loop never sees (``deid audit``'s independent and adaptive attackers).
INDEPENDENT_WEIGHTS = WEIGHTS_DIR / "independent.safetensors"
#: The default's architecture trained with another seed and the seed's softmax loss: a stronger
#: independent attacker (rank-1 41.7% on the test persons, against 37.8% for the default).
INDEPENDENT_STRIPE_WEIGHTS = WEIGHTS_DIR / "independent_stripe.safetensors"
#: The seed's network trained the seed's way (softmax loss, random triplets, 8 negatives per
#: anchor, no augmentation, no weight decay, 40 epochs): below all three of the seed's errors.
SEED_WEIGHTS = WEIGHTS_DIR / "seed.safetensors"
#: The strongest adversary measured on VIPeR: the default network fused with LOMO + XQDA
#: (:class:`reid_model.FusedEmbedder`, fitted on the default's training persons), and its gallery.
FUSED_WEIGHTS = WEIGHTS_DIR / "fused.safetensors"
FUSED_GALLERY = WEIGHTS_DIR / "fused_gallery.safetensors"
#: The bundled embedders by name (``deid evaluate --model``).
BUNDLED_MODELS = {"default": DEFAULT_WEIGHTS, "seed": SEED_WEIGHTS, "fused": FUSED_WEIGHTS}
#: The colour-stripe matcher fitted on the default model's training persons, and its gallery:
#: the second member of the conceal loop's default adversary.
COLOR_WEIGHTS = WEIGHTS_DIR / "color.safetensors"
COLOR_GALLERY = WEIGHTS_DIR / "color_gallery.safetensors"


def default_weights_path() -> Path:
    """Path of the bundled default model's safetensors file."""
    if not DEFAULT_WEIGHTS.is_file():
        raise FileNotFoundError(f"the bundled default model {DEFAULT_WEIGHTS} is missing from this install")
    return DEFAULT_WEIGHTS


def load_default(*, device: str | torch.device = "cpu") -> Embedder:
    """Load the bundled default embedder, in eval mode, in one line.

    Example:
        >>> model = reid_model.load_default()
        >>> model.arch in ("triplet", "stripe")
        True
    """
    return load_checkpoint(default_weights_path(), device=device)


def load_bundled(name: str, *, device: str | torch.device = "cpu") -> Embedder:
    """Load a bundled embedder by name (:data:`BUNDLED_MODELS`), in eval mode.

    Example:
        >>> reid_model.load_bundled("seed").arch
        'triplet'
    """
    if name not in BUNDLED_MODELS:
        raise ValueError(f"model must be one of {sorted(BUNDLED_MODELS)}, got {name!r}")
    path = BUNDLED_MODELS[name]
    if not path.is_file():
        raise FileNotFoundError(f"the bundled {name!r} model {path} is missing from this install")
    # A part that is another bundled model (the fused model's network) is stored once, there.
    given = {
        prefix + key: tensor
        for prefix, source in read_metadata(path).get("parts_from", {}).items()
        for key, tensor in load_bundled(source, device=device).state_dict().items()
    }
    return load_checkpoint(path, device=device, given=given)


def default_metadata() -> dict[str, Any]:
    """The bundled model's metadata: architecture, training config, metrics and split ids."""
    return read_metadata(default_weights_path())


#: Largest gallery file read (bytes).
MAX_GALLERY_BYTES = 512_000_000


def check_gallery(tensors: dict[str, torch.Tensor], path: Path, width: int) -> dict[str, torch.Tensor]:
    """Check a gallery: ``embeddings (G, width)`` finite floats and ``labels (G,)`` integers, G >= 2."""
    if not {"embeddings", "labels"} <= set(tensors) or not set(tensors) <= {
        "embeddings",
        "labels",
        "cameras",
    }:
        raise CheckpointError(
            f"gallery {path} must hold 'embeddings' and 'labels' (and optionally 'cameras'), got {sorted(tensors)}"
        )
    embeddings, labels = tensors["embeddings"], tensors["labels"]
    if embeddings.ndim != 2 or embeddings.shape[1] != width or not embeddings.is_floating_point():
        raise CheckpointError(
            f"gallery {path}: embeddings must be float (G, {width}) for its model, "
            f"got {embeddings.dtype} {tuple(embeddings.shape)}"
        )
    if labels.ndim != 1 or labels.is_floating_point() or labels.shape[0] != embeddings.shape[0]:
        raise CheckpointError(
            f"gallery {path}: labels must be integers ({embeddings.shape[0]},) like the embeddings, "
            f"got {labels.dtype} {tuple(labels.shape)}"
        )
    if embeddings.shape[0] < 2:
        raise CheckpointError(
            f"gallery {path}: embeddings must hold at least 2 rows, got {embeddings.shape[0]}"
        )
    if not bool(torch.isfinite(embeddings).all()):
        bad = int((~torch.isfinite(embeddings)).sum())
        raise CheckpointError(
            f"gallery {path}: embeddings must be finite, got {bad} NaN or infinite value(s)"
        )
    return tensors


def load_gallery(path: str | Path, *, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Read and check a gallery file (safetensors): ``embeddings (G, width)`` and ``labels (G,)``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"the gallery {path} does not exist")
    size = path.stat().st_size
    if size > MAX_GALLERY_BYTES:
        raise CheckpointError(f"gallery {path} is {size} bytes, expected at most {MAX_GALLERY_BYTES}")
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"gallery {path} is not a readable safetensors file: {exc}") from exc
    check_gallery(tensors, path, width)
    return tensors["embeddings"], tensors["labels"]


@cache
def _gallery(path: Path, weights: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise FileNotFoundError(f"the bundled gallery {path} is missing from this install")
    embeddings, labels = load_gallery(path, width=read_metadata(weights)["embedding_dim"])
    return {"embeddings": embeddings, "labels": labels}


def default_gallery() -> tuple[torch.Tensor, torch.Tensor]:
    """The bundled gallery of other people: ``embeddings (G, D)`` and ``labels (G,)``.

    They are the bundled model's embeddings of VIPeR persons it was not trained on (its
    validation persons), so the conceal loop has negatives without any dataset at hand.
    """
    gallery = _gallery(DEFAULT_GALLERY, DEFAULT_WEIGHTS)
    return gallery["embeddings"].clone(), gallery["labels"].clone()


def load_color_matcher(*, device: str | torch.device = "cpu") -> Embedder:
    """The bundled colour-stripe matcher (:class:`reid_model.ColorStripeEmbedder`)."""
    if not COLOR_WEIGHTS.is_file():
        raise FileNotFoundError(f"the bundled colour matcher {COLOR_WEIGHTS} is missing from this install")
    return load_checkpoint(COLOR_WEIGHTS, arch="color_stripes", device=device)


def color_gallery() -> tuple[torch.Tensor, torch.Tensor]:
    """The colour matcher's embeddings ``(G, D)`` of the same gallery persons, and their labels."""
    gallery = _gallery(COLOR_GALLERY, COLOR_WEIGHTS)
    return gallery["embeddings"].clone(), gallery["labels"].clone()


def fused_gallery() -> tuple[torch.Tensor, torch.Tensor]:
    """The fused adversary's embeddings ``(G, D)`` of the same gallery persons, and their labels."""
    gallery = _gallery(FUSED_GALLERY, FUSED_WEIGHTS)
    return gallery["embeddings"].clone(), gallery["labels"].clone()

"""Make a trained run the bundled default adversary: copy its best checkpoint into the package
and compute the default gallery (its embeddings of the run's validation persons).

    python scripts/bundle_model.py runs/models/stripe --data ../shared/data/viper
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from safetensors.torch import save

from reid_model import (
    DEFAULT_GALLERY,
    DEFAULT_WEIGHTS,
    embed,
    load_checkpoint,
    load_dataset,
    load_images,
    save_checkpoint,
    select,
)
from reid_model.io import write_bytes_atomic


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run", type=Path, help="A training run folder holding best.safetensors.")
    parser.add_argument("--data", default="../shared/data/viper")
    args = parser.parse_args()
    model = load_checkpoint(args.run / "best.safetensors")
    meta = dict(model.metadata)  # type: ignore[arg-type]
    for key in ("format", "arch", "arch_config", "input_size", "embedding_dim", "normalization"):
        meta.pop(key, None)
    meta["bundled_from"] = str(args.run)
    meta["gallery"] = (
        "embeddings of the split's validation persons (both cameras), in default_gallery.safetensors"
    )
    save_checkpoint(DEFAULT_WEIGHTS, model, meta)
    samples = select(load_dataset(args.data), meta["split"]["val"])
    embeddings = embed(model, load_images([s.path for s in samples]))
    tensors = {
        "embeddings": embeddings.contiguous(),
        "labels": torch.tensor([s.person_id for s in samples]),
        "cameras": torch.tensor([s.camera_id for s in samples]),
    }
    write_bytes_atomic(
        DEFAULT_GALLERY, save(tensors, metadata={"persons": "validation split of the bundled model"})
    )
    print(f"bundled {args.run} -> {DEFAULT_WEIGHTS} and {DEFAULT_GALLERY} ({len(samples)} gallery images)")


if __name__ == "__main__":
    main()

"""Fit the colour-stripe matcher on the bundled model's training persons and ship it.

    python scripts/bundle_color_matcher.py --data ../shared/data/viper

Writes ``reid_model/weights/color.safetensors`` (+ JSON) and ``color_gallery.safetensors`` (its
embeddings of the bundled model's validation persons, the same people as the default gallery),
and prints the matcher's scores on the test persons.
"""

from __future__ import annotations

import argparse

import torch
from safetensors.torch import save

from reid_model import (
    COLOR_GALLERY,
    COLOR_WEIGHTS,
    ColorStripeEmbedder,
    default_metadata,
    embed,
    evaluate_embeddings,
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
    parser.add_argument("--data", default="../shared/data/viper")
    args = parser.parse_args()
    split = default_metadata()["split"]
    samples = load_dataset(args.data)
    parts = {name: select(samples, split[name]) for name in ("train", "val", "test")}
    images = {name: load_images([s.path for s in part]) for name, part in parts.items()}
    model = ColorStripeEmbedder.fit(images["train"], [s.person_id for s in parts["train"]])
    embeddings = {name: embed(model, images[name]) for name in parts}
    metrics = {name: evaluate_embeddings(embeddings[name], parts[name]) for name in ("val", "test")}
    meta = {"fitted_on": "training persons of the bundled model's split", "split": split, "metrics": metrics}
    save_checkpoint(COLOR_WEIGHTS, model, meta)
    tensors = {
        "embeddings": embeddings["val"].contiguous(),
        "labels": torch.tensor([s.person_id for s in parts["val"]]),
        "cameras": torch.tensor([s.camera_id for s in parts["val"]]),
    }
    write_bytes_atomic(
        COLOR_GALLERY, save(tensors, metadata={"persons": "validation split of the bundled model"})
    )
    print(f"wrote {COLOR_WEIGHTS} and {COLOR_GALLERY}; test: {metrics['test']}")


if __name__ == "__main__":
    main()

"""Fuse the bundled network with LOMO + XQDA fitted on its training persons, and ship the result.

    python scripts/bundle_fused.py --data ../shared/data/viper

LOMO + XQDA (:class:`reid_model.LomoEmbedder`: plain and Retinex descriptors, mirror-averaged) is
fitted on the bundled model's training persons. The network's weight in the fusion is chosen
among ``--weights`` by the seed's error on the validation persons (ties: the smaller weight), and
each part's distances are normalized over the validation images. Writes
``reid_model/weights/fused.safetensors`` (+ JSON; without the network part, which is read from
the bundled network's file, and the rest stored in float16, read back as float32) and
``fused_gallery.safetensors`` (the validation persons' embeddings, the same
people as the default gallery), and prints each model's validation and test scores.
"""

from __future__ import annotations

import argparse

import torch
from safetensors.torch import save

from reid_model import (
    FUSED_GALLERY,
    FUSED_WEIGHTS,
    FusedEmbedder,
    LomoEmbedder,
    default_metadata,
    embed,
    evaluate_embeddings,
    load_bundled,
    load_dataset,
    load_default,
    load_images,
    save_checkpoint,
    select,
)
from reid_model.io import write_bytes_atomic


def _row(name: str, metrics: dict[str, dict[str, float]]) -> str:
    return f"{name:10s} " + " | ".join(
        f"{part} err {m['seed_error']:.2%} rank-1 {m['rank1']:.1%} rank-5 {m['rank5']:.1%} mAP {m['mAP']:.1%}"
        for part, m in metrics.items()
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default="../shared/data/viper")
    parser.add_argument("--weights", type=float, nargs="+", default=[0.1, 0.2, 0.3, 0.4, 0.5])
    args = parser.parse_args()
    split = default_metadata()["split"]
    samples = load_dataset(args.data)
    parts = {name: select(samples, split[name]) for name in ("train", "val", "test")}
    images = {name: load_images([s.path for s in part]) for name, part in parts.items()}
    network = load_default()
    lomo = LomoEmbedder.fit(images["train"], [s.person_id for s in parts["train"]])

    def scores(model: torch.nn.Module) -> dict[str, dict[str, float]]:
        return {p: evaluate_embeddings(embed(model, images[p]), parts[p]) for p in ("val", "test")}  # type: ignore[arg-type]

    print(_row("network", scores(network)), flush=True)
    print(_row("lomo_xqda", scores(lomo)), flush=True)
    candidates = []
    for weight in args.weights:
        fused = FusedEmbedder.fuse([network, lomo], images["val"], weights=[weight, 1 - weight])
        metrics = scores(fused)
        print(_row(f"fused {weight}", metrics), flush=True)
        candidates.append((metrics["val"]["seed_error"], weight, fused, metrics))
    _, weight, fused, metrics = min(candidates, key=lambda c: (c[0], c[1]))
    # The network part is not stored: it is the bundled network, read from its own file to the
    # bit, so an adversary holding both runs it once (deid.Adversary's shared parts). The rest in
    # float16, read back as float32.
    network_tensors = {id(t) for t in [*fused.parts[0].parameters(), *fused.parts[0].buffers()]}
    for tensor in [*fused.parameters(), *fused.buffers()]:
        if tensor.is_floating_point() and id(tensor) not in network_tensors:
            tensor.data = tensor.data.half()
    meta = {
        "fitted_on": "LOMO + XQDA on the bundled model's training persons; scales over its validation images",
        "network_weight": weight,
        "chosen_by": "lowest seed's error on the validation persons among " + str(args.weights),
        "split": split,
        "metrics": metrics,
        "parts_from": {"parts.0.": "default"},
    }
    save_checkpoint(FUSED_WEIGHTS, fused, meta, leave_out=("parts.0.",))
    stored = load_bundled("fused")
    val_embeddings = embed(stored, images["val"])
    print(_row(f"stored {weight}", scores(stored)))
    tensors = {
        "embeddings": val_embeddings.contiguous(),
        "labels": torch.tensor([s.person_id for s in parts["val"]]),
        "cameras": torch.tensor([s.camera_id for s in parts["val"]]),
    }
    write_bytes_atomic(
        FUSED_GALLERY, save(tensors, metadata={"persons": "validation split of the bundled model"})
    )
    print(f"wrote {FUSED_WEIGHTS} and {FUSED_GALLERY} (network weight {weight})")


if __name__ == "__main__":
    main()

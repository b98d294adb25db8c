"""Does the chance-level target leave an inverted signal? Rank the gallery by *largest* distance.

    python benchmarks/inverted_ranking.py --data ../shared/data/viper

The conceal loop pushes every person into the worse half of its adversary's gallery. An attacker
who knows that could rank the gallery backwards. This conceals the seed split's test persons with
the default loop (outfits drawn with seed 0, 32 persons per call as in ``deid audit``), then
prints rank-1 and rank-5 of cam_a concealed queries against cam_b originals, forwards and
backwards, for the loop's network, its colour matcher and the independent stripe network.
"""

from __future__ import annotations

import argparse

import torch

from deid import Adversary, ConcealConfig, conceal_people
from reid_model import (
    INDEPENDENT_STRIPE_WEIGHTS,
    cmc_map,
    default_metadata,
    embed,
    load_checkpoint,
    load_images,
    load_viper,
    select,
)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default="../shared/data/viper")
    parser.add_argument("--batch", type=int, default=32, help="persons per conceal call")
    args = parser.parse_args()
    adversary = Adversary.default()
    ids = default_metadata()["split"]["test"]
    samples = select(load_viper(args.data), ids)
    images = load_images([s.path for s in samples])
    people = [[i for i, s in enumerate(samples) if s.person_id == p] for p in ids]
    concealed = images.clone()
    for start in range(0, len(people), args.batch):
        chunk = people[start : start + args.batch]
        results = conceal_people(
            [[images[i] for i in person] for person in chunk],
            adversary=adversary,
            config=ConcealConfig(seed=0),
            claimed=False,  # VIPeR's persons: the grouping is known
        )
        for person, result in zip(chunk, results, strict=True):
            for i, image in zip(person, result.images, strict=True):
                concealed[i] = image
    query = torch.tensor([s.camera_id == 0 for s in samples])
    labels = [s.person_id for s in samples]
    query_labels = [p for p, q in zip(labels, query.tolist(), strict=True) if q]
    gallery_labels = [p for p, q in zip(labels, query.tolist(), strict=True) if not q]
    models = {
        "network": adversary.models[0],
        "colour matcher": adversary.models[1],
        "independent_stripe": load_checkpoint(INDEPENDENT_STRIPE_WEIGHTS),
    }
    print(f"{len(query_labels)} concealed queries, chance rank-1 {1 / len(gallery_labels):.1%}")
    for name, model in models.items():
        distances = torch.cdist(embed(model, concealed[query]), embed(model, images[~query]))
        forward, _ = cmc_map(distances, query_labels, gallery_labels, max_rank=5)
        backward, _ = cmc_map(-distances, query_labels, gallery_labels, max_rank=5)
        print(
            f"{name:20s} forward rank-1 {forward[0]:5.1%} rank-5 {forward[4]:5.1%}   "
            f"inverted rank-1 {backward[0]:5.1%} rank-5 {backward[4]:5.1%}"
        )


if __name__ == "__main__":
    main()

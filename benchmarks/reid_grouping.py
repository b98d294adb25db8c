"""How well ``--group-by reid`` puts one person's crops together: pair precision and recall on VIPeR.

    python -m benchmarks.reid_grouping [--data ../shared/data/viper]

The 127 test persons of the seed split (both views, 254 crops, unlabeled to the grouping) are
clustered by :func:`deid.batch.reid_groups.cluster_appearances` at several link thresholds
(the least fraction of the adversary's gallery a partner must beat, under every model, both
ways; the default is the one the batch uses to split groups). Printed per threshold:
pair precision (pairs put together that are one person), pair recall (the 127 true pairs put
together), the number of clusters and the largest.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from deid.adversary import resolve_adversary
from deid.audit.setup import audit_split
from deid.batch.reid_groups import cluster_appearances
from deid.loop.grouping import MIN_PARTNER_MATCH
from reid_model import load_viper, read_image

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DATA / "viper")
    args = parser.parse_args()
    samples = load_viper(args.data)
    test = set(audit_split(samples).test)
    chosen = [s for s in samples if s.person_id in test]
    images = [read_image(s.path) for s in chosen]
    labels = torch.tensor([s.person_id for s in chosen])
    adversary = resolve_adversary(None)
    same = labels[:, None] == labels[None, :]
    upper = torch.triu(torch.ones_like(same), diagonal=1)
    true_pairs = int((same & upper).sum())
    print(f"{len(images)} crops of {len(test)} persons ({true_pairs} true pairs)")
    print("threshold | precision | recall | clusters | largest | seconds")
    for threshold in (0.7, 0.75, MIN_PARTNER_MATCH, 0.85, 0.9):
        start = time.perf_counter()
        clusters = cluster_appearances(adversary, images, threshold=threshold)
        seconds = time.perf_counter() - start
        together = clusters[:, None] == clusters[None, :]
        put = int((together & upper).sum())
        right = int((together & same & upper).sum())
        sizes = torch.bincount(clusters)
        print(
            f"{threshold:.2f} | {right / max(put, 1):.3f} ({right}/{put}) | {right / true_pairs:.3f} | "
            f"{len(sizes)} | {int(sizes.max())} | {seconds:.1f}"
        )


if __name__ == "__main__":
    main()

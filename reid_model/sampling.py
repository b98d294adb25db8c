"""The sampling layer: triplets (x+, x, x-) drawn afresh every epoch.

``x`` and ``x+`` are the same person seen by two cameras when the person has been seen by more
than one, and ``x-`` is always another person.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence

import torch


def _group(labels: Sequence[int]) -> dict[int, list[int]]:
    groups: dict[int, list[int]] = defaultdict(list)
    for index, label in enumerate(labels):
        groups[int(label)].append(index)
    return dict(groups)


def _other_camera(
    index: int, candidates: list[int], cameras: Sequence[int], generator: torch.Generator
) -> int:
    others = [c for c in candidates if c != index and cameras[c] != cameras[index]]
    others = others or [c for c in candidates if c != index]
    return others[int(torch.randint(len(others), (1,), generator=generator))]


class TripletSampler:
    """Draws index triplets ``(anchor, positive, negative)`` over a dataset, new ones every epoch.

    Every appearance of a person with at least two appearances is an anchor once per epoch; its
    positive is an appearance of the same person from another camera where there is one, its
    negative an appearance of a different person, uniformly at random.

    Example:
        >>> sampler = TripletSampler(labels=[0, 0, 1, 1, 2], cameras=[0, 1, 0, 1, 0], seed=0)
        >>> triplets = sampler.sample(epoch=0)
        >>> triplets.shape
        torch.Size([4, 3])
    """

    def __init__(
        self,
        *,
        labels: Sequence[int],
        cameras: Sequence[int] | None = None,
        negatives_per_anchor: int = 1,
        seed: int = 0,
    ) -> None:
        self.labels = [int(x) for x in labels]
        self.cameras = [int(x) for x in cameras] if cameras is not None else [0] * len(self.labels)
        if len(self.cameras) != len(self.labels):
            raise ValueError(
                f"labels and cameras must have the same length, got {len(self.labels)} and {len(self.cameras)}"
            )
        self.groups = _group(self.labels)
        if len(self.groups) < 2:
            raise ValueError(f"triplets need at least 2 persons, got {len(self.groups)}")
        self.anchors = [i for i, lab in enumerate(self.labels) if len(self.groups[lab]) >= 2]
        if not self.anchors:
            raise ValueError("triplets need at least one person with 2 or more appearances, got none")
        self.negatives_per_anchor = negatives_per_anchor
        self.seed = seed

    def sample(self, *, epoch: int = 0) -> torch.Tensor:
        """The epoch's triplets as a long tensor ``(T, 3)``: anchor, positive, negative indices."""
        generator = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        labels = torch.tensor(self.labels)
        rows = []
        for anchor in self.anchors:
            label = self.labels[anchor]
            positive = _other_camera(anchor, self.groups[label], self.cameras, generator)
            for _ in range(self.negatives_per_anchor):
                # Rejection sampling: cheap because most draws hit another person.
                while True:
                    negative = int(torch.randint(len(self.labels), (1,), generator=generator))
                    if labels[negative] != label:
                        break
                rows.append((anchor, positive, negative))
        return torch.tensor(rows, dtype=torch.long)

    def __iter__(self) -> Iterator[torch.Tensor]:
        epoch = 0
        while True:
            yield self.sample(epoch=epoch)
            epoch += 1


class PersonBatchSampler:
    """Batches of ``persons_per_batch`` persons with two appearances each, new order every epoch.

    The two appearances come from different cameras when the person has them, so every batch
    holds cross-camera positives, and the other persons of the batch are the negatives.
    """

    def __init__(
        self,
        *,
        labels: Sequence[int],
        cameras: Sequence[int],
        persons_per_batch: int = 32,
        seed: int = 0,
    ) -> None:
        self.labels = [int(x) for x in labels]
        self.cameras = [int(x) for x in cameras]
        self.groups = {k: v for k, v in _group(self.labels).items() if len(v) >= 2}
        if len(self.groups) < 2:
            raise ValueError(f"batches need at least 2 persons with 2 appearances, got {len(self.groups)}")
        self.persons_per_batch = max(2, min(persons_per_batch, len(self.groups)))
        self.seed = seed

    def batches(self, *, epoch: int = 0) -> list[torch.Tensor]:
        """The epoch's batches: long tensors ``(2P,)`` ordered person by person (a0, p0, a1, p1, ...)."""
        generator = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        persons = list(self.groups)
        order = torch.randperm(len(persons), generator=generator).tolist()
        batches = []
        step = self.persons_per_batch
        for start in range(0, len(order) - step + 1, step):
            rows = []
            for k in order[start : start + step]:
                members = self.groups[persons[k]]
                first = members[int(torch.randint(len(members), (1,), generator=generator))]
                rows += [first, _other_camera(first, members, self.cameras, generator)]
            batches.append(torch.tensor(rows, dtype=torch.long))
        return batches


def batch_triplets(
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    *,
    mining: str = "random",
    generator: torch.Generator | None = None,
    negatives: int = 1,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Form triplets inside a batch: every sample is an anchor ``negatives`` times.

    The positive is the other appearance of the same person (the hardest if there are several);
    the negative is a random other person (``mining="random"``, the seed's sampling) or the closest
    one (``mining="hard"``, batch-hard mining).

    Args:
        embeddings: ``(B, D)``.
        labels: ``(B,)`` person ids.
        mining: ``"random"`` or ``"hard"``.
        generator: random source for ``"random"``.
        negatives: random negatives per anchor (other persons, drawn without replacement, at
            most as many as the batch has), each its own triplet; ``"hard"`` takes one.

    Returns:
        Index tensors ``anchor, positive, negative``, each ``(B * negatives,)`` (anchor-major).
    """
    if mining not in ("random", "hard"):
        raise ValueError(f"mining must be 'random' or 'hard', got {mining!r}")
    if negatives < 1 or (mining == "hard" and negatives != 1):
        raise ValueError(f"negatives must be >= 1 (1 with mining='hard'), got {negatives} with {mining!r}")
    with torch.no_grad():
        distmat = torch.cdist(embeddings.float(), embeddings.float())
        same = labels[:, None] == labels[None, :]
        eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
        pos_d = distmat.masked_fill(~same | eye, float("-inf"))
        positive = pos_d.argmax(1)
        count = 1
        if mining == "hard":
            negative = distmat.masked_fill(same, float("inf")).argmin(1)
        else:
            weights = (~same).float()
            count = min(negatives, int(weights.sum(1).min()))
            negative = torch.multinomial(weights, count, generator=generator).flatten()
    anchor = torch.arange(len(labels), device=labels.device)
    return anchor.repeat_interleave(count), positive.repeat_interleave(count), negative

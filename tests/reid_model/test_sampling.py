import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reid_model import PersonBatchSampler, TripletSampler, batch_triplets


@settings(max_examples=30, deadline=None)
@given(
    counts=st.lists(st.integers(min_value=1, max_value=4), min_size=2, max_size=8),
    seed=st.integers(0, 1000),
    epoch=st.integers(0, 5),
)
def test_triplet_sampler_never_pairs_a_person_with_themselves(counts, seed, epoch):
    if sum(c >= 2 for c in counts) == 0:
        counts[0] = 2
    labels = [pid for pid, c in enumerate(counts) for _ in range(c)]
    cameras = [i for c in counts for i in range(c)]
    triplets = TripletSampler(labels=labels, cameras=cameras, seed=seed, negatives_per_anchor=2).sample(
        epoch=epoch
    )
    for anchor, positive, negative in triplets.tolist():
        assert anchor != positive
        assert labels[anchor] == labels[positive]
        assert labels[negative] != labels[anchor]
        if counts[labels[anchor]] >= 2:
            assert cameras[positive] != cameras[anchor]


def test_triplets_are_new_every_epoch_and_reproducible():
    labels = [p for p in range(20) for _ in range(2)]
    cameras = [0, 1] * 20
    sampler = TripletSampler(labels=labels, cameras=cameras, seed=3)
    first, second = sampler.sample(epoch=0), sampler.sample(epoch=1)
    assert not torch.equal(first, second)
    assert torch.equal(first, TripletSampler(labels=labels, cameras=cameras, seed=3).sample(epoch=0))
    assert first.shape == (40, 3)


def test_person_batches_hold_cross_camera_pairs():
    labels = [p for p in range(10) for _ in range(2)]
    cameras = [0, 1] * 10
    batches = PersonBatchSampler(labels=labels, cameras=cameras, persons_per_batch=4, seed=0).batches(epoch=0)
    assert len(batches) == 2
    for batch in batches:
        pairs = batch.view(-1, 2).tolist()
        assert len({labels[a] for a, _ in pairs}) == 4
        for a, b in pairs:
            assert labels[a] == labels[b] and cameras[a] != cameras[b]


def test_batch_triplets_random_and_hard():
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    embeddings = torch.tensor([[0.0], [1.0], [1.2], [5.0], [9.5], [10.0]])
    g = torch.Generator().manual_seed(0)
    for mining in ("random", "hard"):
        a, p, n = batch_triplets(embeddings, labels, mining=mining, generator=g)
        assert torch.equal(labels[a], labels[p]) and not (a == p).any()
        assert (labels[a] != labels[n]).all()
    _, _, n = batch_triplets(embeddings, labels, mining="hard")
    assert n.tolist() == [2, 2, 1, 1, 3, 3]


def test_batch_triplets_with_several_random_negatives_per_anchor():
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    embeddings = torch.randn(8, 4)
    g = torch.Generator().manual_seed(0)
    a, p, n = batch_triplets(embeddings, labels, generator=g, negatives=3)
    assert len(a) == len(p) == len(n) == 24
    assert a.tolist() == [i for i in range(8) for _ in range(3)]  # anchor-major
    assert torch.equal(labels[a], labels[p]) and not (a == p).any()
    assert (labels[a] != labels[n]).all()
    assert all(len(set(n[3 * i : 3 * i + 3].tolist())) == 3 for i in range(8))  # without replacement
    a, _, n = batch_triplets(embeddings, labels, generator=g, negatives=50)  # at most the batch's 6
    assert len(a) == len(n) == 48
    one = batch_triplets(embeddings, labels, generator=torch.Generator().manual_seed(1))
    again = batch_triplets(embeddings, labels, generator=torch.Generator().manual_seed(1), negatives=1)
    assert all(torch.equal(x, y) for x, y in zip(one, again, strict=True))
    with pytest.raises(ValueError, match="negatives must be >= 1"):
        batch_triplets(embeddings, labels, mining="hard", negatives=2)

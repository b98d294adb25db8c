import pytest

from reid_model import (
    Sample,
    Split,
    load_splits,
    save_splits,
    seed_split,
    split_matches,
    viper_protocol_splits,
)


def test_seed_split_sizes_disjoint_reproducible():
    split = seed_split(range(632), seed=0)
    assert (len(split.train), len(split.val), len(split.test)) == (404, 101, 127)
    assert set(split.train) | set(split.val) | set(split.test) == set(range(632))
    assert seed_split(range(632), seed=0) == split
    assert seed_split(range(632), seed=1) != split


def test_viper_protocol():
    splits = viper_protocol_splits(range(632), trials=10, seed=0)
    assert len(splits) == 10
    for s in splits:
        assert len(s.train) == len(s.test) == 316 and not set(s.train) & set(s.test)
    assert len({s.test for s in splits}) == 10
    assert viper_protocol_splits(range(632), trials=10, seed=0) == splits


def test_overlap_is_refused():
    with pytest.raises(ValueError, match="must be disjoint"):
        Split("bad", 0, (1, 2), (2,), ())


def test_wrong_sizes():
    with pytest.raises(ValueError, match="must add up to the number of persons, got 10"):
        seed_split(range(10))


def test_round_trip(tmp_path):
    splits = [
        *viper_protocol_splits(range(20), trials=3, seed=5),
        seed_split(range(20), seed=1, sizes=(10, 5, 5)),
    ]
    save_splits(tmp_path / "splits.json", splits)
    assert load_splits(tmp_path / "splits.json") == splits


def test_a_split_matches_only_the_persons_it_divides():
    split = seed_split(range(20), sizes=(10, 4, 6))
    samples = [Sample(f"{pid}.png", pid, 0) for pid in range(20)]
    assert split.persons == frozenset(range(20)) and split_matches(split, samples)
    assert not split_matches(split, samples[:-1])  # a person fewer
    assert not split_matches(split, [*samples, Sample("x.png", 20, 0)])  # a person more
    assert not split_matches(seed_split(range(632)), samples)  # VIPeR's split, other persons

"""The linear probe: separable labels score high, random ones sit at chance, persons stay whole."""

from __future__ import annotations

import numpy as np
import pytest

from attribution import linear_probe


def _data(seed: int, signal: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    persons = np.arange(60)
    person_labels = (persons % 3 == 0).astype(int)
    centre = rng.normal(size=(60, 6)) + signal * person_labels[:, None]
    views = np.concatenate([centre + 0.1 * rng.normal(size=centre.shape) for _ in range(2)])
    return views, np.concatenate([person_labels] * 2), np.concatenate([persons] * 2)


def test_a_linearly_coded_attribute_is_found():
    embeddings, labels, groups = _data(0, signal=3.0)
    result = linear_probe(embeddings, labels, groups, permutations=3)
    assert result["roc_auc"] > 0.95 and result["balanced_accuracy"] > 0.85
    assert result["above_chance"]
    assert abs(result["chance_roc_auc"] - 0.5) < 0.15
    assert result["positives"] == 20 and result["negatives"] == 40


def test_an_unrelated_attribute_stays_near_chance():
    embeddings, labels, groups = _data(1, signal=0.0)
    result = linear_probe(embeddings, labels, groups, permutations=3)
    assert abs(result["roc_auc"] - 0.5) < 0.2
    assert not result["above_chance"]


def test_persons_are_never_split_across_folds():
    # Two views per person, identical embeddings: a probe that leaked persons would be perfect.
    rng = np.random.default_rng(2)
    centre = rng.normal(size=(40, 4))
    labels = rng.integers(0, 2, 40)
    result = linear_probe(
        np.concatenate([centre, centre]),
        np.concatenate([labels, labels]),
        np.concatenate([np.arange(40)] * 2),
        permutations=0,
    )
    assert result["roc_auc"] < 0.85


def test_too_few_positives_and_bad_shapes_raise():
    embeddings, labels, groups = _data(0, signal=1.0)
    few = np.zeros_like(labels)
    few[groups == 0] = 1
    with pytest.raises(ValueError, match="at least 2 positive and 2 negative persons, got 1 and 59"):
        linear_probe(embeddings, few, groups)
    with pytest.raises(ValueError, match="must agree"):
        linear_probe(embeddings, labels[:-1], groups)

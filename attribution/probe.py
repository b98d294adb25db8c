"""A linear probe: how well a frozen embedding predicts a soft-biometric attribute.

Logistic regression on standardized embeddings, cross-validated by person (both views of a
person stay in one fold), scored by balanced accuracy and ROC AUC. Chance level is measured,
not assumed: the same probe on labels shuffled across persons.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np


def _out_of_fold(
    embeddings: np.ndarray, labels: np.ndarray, groups: np.ndarray, folds: int, seed: int
) -> np.ndarray:
    # scikit-learn takes about a third of a second to import: only when a probe runs
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedGroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probabilities = np.zeros(len(labels))
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(embeddings, labels, groups):
        model = make_pipeline(
            StandardScaler(), LogisticRegression(C=0.1, class_weight="balanced", max_iter=2000)
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(embeddings[train], labels[train])
        probabilities[test] = model.predict_proba(embeddings[test])[:, 1]
    return probabilities


def _scores(labels: np.ndarray, probabilities: np.ndarray) -> tuple[float, float]:
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score

    return (
        float(balanced_accuracy_score(labels, probabilities >= 0.5)),
        float(roc_auc_score(labels, probabilities)),
    )


def linear_probe(
    embeddings: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    *,
    folds: int = 5,
    permutations: int = 5,
    seed: int = 0,
) -> dict[str, Any]:
    """Cross-validated linear probe of binary ``labels (N,)`` from ``embeddings (N, D)``.

    Args:
        embeddings: ``(N, D)`` frozen embeddings (e.g. both camera views of each person).
        labels: ``(N,)`` 0/1 labels.
        groups: ``(N,)`` person ids; a person's rows are never split across folds.
        folds: cross-validation folds (fewer if a class has fewer persons).
        permutations: shuffled-label runs that measure the chance level.
        seed: seeds the folds and the shuffles.

    Returns:
        ``balanced_accuracy``, ``roc_auc``, their chance levels ``chance_balanced_accuracy`` and
        ``chance_roc_auc`` (mean over shuffles), ``chance_roc_auc_std``, the null spread
        ``null_roc_auc_std`` expected at this many persons, ``above_chance`` (the AUC exceeds
        chance by twice the larger spread), ``folds`` and the numbers of positive and negative
        persons.

    Example:
        >>> result = linear_probe(embeddings, labels, person_ids)  # doctest: +SKIP
        >>> result["roc_auc"] > result["chance_roc_auc"]  # doctest: +SKIP
        True
    """
    embeddings, labels, groups = (
        np.asarray(embeddings, float),
        np.asarray(labels).astype(int),
        np.asarray(groups),
    )
    if embeddings.ndim != 2 or len(embeddings) != len(labels) or len(labels) != len(groups):
        raise ValueError(
            f"embeddings (N, D), labels (N,) and groups (N,) must agree, got {embeddings.shape}, "
            f"{labels.shape} and {groups.shape}"
        )
    person_label: dict[int, int] = {}
    for group, label in zip(groups.tolist(), labels.tolist(), strict=True):
        person_label.setdefault(group, label)
    persons = np.array(list(person_label))
    person_labels = np.array([person_label[p] for p in persons])
    n_pos, n_neg = int(person_labels.sum()), int(len(person_labels) - person_labels.sum())
    folds = min(folds, n_pos, n_neg)
    if folds < 2:
        raise ValueError(f"a probe needs at least 2 positive and 2 negative persons, got {n_pos} and {n_neg}")
    balanced, auc = _scores(labels, _out_of_fold(embeddings, labels, groups, folds, seed))
    rng = np.random.default_rng(seed)
    chance = []
    index = {p: i for i, p in enumerate(persons.tolist())}
    rows = np.array([index[g] for g in groups.tolist()])
    for _ in range(permutations):
        shuffled = rng.permutation(person_labels)[rows]
        chance.append(_scores(shuffled, _out_of_fold(embeddings, shuffled, groups, folds, seed)))
    chance_arr = np.array(chance) if chance else np.full((1, 2), 0.5)
    # The AUC's spread under the null at the person level (Mann-Whitney), a floor for the
    # shuffles' spread: a few shuffles underestimate it.
    null_std = float(np.sqrt((n_pos + n_neg + 1) / (12.0 * n_pos * n_neg)))
    spread = max(float(chance_arr[:, 1].std()), null_std)
    return {
        "balanced_accuracy": balanced,
        "roc_auc": auc,
        "chance_balanced_accuracy": float(chance_arr[:, 0].mean()),
        "chance_roc_auc": float(chance_arr[:, 1].mean()),
        "chance_roc_auc_std": float(chance_arr[:, 1].std()),
        "null_roc_auc_std": null_std,
        "above_chance": bool(auc - float(chance_arr[:, 1].mean()) > 2 * spread),
        "folds": float(folds),
        "positives": float(n_pos),
        "negatives": float(n_neg),
    }

"""Each dataset's own evaluation protocol, and which split may be applied to which dataset.

VIPeR is evaluated on a split of its persons: a checkpoint's own (``seed``) or trial 0 of the
316/316 protocol (``viper316``). Market-1501 has one fixed protocol (``market1501``): ``query/``
against ``bounding_box_test/``, as torchreid and fast-reid evaluate it. A ``person/camera``
folder tree is evaluated on a split made for it (``seed``). A split is applied only to the
dataset whose persons it divides (:func:`reid_model.split_matches`): VIPeR's person 12 is not
Market-1501's person 12.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from reid_model.data import Sample, load_market1501
from reid_model.embedders import Embedder
from reid_model.evaluation import evaluate_query_gallery
from reid_model.splits import Split, person_ids, split_matches, viper_protocol_splits
from reid_model.training import TrainConfig, make_split

#: The protocols each dataset kind allows (``deid evaluate --split``); the first is its default.
PROTOCOLS: dict[str, tuple[str, ...]] = {
    "viper": ("seed", "viper316"),
    "market1501": ("market1501",),
    "folder": ("seed",),
}

#: What each protocol evaluates on, in a few words.
PROTOCOL_DEFINITIONS: dict[str, str] = {
    "seed": "the checkpoint's own split of this dataset's persons",
    "viper316": "trial 0 of VIPeR's 316/316 protocol",
    "market1501": "query/ against bounding_box_test/",
}

#: The ``market1501`` protocol in full, written into ``deid evaluate --json``.
MARKET1501_PROTOCOL = (
    "query/ against bounding_box_test/ (Euclidean distance); junk (person -1) removed, distractors "
    "(person 0) kept as wrong matches; per query, the gallery images of its person from its camera "
    "left out; queries with no true match left skipped; CMC, mAP and mINP (true matches over the "
    "rank of the last one) averaged over the other queries"
)


class ProtocolError(ValueError):
    """A protocol or a split asked of a dataset it was not made for."""


def resolve_protocol(dataset: str, split: str = "auto") -> str:
    """The protocol to evaluate ``dataset`` with: ``split``, or the dataset's default for ``"auto"``.

    Args:
        dataset: ``viper``, ``market1501`` or ``folder`` (see :func:`reid_model.dataset_kind`).
        split: a protocol of :data:`PROTOCOLS`, or ``"auto"``.

    Raises:
        ValueError: ``dataset`` is not a known kind.
        ProtocolError: ``split`` is not one ``dataset`` allows.

    Example:
        >>> resolve_protocol("market1501"), resolve_protocol("viper", "viper316")
        ('market1501', 'viper316')
    """
    if dataset not in PROTOCOLS:
        raise ValueError(f"dataset must be one of {list(PROTOCOLS)}, got {dataset!r}")
    allowed = PROTOCOLS[dataset]
    if split == "auto":
        return allowed[0]
    if split not in allowed:
        owners = [kind for kind, names in PROTOCOLS.items() if split in names]
        made_for = f"is for {' and '.join(owners)} datasets" if owners else "is not a protocol"
        raise ProtocolError(
            f"split {split!r} {made_for}, not for this {dataset} dataset; {dataset} allows "
            f"{_listed(allowed)}; 'auto' picks {allowed[0]!r}"
        )
    return split


def evaluation_split(
    metadata: Mapping[str, Any], samples: Sequence[Sample], *, dataset: str, protocol: str
) -> Split:
    """The split of ``samples``' persons a checkpoint is evaluated on under ``protocol``.

    Args:
        metadata: the checkpoint's metadata; its ``"split"`` (if any) is the split it trained on.
        samples: the dataset.
        dataset: its kind.
        protocol: ``seed`` (the checkpoint's own split, or a fresh one in the seed's proportions
            when it has none) or ``viper316`` (VIPeR only), as :func:`resolve_protocol` gives.

    Raises:
        ProtocolError: the checkpoint's split does not divide this dataset's persons (it was
            made for another dataset), or ``protocol`` has no split or is not ``dataset``'s.

    Example:
        >>> split = evaluation_split({}, load_viper("viper"), dataset="viper", protocol="seed")  # doctest: +SKIP
        >>> len(split.train), len(split.val), len(split.test)
        (404, 101, 127)
    """
    resolve_protocol(dataset, protocol)
    if protocol == "seed":
        if "split" not in metadata:
            return make_split(TrainConfig(), list(samples))
        split = Split.from_dict(metadata["split"])
        if not split_matches(split, samples):
            ids = set(person_ids(samples))
            others = [p for p in PROTOCOLS[dataset] if p != "seed"]
            hint = f"; this dataset also allows {_listed(others)}" if others else ""
            raise ProtocolError(
                f"the checkpoint's split {split.name!r} divides {_persons(split.persons)}, but this "
                f"{dataset} dataset has {_persons(ids)} ({len(split.persons & ids)} in the split): "
                f"a split is applied only to the dataset it was made for{hint}"
            )
        return split
    if protocol == "viper316":
        return viper_protocol_splits(person_ids(samples), trials=1)[0]
    raise ProtocolError(f"protocol {protocol!r} ({PROTOCOL_DEFINITIONS[protocol]}) has no split of persons")


def market1501_query_gallery(root: str | os.PathLike[str]) -> tuple[list[Sample], list[Sample]]:
    """Market-1501's test protocol: ``query/`` images and the ``bounding_box_test/`` gallery.

    The gallery keeps the distractors (person 0) as wrong matches and drops the junk (person
    -1), as torchreid and fast-reid do: 3368 queries against 15913 gallery images.

    Raises:
        DatasetError: ``query/`` or ``bounding_box_test/`` is missing or has no Market-1501 image.

    Example:
        >>> query, gallery = market1501_query_gallery("Market-1501")  # doctest: +SKIP
        >>> len(query), len(gallery)
        (3368, 15913)
    """
    return load_market1501(root, "query"), load_market1501(root, "bounding_box_test", distractors=True)


def evaluate_market1501(
    model: Embedder, root: str | os.PathLike[str], *, batch_size: int = 256
) -> dict[str, float]:
    """Evaluate ``model`` with Market-1501's standard protocol (:func:`market1501_query_gallery`).

    Args:
        model: the embedder.
        root: the Market-1501 folder (with ``query/`` and ``bounding_box_test/``).
        batch_size: images read at once.

    Returns:
        The metrics of :func:`reid_model.evaluate_query_gallery`: rank-1/5/10/20, mAP, mINP and
        the counts of query persons, queries, gallery images and skipped queries.

    Raises:
        DatasetError: a folder is missing or holds no Market-1501 image.
        ValueError: no query has a true match in the gallery.

    Example:
        >>> evaluate_market1501(load_default(), "Market-1501")["rank1"]  # doctest: +SKIP
        0.3
    """
    query, gallery = market1501_query_gallery(root)
    return evaluate_query_gallery(model, query, gallery, batch_size=batch_size)


def _listed(names: Sequence[str]) -> str:
    return ", ".join(f"{name!r} ({PROTOCOL_DEFINITIONS[name]})" for name in names)


def _persons(ids: set[int] | frozenset[int]) -> str:
    return f"{len(ids)} persons (ids {min(ids)}..{max(ids)})" if ids else "no persons"

"""``--group-by reid``: unlabeled person crops grouped by what the adversary sees.

A folder of crops from a camera carries no names that say who is who. Here the adversary links
two crops when each beats at least ``threshold`` of its gallery of other people as the other's
partner, under every model and both ways (the rule that splits claimed groups,
:mod:`deid.loop.grouping`), and the crops are clustered by average linkage on that score, which
does not chain strangers together through one look-alike the way single linkage would. One
cluster is one person: it shares one treatment and is checked across its appearances. Measured
on the 127 VIPeR test persons (``benchmarks/reid_grouping.py``): see the README.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from sklearn.cluster import AgglomerativeClustering

from deid.adversary import Adversary
from deid.batch.inputs import InputFile
from deid.loop.appearances import People
from deid.loop.grouping import MIN_PARTNER_MATCH, match_embeddings


def cluster_appearances(
    adversary: Adversary, images: Sequence[torch.Tensor], *, threshold: float = MIN_PARTNER_MATCH
) -> torch.Tensor:
    """``(N,)`` a cluster number per crop (``(3, H, W)`` each), numbered in order of first crop.

    Example:
        >>> cluster_appearances(adversary, [a_front, a_back, b_front]).tolist()  # doctest: +SKIP
        [0, 0, 1]
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if len(images) < 2:
        return torch.zeros(len(images), dtype=torch.long)
    embeddings = adversary.embed(People([list(images)], adversary).model_inputs)
    match = _chunked_match(adversary, embeddings)
    distance = (1.0 - match).numpy().astype(np.float64)
    np.fill_diagonal(distance, 0.0)
    labels = AgglomerativeClustering(
        n_clusters=None, metric="precomputed", linkage="average", distance_threshold=1.0 - threshold + 1e-9
    ).fit_predict(distance)
    first: dict[int, int] = {}
    return torch.tensor([first.setdefault(int(label), len(first)) for label in labels])


def _chunked_match(
    adversary: Adversary, embeddings: Sequence[torch.Tensor], chunk: int = 256
) -> torch.Tensor:
    """:func:`deid.loop.grouping.match_embeddings` over all pairs, a block of rows at a time (memory)."""
    n = len(embeddings[0])
    if n <= chunk:
        return match_embeddings(adversary, embeddings)
    match = torch.zeros(n, n)
    for i in range(0, n, chunk):
        for j in range(i, n, chunk):
            rows = [e[i : i + chunk] for e in embeddings]
            cols = [e[j : j + chunk] for e in embeddings]
            both = match_embeddings(adversary, [torch.cat([r, c]) for r, c in zip(rows, cols, strict=True)])
            block = both[: len(rows[0]), len(rows[0]) :]
            match[i : i + chunk, j : j + chunk] = block
            match[j : j + chunk, i : i + chunk] = block.T
    match.fill_diagonal_(0.0)
    return match


def reid_group_files(files: Sequence[InputFile], adversary: Adversary) -> dict[str, list[InputFile]]:
    """Group the person crops among ``files`` by :func:`cluster_appearances` (keys ``reid:0``,
    ``reid:1``, ...); a full frame, or a file that cannot be read here, stays alone (its reading
    error is reported when the batch reads it)."""
    from deid.detection import is_person_crop
    from reid_model import read_image

    crops: list[tuple[InputFile, torch.Tensor]] = []
    alone: list[InputFile] = []
    for file in files:
        try:
            image = read_image(file.path)
        except (OSError, ValueError):
            alone.append(file)
            continue
        if is_person_crop(image):
            crops.append((file, image))
        else:
            alone.append(file)
    groups: dict[str, list[InputFile]] = {}
    clusters = cluster_appearances(adversary, [image for _, image in crops]) if crops else torch.zeros(0)
    for (file, _), cluster in zip(crops, clusters.tolist(), strict=True):
        groups.setdefault(f"reid:{int(cluster)}", []).append(file)
    for file in alone:
        groups[f"file:{file.relative.as_posix()}"] = [file]
    return groups

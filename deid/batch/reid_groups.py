"""``--group-by reid``: a folder of unlabeled person crops grouped by the adversary's eyes.

Every crop is embedded by the run's adversary and each pair scored by the loop's own link rule
(:func:`deid.loop.grouping.match_embeddings`: the fraction of the adversary's gallery the
partner beats, the least over its models and both directions). Crops are then merged by
complete linkage: two groups join only while *every* pair across them still beats
``REID_MIN_MATCH`` of the gallery, so one look-alike cannot chain two people together the way a
connected-components rule would. A group is still a claim: the conceal step splits it again by
the loop's rule (:mod:`deid.loop.grouping`).

Measured on VIPeR (each person seen once by each of two cameras, from another angle: the hard
case), with the bundled strong adversary, pairs of crops put in one group
(``python -m benchmarks.reid_groups``): precision 0.25 on the test persons at ``REID_MIN_MATCH``;
on one camera (PETS S2.L1's crops, tracks standing in for identities, ``--video``) 0.60 of the
pairs known either way, so a group is never taken for proof of identity. Frames (anything that is not
a person crop) and unreadable files stay alone: their people are found inside them later, and
a video's are followed by its tracks (``--as-video``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import torch
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform

from deid.adversary import Adversary
from deid.batch.inputs import InputFile
from deid.detection import taken_as_crop
from deid.loop.grouping import match_embeddings
from reid_model.io import read_image

#: The least fraction of the adversary's gallery every pair in a group must beat.
REID_MIN_MATCH = 0.95
#: Crops embedded per pass (their images are not kept).
_CHUNK = 256


def group_by_reid(
    files: Sequence[InputFile], adversary: Adversary, *, min_match: float = REID_MIN_MATCH, kind: str = "auto"
) -> dict[str, list[InputFile]]:
    """``files`` grouped as :func:`deid.batch.grouping.group_files` does: crops the adversary sees
    as one person share a key ``reid:DIGEST``, named by its members (:func:`group_key`); every
    other file is alone (``file:RELATIVE``), as with ``--group-by none``. Groups come in the
    order their first member does; ``kind`` says which files are crops
    (:func:`deid.detection.taken_as_crop`)."""
    if not 0.0 < min_match <= 1.0:
        raise ValueError(f"min_match must be in (0, 1], got {min_match}")
    crops: list[int] = []
    embeddings: list[list[torch.Tensor]] = []
    batch: list[torch.Tensor] = []
    for i, file in enumerate(files):
        try:
            image = read_image(file.path)
        except (OSError, ValueError):  # the runner reads it again and records why it failed
            continue
        if taken_as_crop(image, kind):
            crops.append(i)
            batch.append(image)
        if len(batch) == _CHUNK:
            embeddings.append(adversary.embed(adversary.views(batch)))
            batch = []
    if batch:
        embeddings.append(adversary.embed(adversary.views(batch)))
    label = {i: f"file:{file.relative.as_posix()}" for i, file in enumerate(files)}
    if len(crops) > 1:
        joined = [torch.cat(parts) for parts in zip(*embeddings, strict=True)]
        clusters = link_groups(match_embeddings(adversary, joined), min_match).tolist()
        members: dict[int, list[int]] = {}
        for i, cluster in zip(crops, clusters, strict=True):
            members.setdefault(cluster, []).append(i)
        for group in members.values():
            if len(group) > 1:
                key = group_key([files[i] for i in group])
                label.update(dict.fromkeys(group, key))
    groups: dict[str, list[InputFile]] = {}
    for i, file in enumerate(files):
        groups.setdefault(label[i], []).append(file)
    return groups


def group_key(members: Sequence[InputFile]) -> str:
    """``reid:`` and a digest of the members' relative paths: two groups share a key only when
    they have the same members, so a resumed run whose grouping changed never mixes its groups
    with the records an earlier run kept (``deid verify`` checks a group's records together)."""
    names = "\n".join(sorted(m.relative.as_posix() for m in members))
    return f"reid:{hashlib.blake2b(names.encode(), digest_size=6).hexdigest()}"


def link_groups(match: torch.Tensor, min_match: float) -> np.ndarray:
    """Group labels ``(N,)`` from a symmetric ``(N, N)`` pair score: complete linkage on
    ``1 - match``, so every pair inside a group scores at least ``min_match``.

    Example:
        >>> link_groups(torch.tensor([[0.0, 0.97, 0.5], [0.97, 0.0, 0.97], [0.5, 0.97, 0.0]]), 0.95).tolist()
        [1, 1, 2]
    """
    distance = 1.0 - match.double().numpy()  # exact: the scores' float32 values in float64
    np.fill_diagonal(distance, 0.0)
    tree = linkage(squareform(distance, checks=False), method="complete")
    # fcluster keeps merges at distance <= t: a pair scoring exactly min_match (in the scores' dtype) links.
    cut = 1.0 - float(torch.tensor(min_match, dtype=match.dtype))
    labels: np.ndarray = fcluster(tree, t=cut, criterion="distance")
    return labels

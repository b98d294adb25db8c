"""Grouping is evidence: appearances share one treatment only when the adversary sees one person.

A batch groups files by name or folder (:func:`deid.batch.grouping.group_files`), but a name is a
claim. The conceal loop checks a person seen more than once across appearances only, so two
different people put in one group would each be checked against the other and could come out
untouched. Before a group shares one treatment, the adversary must match its appearances to each
other well above chance; the appearances it does not are concealed apart, and the record says why.

The rule: two appearances ``a`` and ``b`` are linked when, for every model of the adversary and in
both directions, the partner is closer to the query than at least ``MIN_PARTNER_MATCH`` of the
adversary's gallery of other people (the partner ranks in the best fifth of the gallery).
A group is split into the connected parts of that link graph; an appearance with no link is its
own person. On the 127 VIPeR test persons with the bundled adversary (network and colour matcher,
202 gallery persons), 113 of the 127 true cross-camera pairs are linked (89.0%) and 14726 of the
16002 pairs of different persons are not (92.0%; with the strong adversary's fused model too,
113 and 14812).
Splitting a true pair costs consistency, not privacy: each part is checked against its own
original, and the batch then checks its outputs against the rest of the group too
(``deid.batch.wiring``), as ``deid verify`` does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from deid.adversary import Adversary
from deid.loop.appearances import People

#: Whether one person's appearances share one treatment (``track``: the person stays linkable
#: across them under a pseudonym, as analytics want) or each gets a fresh one (``none``: a
#: release that must not let the person be followed).
LINKS = ("track", "none")
#: Least fraction of the gallery a partner must beat, under every model and both ways, to link.
MIN_PARTNER_MATCH = 0.8


@dataclass(frozen=True)
class GroupSplit:
    """How one claimed group of appearances is concealed.

    Attributes:
        parts: the appearances (indices into the group) concealed together; every appearance is
            in exactly one part.
        reasons: per appearance, why it shares (or does not share) its group's treatment; None
            for a group of one.
    """

    parts: list[list[int]]
    reasons: list[str | None]


def apart(people: Sequence[Sequence[torch.Tensor]]) -> list[GroupSplit]:
    """Each claimed person's appearances each on their own (``--link none``: a treatment per
    appearance), a group of one as it is.

    Example:
        >>> [s.parts for s in apart([[torch.zeros(3, 8, 4)] * 2, [torch.zeros(3, 8, 4)]])]
        [[[0], [1]], [[0]]]
    """
    reason = "--link none: concealed on its own, with a treatment of its own, judged against its group too"
    return [
        GroupSplit([[i] for i in range(len(person))], [reason if len(person) > 1 else None] * len(person))
        for person in people
    ]


def partner_match(adversary: Adversary, images: Sequence[torch.Tensor]) -> torch.Tensor:
    """``(N, N)`` for each pair of appearances, the fraction of the gallery the partner beats.

    Entry ``[a, b]`` is the least, over the adversary's models and both directions (``a`` as
    the query and ``b`` as its partner, and the other way round), of the fraction of gallery
    embeddings farther from the query than the partner. The diagonal is 0.

    Args:
        adversary: the models and galleries that must see the group as one person.
        images: ``N`` appearances ``(3, H, W)``, any sizes.
    """
    return match_embeddings(adversary, adversary.embed(People([list(images)], adversary).model_inputs))


def match_embeddings(adversary: Adversary, embeddings: Sequence[torch.Tensor]) -> torch.Tensor:
    """:func:`partner_match` of appearances already embedded: per model, ``(N, D)``.

    Memory is ``O(N^2 + N G)``: each query's gallery distances are sorted once and every
    partner's distance is placed among them.
    """
    n = len(embeddings[0])
    match = torch.ones(n, n)
    for emb, gallery in zip(embeddings, adversary.galleries, strict=True):
        emb, gallery = emb.float().cpu(), gallery.float().cpu()
        d_pair = torch.cdist(emb, emb)  # (N, N)
        d_gallery = torch.cdist(emb, gallery).sort(dim=1).values  # (N, G)
        not_farther = torch.searchsorted(d_gallery, d_pair, right=True)  # gallery items <= the partner's
        beaten = (len(gallery) - not_farther).float() / len(gallery)  # query a, partner b
        match = torch.minimum(match, torch.minimum(beaten, beaten.T))
    match.fill_diagonal_(0.0)
    return match


def split_group(adversary: Adversary, images: Sequence[torch.Tensor]) -> GroupSplit:
    """Split one claimed person into the parts the adversary links (see the module docstring).

    Args:
        adversary: the adversary the conceal loop must defeat.
        images: the group's appearances ``(3, H, W)``.
    """
    if len(images) < 2:
        return GroupSplit([list(range(len(images)))], [None] * len(images))
    return _split(partner_match(adversary, images))


def split_groups(adversary: Adversary, people: Sequence[Sequence[torch.Tensor]]) -> list[GroupSplit]:
    """:func:`split_group` for each claimed person, embedding every group's appearances at once."""
    claimed = [p for p, person in enumerate(people) if len(person) > 1]
    splits = [GroupSplit([list(range(len(person)))], [None] * len(person)) for person in people]
    if not claimed:
        return splits
    embeddings = adversary.embed(People([list(people[p]) for p in claimed], adversary).model_inputs)
    start = 0
    for p in claimed:
        stop = start + len(people[p])
        splits[p] = _split(match_embeddings(adversary, [e[start:stop] for e in embeddings]))
        start = stop
    return splits


def _split(match: torch.Tensor) -> GroupSplit:
    """The connected parts of the link graph ``match >= MIN_PARTNER_MATCH``, with each reason."""
    n = len(match)
    linked = match >= MIN_PARTNER_MATCH
    part_of = list(range(n))

    def root(i: int) -> int:
        while part_of[i] != i:
            part_of[i] = part_of[part_of[i]]
            i = part_of[i]
        return i

    for a, b in torch.nonzero(torch.triu(linked, diagonal=1)).tolist():
        part_of[root(a)] = root(b)
    parts: dict[int, list[int]] = {}
    for i in range(n):
        parts.setdefault(root(i), []).append(i)
    rule = f"needs >= {MIN_PARTNER_MATCH:.2f} under every model, both ways"
    reasons: list[str | None] = []
    for i in range(n):
        best = float(match[i].max())
        shown = f"{math.floor(best * 1000) / 1000:.3f}"  # cut, not rounded: 0.7996 is not "0.80"
        part = parts[root(i)]
        if len(part) == 1:
            reasons.append(
                f"split from its group of {n}: the adversary does not see it as the same person as "
                f"any other appearance (best partner beats {shown} of the gallery; {rule}); "
                "concealed on its own"
            )
        elif len(part) < n:
            reasons.append(
                f"split from its group of {n}: concealed with {len(part) - 1} other appearance(s) "
                f"the adversary links to it (best partner beats {shown} of the gallery; {rule})"
            )
        else:
            reasons.append(
                f"grouped: the adversary links it to another appearance of its group "
                f"(best partner beats {shown} of the gallery; {rule})"
            )
    return GroupSplit(list(parts.values()), reasons)

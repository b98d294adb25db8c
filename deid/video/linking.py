"""Pieces of one person's track joined again, by where they are and what the adversary sees.

The tracker loses a person it cannot confirm for a few frames (crossing another, half hidden),
and a new track starts when they are found again: the same person in two pieces would get two
treatments. A piece that starts shortly after another ended, near where that one was heading,
and looks like it to the adversary (its embeddings of the last and first sightings) is the same
person. A piece ends where its person was last seen: the boxes the tracker predicted for them
after it lost them (``"predicted"``) say where it guessed, not where they were, and show what was
there (a cut of PETS S2.L1 from frame 300: a track lost at frame 16 went on predicted to frame
25, was joined from there to a piece starting 24 frames later 370 px away, and the box bridged
between them slid over the lawn, the road and three people). How alike is alike enough is
learnt from the video itself: closer than nearly all pairs of tracks seen at the same time, which
are certainly different people.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import torch
import torch.nn.functional as F

from deid.adversary import Adversary
from deid.video.follow import Sighting, sightings_of
from deid.video.io import as_float

#: Sightings at each end of a track whose embeddings stand for it.
_ENDS = 3


def link_tracks(
    by_frame: Sequence[Sequence[Sighting]],
    adversary: Adversary,
    *,
    max_gap: int,
    fps: float = 10.0,
    quantile: float = 0.1,
) -> tuple[list[list[Sighting]], dict[int, int]]:
    """Join the pieces of tracks that are one person; tracks renumbered in order of appearance.

    Args:
        by_frame: per frame, its sightings (from :func:`deid.video.follow_people`).
        adversary: whose embeddings compare the pieces.
        max_gap: frames a person may be lost between two pieces (from where the first piece
            last saw them).
        fps: the video's frame rate (how far a person may walk in a frame, :data:`SPEED`).
        quantile: a join needs the pieces closer than this quantile of the distances between
            tracks seen together (different people).

    Returns:
        The sightings per frame with joined track numbers, and per track the pieces it joined.
    """
    tracks = list(sightings_of(by_frame))
    if len(tracks) < 2:
        return [list(frame) for frame in by_frame], {t[0].track: 1 for t in tracks}
    seen = [[s for s in track if s.how != "predicted"] or list(track) for track in tracks]
    near = [
        (a, b)
        for a, first in enumerate(tracks)
        for b, second in enumerate(tracks)
        if second[0].frame > first[-1].frame
        and (gap := second[0].frame - seen[a][-1].frame) <= max_gap
        and _near(seen[a][-1], second[0], gap / fps)
    ]
    starts = sorted({b for _, b in near})  # only a track that could continue another needs its head
    heads = dict(zip(starts, _describe(adversary, [tracks[b][:_ENDS] for b in starts]), strict=True))
    tails = _describe(adversary, [track[-_ENDS:] for track in seen])
    together = [
        float((tails[a] - tails[b]).norm())
        for a in range(len(tracks))
        for b in range(a + 1, len(tracks))
        if _overlap(tracks[a], tracks[b])
    ]
    if len(together) < 5:  # too few different people to learn from: join nothing
        return [list(frame) for frame in by_frame], {t[0].track: 1 for t in tracks}
    threshold = float(torch.tensor(together).quantile(quantile))
    candidates = []
    for a, b in near:
        distance = float((tails[a] - heads[b]).norm())
        if distance < threshold:
            candidates.append((distance, a, b))
    successor: dict[int, int] = {}
    taken: set[int] = set()
    for _, a, b in sorted(candidates):
        if a not in successor and b not in taken:
            successor[a], taken = b, taken | {b}
    root = {t: t for t in range(len(tracks))}
    for a in sorted(successor):
        root[successor[a]] = root[a]
    order = sorted({root[t] for t in root}, key=lambda r: tracks[r][0].frame)
    number = {r: n for n, r in enumerate(order)}
    relabel = {tracks[t][0].track: number[root[t]] for t in root}
    pieces: dict[int, int] = {}
    for t in root:
        pieces[number[root[t]]] = pieces.get(number[root[t]], 0) + 1
    joined = [
        sorted((replace(s, track=relabel[s.track]) for s in frame), key=lambda s: s.track)
        for frame in by_frame
    ]
    return joined, pieces


def _describe(adversary: Adversary, groups: list[Sequence[Sighting]]) -> list[torch.Tensor]:
    """Per group of sightings, its mean embedding, each model's L2-normalized and concatenated."""
    if not groups:
        return []
    crops = [as_float(s.crop) for group in groups for s in group]
    embeddings = [F.normalize(e, dim=1) for e in adversary.embed(adversary.views(crops))]
    joined = torch.cat(embeddings, dim=1)
    out, at = [], 0
    for group in groups:
        out.append(joined[at : at + len(group)].mean(0))
        at += len(group)
    return out


def _overlap(a: Sequence[Sighting], b: Sequence[Sighting]) -> bool:
    return a[0].frame <= b[-1].frame and b[0].frame <= a[-1].frame


#: A piece's box may be at most this many times as tall as the other's (a lost track's box is
#: grown by the follower's padding): a person does not grow or shrink more in a second.
_TALLER = 1.6


#: How far a person may go in a second, in body heights (a fifth of one per frame at PETS S2.L1's
#: 10 frames/s; before the frame rate was known here, a fifth per frame at any rate).
SPEED = 2.0


def _near(last: Sighting, first: Sighting, seconds: float) -> bool:
    """Whether ``first`` starts where ``last`` could have walked to in ``seconds``: within half a
    body height, plus :data:`SPEED` body heights a second, in a box of about the same height (a
    cut of PETS S2.L1 from frame 470: a box 253 pixels tall the finder proposed on its first
    frame, joined to a woman found 19 frames later, was bridged to her over the lawn)."""
    (x0, y0, w0, h0), (x1, y1, w1, h1) = last.box[:4], first.box[:4]
    dx, dy = (x1 + w1 / 2) - (x0 + w0 / 2), (y1 + h1 / 2) - (y0 + h0 / 2)
    alike = max(h0, h1) <= _TALLER * min(h0, h1)
    return alike and (dx * dx + dy * dy) ** 0.5 <= h0 * (0.5 + SPEED * seconds)

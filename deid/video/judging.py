"""Whether each person of a video is private in every frame: could a viewer holding other
pictures of them pick them out among the people of the video?

Each sighting, concealed, is compared with the track's original appearances from other moments
(``references`` spread over the track, at least ``gap`` frames away; in a track too short for
that, its other references; a track of one sighting, its own original) and with the people
seen at the same time (the other tracks overlapping it in time: certainly other people; a track
seen only at other times may be the same person followed in pieces). Distances are person to
person, the nearest of each person's references (what an attacker holding several pictures
does), under each of the adversary's models. A sighting is private when, under every model,
the person is not nearer than half of the others (the adversary's condition C rate at most
``max_match_rate``) and not among the nearest ``top_k`` (scaled to the number of people: the
adversary's 10 of 274 gallery persons is 1 of 5 people). A track seen with fewer than two
others is compared with the adversary's own gallery instead (strict: small, blurred video
people are nearer to any flat crop than sharp VIPeR persons are).

Measured on PETS 2009 S2.L1 (``benchmarks/video_conceal.py``): see the README for how often
originals, grey-filled and noise-filled people pass.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch

from deid.adversary import Adversary
from deid.video.follow import PLACED, Sighting
from deid.video.io import VideoReader, as_float, cut_bytes
from reid_model import content_keys

#: Crops judged in one call of :meth:`Judge.check_many` (whole tracks, as many as fit; the models
#: embed 64 at a time).
BATCH = 256
#: What :meth:`Judge.check_many` is asked: a track, concealed crops of it, and which of its
#: sightings they are (None: all, in order).
Asked = tuple[int, Sequence[torch.Tensor], Sequence[int] | None]


@dataclass(frozen=True)
class _Case:
    """A track's crops to judge: which references each may be compared with (``allowed``), the
    crops with none but their own original (``alone``, embedded per model in ``own_originals``),
    and the tracks seen at the same time (``others``)."""

    t: int
    allowed: torch.Tensor
    alone: torch.Tensor
    own_originals: list[torch.Tensor]
    others: list[int]


def batches(sizes: Sequence[int], limit: int) -> list[slice]:
    """Consecutive runs of items (tracks) whose ``sizes`` (crops) add up to at most ``limit``
    (an item larger than that alone)."""
    runs, start, total = [], 0, 0
    for i, size in enumerate(sizes):
        if total and total + size > limit:
            runs.append(slice(start, i))
            start, total = i, 0
        total += size
    return runs + ([slice(start, len(sizes))] if len(sizes) > start else [])


def spread(track: Sequence[Sighting], samples: int) -> list[Sighting]:
    """Up to ``samples`` sightings evenly spaced over ``track``: posed ones when it has any, else
    the follower's (not :data:`deid.video.follow.PLACED` ones, whose box may show the person
    hidden, or nobody)."""
    pool = (
        [s for s in track if s.keypoints is not None]
        or [s for s in track if s.how not in PLACED]
        or list(track)
    )
    if len(pool) <= samples:
        return list(pool)
    step = (len(pool) - 1) / (samples - 1) if samples > 1 else 0
    return [pool[round(i * step)] for i in range(samples)]


def _at(track: Sequence[Sighting], frames: Sequence[int]) -> list[Sighting]:
    """The sightings of ``track`` in ``frames``."""
    at = {s.frame: s for s in track}
    missing = [f for f in frames if f not in at]
    if missing:
        raise ValueError(f"reference frames {missing} are not frames of track {track[0].track}")
    return [at[f] for f in frames]


class Judge:
    """The adversary's verdict on the sightings of a video's tracks (see the module's docstring).

    Args:
        tracks: the video's tracks, each its sightings in frame order.
        adversary: the re-id adversary and its privacy target.
        references: original appearances per track a sighting is checked against (spread over
            the track), or per track the frames of those appearances (as a report records them).
        gap: frames between a sighting and the references it is checked against.

    Raises:
        ValueError: a reference frame given is not a frame of its track.
    """

    def __init__(
        self,
        tracks: Sequence[Sequence[Sighting]],
        adversary: Adversary,
        *,
        references: int | Sequence[Sequence[int]],
        gap: int,
    ) -> None:
        self.tracks = tracks
        self.adversary = adversary
        self.gap = gap
        if isinstance(references, int):
            self.references = [spread(track, references) for track in tracks]
        else:
            self.references = [_at(track, frames) for track, frames in zip(tracks, references, strict=True)]
        # every track's references in one batch (the fused model: 6.3 ms a crop 4 at a time,
        # 3.7 ms 64 at a time)
        crops = [as_float(s.crop) for refs in self.references for s in refs]
        embedded = self._embed(crops) if crops else []
        sizes = [len(refs) for refs in self.references]
        #: Per track, per model, the embeddings of its references.
        self.kept = [list(parts) for parts in zip(*(e.split(sizes) for e in embedded), strict=True)]

    def _embed(self, crops: list[torch.Tensor]) -> list[torch.Tensor]:
        return self.adversary.embed(self.adversary.views(crops))

    def _others(self, t: int) -> list[int]:
        """The tracks seen at the same time as track ``t``."""
        first, last = self.tracks[t][0].frame, self.tracks[t][-1].frame
        return [
            k
            for k, track in enumerate(self.tracks)
            if k != t and track[0].frame <= last and track[-1].frame >= first
        ]

    def loop_adversary(self) -> Adversary:
        """The adversary the conceal loop decides with: every track's references for its
        galleries (a person's own among them, which only makes the loop's verdict milder: the
        judge has the last word), ``top_k`` scaled to their number."""
        if len(self.tracks) < 3:
            return self.adversary
        galleries = [torch.cat([kept[m] for kept in self.kept]) for m in range(len(self.adversary.galleries))]
        judge = replace(self.adversary, galleries=galleries, top_k=self._top_k(len(galleries[0])))
        judge.cache.update(self.adversary.cache)
        return judge

    def _top_k(self, people: int) -> int:
        """The adversary's ``top_k`` scaled from its gallery to ``people`` (at least 1)."""
        return max(1, round(self.adversary.top_k * people / len(self.adversary.galleries[0])))

    def check(
        self, t: int, crops: Sequence[torch.Tensor], indices: Sequence[int] | None = None
    ) -> list[bool]:
        """Whether each concealed crop of track ``t`` is private: ``crops`` are its sightings in
        order, or those at ``indices`` (each sighting is judged on its own)."""
        return self.check_many([(t, crops, indices)])[0]

    def check_many(self, asked: Sequence[Asked]) -> list[list[bool]]:
        """:meth:`check` for several tracks' crops at once, each ``(t, crops, indices)``: the
        verdicts are the same, the crops of all embedded in one batch per model (a track's few
        crops alone are a small batch: the models cost more a crop)."""
        cases = [self._case(t, crops, indices) for t, crops, indices in asked]
        if not any(len(crops) for _, crops, _ in asked):
            return [[] for _ in asked]
        views = self.adversary.views([c for _, crops, _ in asked for c in crops])
        keys = content_keys(views)
        edges = [0, *itertools.accumulate(len(crops) for _, crops, _ in asked)]
        private = torch.ones(len(views), dtype=torch.bool)
        for m, memo in enumerate(self.adversary.memos):
            # a crop one model matches is matched: the next models (the fused one, the slowest,
            # is last) embed only the crops every model before calls private
            rows = torch.nonzero(private).flatten()
            if not len(rows):
                break
            conc = memo(views[rows], [keys[r] for r in rows.tolist()])
            embedded = conc.new_zeros((len(views), conc.shape[1]))
            embedded[rows] = conc
            for case, (first, last) in zip(cases, itertools.pairwise(edges), strict=True):
                here = torch.nonzero(private[first:last]).flatten()
                if len(here):
                    private[first + here] = self._private(case, m, embedded[first + here], here)
        return [private[first:last].tolist() for first, last in itertools.pairwise(edges)]

    def _case(self, t: int, crops: Sequence[torch.Tensor], indices: Sequence[int] | None) -> _Case:
        """What judging ``crops`` of track ``t`` compares them with."""
        track, references = self.tracks[t], self.references[t]
        indices = list(range(len(track))) if indices is None else list(indices)
        if len(indices) != len(crops):
            raise ValueError(f"crops must be one per index ({len(indices)}), got {len(crops)}")
        frames = torch.tensor([track[i].frame for i in indices], dtype=torch.long)
        seen = torch.tensor([s.frame for s in references])
        allowed = (frames[:, None] - seen[None, :]).abs() >= self.gap
        short = ~allowed.any(1)
        allowed[short] = frames[short, None] != seen[None, :]
        alone = ~allowed.any(1)  # a track of one sighting: its own original
        lone = [indices[i] for i in torch.nonzero(alone).flatten().tolist()]
        own_originals = self._embed([as_float(track[i].crop) for i in lone]) if lone else []
        return _Case(t, allowed, alone, own_originals, self._others(t))

    def _private(self, case: _Case, m: int, conc: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """Whether the crops at ``rows`` of ``case``, embedded ``conc`` by model ``m``, are private
        under it."""
        own = torch.cdist(conc, self.kept[case.t][m]).masked_fill(~case.allowed[rows], float("inf")).amin(1)
        if len(case.own_originals):
            originals = torch.zeros(len(case.alone), conc.shape[1])
            originals[case.alone] = case.own_originals[m]
            here = case.alone[rows]
            own[here] = (conc[here] - originals[rows][here]).norm(dim=1)
        own = own * (1.0 - self.adversary.margin)  # the run's room to spare (deid.adversary.MARGIN)
        if len(case.others) >= 2:
            people = torch.stack([torch.cdist(conc, self.kept[k][m]).amin(1) for k in case.others], 1)
        else:
            people = torch.cdist(conc, self.adversary.galleries[m].to(conc))
        top_k = self._top_k(people.shape[1]) if len(case.others) >= 2 else self.adversary.top_k
        rate = (own[:, None] < people).float().mean(1)
        rank = 1 + (people < own[:, None]).sum(1)
        return (rate <= self.adversary.max_match_rate) & (rank > top_k)

    def check_written(self, written: VideoReader, by_frame: Sequence[Sequence[Sighting]]) -> list[list[bool]]:
        """Per track, per sighting: private as cut from the ``written`` video (a sighting whose
        frame was not written is not private)."""
        number = {track[0].track: t for t, track in enumerate(self.tracks)}
        recut: list[dict[int, torch.Tensor]] = [{} for _ in self.tracks]
        for frame in written:
            if frame.index >= len(by_frame):
                break
            for s in by_frame[frame.index]:  # the crop's own bytes: a view would hold the frame
                recut[number[s.track]][s.frame] = cut_bytes(frame.pixels, s.box)
        verdicts = [[False] * len(track) for track in self.tracks]
        whole = [t for t, track in enumerate(self.tracks) if len(recut[t]) == len(track)]
        for group in batches([len(self.tracks[t]) for t in whole], BATCH):
            asked: list[Asked] = [
                (t, [as_float(recut[t][s.frame]) for s in self.tracks[t]], None) for t in whole[group]
            ]
            for (t, _, _), private in zip(asked, self.check_many(asked), strict=True):
                verdicts[t] = private
        return verdicts

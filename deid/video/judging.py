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

from collections.abc import Sequence
from dataclasses import replace

import torch

from deid.adversary import Adversary
from deid.video.follow import Sighting
from deid.video.io import VideoReader, as_float, cut_bytes
from reid_model import content_keys


def spread(track: Sequence[Sighting], samples: int) -> list[Sighting]:
    """Up to ``samples`` sightings evenly spaced over ``track`` (posed ones when it has any)."""
    pool = [s for s in track if s.keypoints is not None] or list(track)
    if len(pool) <= samples:
        return list(pool)
    step = (len(pool) - 1) / (samples - 1) if samples > 1 else 0
    return [pool[round(i * step)] for i in range(samples)]


class Judge:
    """The adversary's verdict on the sightings of a video's tracks (see the module's docstring).

    Args:
        tracks: the video's tracks, each its sightings in frame order.
        adversary: the re-id adversary and its privacy target.
        references: original appearances per track a sighting is checked against.
        gap: frames between a sighting and the references it is checked against.
    """

    def __init__(
        self, tracks: Sequence[Sequence[Sighting]], adversary: Adversary, *, references: int, gap: int
    ) -> None:
        self.tracks = tracks
        self.adversary = adversary
        self.gap = gap
        self.references = [spread(track, references) for track in tracks]
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
        track, references = self.tracks[t], self.references[t]
        indices = list(range(len(track))) if indices is None else list(indices)
        if len(indices) != len(crops):
            raise ValueError(f"crops must be one per index ({len(indices)}), got {len(crops)}")
        frames = torch.tensor([track[i].frame for i in indices])
        seen = torch.tensor([s.frame for s in references])
        allowed = (frames[:, None] - seen[None, :]).abs() >= self.gap
        short = ~allowed.any(1)
        allowed[short] = frames[short, None] != seen[None, :]
        alone = ~allowed.any(1)  # a track of one sighting: its own original
        lone = [indices[i] for i in torch.nonzero(alone).flatten().tolist()]
        own_originals = self._embed([as_float(track[i].crop) for i in lone]) if lone else []
        others = self._others(t)
        views = self.adversary.views(list(crops))
        keys = content_keys(views)
        private = torch.ones(len(indices), dtype=torch.bool)
        for m, memo in enumerate(self.adversary.memos):
            # a crop one model matches is matched: the next models (the fused one, the slowest,
            # is last) embed only the crops every model before calls private
            rows = torch.nonzero(private).flatten()
            if not len(rows):
                break
            conc = memo(views[rows], [keys[r] for r in rows.tolist()])
            own = torch.cdist(conc, self.kept[t][m]).masked_fill(~allowed[rows], float("inf")).amin(1)
            if lone:
                originals = torch.zeros(len(indices), conc.shape[1])
                originals[alone] = own_originals[m]
                here = alone[rows]
                own[here] = (conc[here] - originals[rows][here]).norm(dim=1)
            if len(others) >= 2:
                people = torch.stack([torch.cdist(conc, self.kept[k][m]).amin(1) for k in others], 1)
            else:
                people = torch.cdist(conc, self.adversary.galleries[m].to(conc))
            top_k = self._top_k(people.shape[1]) if len(others) >= 2 else self.adversary.top_k
            rate = (own[:, None] < people).float().mean(1)
            rank = 1 + (people < own[:, None]).sum(1)
            private[rows] = (rate <= self.adversary.max_match_rate) & (rank > top_k)
        return private.tolist()

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
        verdicts = []
        for t, track in enumerate(self.tracks):
            if len(recut[t]) != len(track):
                verdicts.append([False] * len(track))
                continue
            verdicts.append(self.check(t, [as_float(recut[t][s.frame]) for s in track]))
        return verdicts

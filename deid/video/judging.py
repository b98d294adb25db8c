"""Whether each person of a video is private in every frame, by the adversary's rule.

An attacker holds other pictures of a person (not this frame's original) and searches a gallery
of people for them. Here each sighting, concealed, is checked against the track's original
appearances from other moments (references spread over the track, at least ``gap`` frames
away; in a track too short for that, its other references; a track of one sighting, against its
own original), and the gallery searched is the video's other people (the references of the
tracks seen at the same time, so certainly not the same person): the people a viewer of this
video could confuse the person with. The adversary's criteria (condition
C rate and rank) are kept, the rank scaled to the gallery's size (``top_k`` of 10 among the
adversary's 274 gallery persons is ``top_k`` of 3 among 80 video references: the same chance of
a hit). The adversary's own gallery (VIPeR persons) is not used when the
video has other people: small, blurred video people are all closer to any flat or grey crop than
sharp VIPeR persons are, so against it even a person filled in grey stays "matched" by the
condition C rate. A track seen with fewer than two others is judged against the adversary's
own gallery (strict).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import torch

from deid.adversary import Adversary
from deid.video.follow import Sighting, to_tensor
from deid.video.io import VideoReader

#: Sightings checked per call of the adversary.
_CHUNK = 48


def spread(track: Sequence[Sighting], samples: int) -> list[Sighting]:
    """Up to ``samples`` sightings evenly spaced over ``track`` (posed ones when it has any)."""
    pool = [s for s in track if s.keypoints is not None] or list(track)
    if len(pool) <= samples:
        return list(pool)
    step = (len(pool) - 1) / (samples - 1) if samples > 1 else 0
    return [pool[round(i * step)] for i in range(samples)]


def as_float(crop: torch.Tensor) -> torch.Tensor:
    """A uint8 crop ``(3, h, w)`` as float in [0, 1]."""
    return crop.float() / 255


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
        self.kept = [self._embed([as_float(s.crop) for s in refs]) for refs in self.references]
        self.originals = [self._embed([as_float(s.crop) for s in track]) for track in tracks]

    def _embed(self, crops: list[torch.Tensor]) -> list[torch.Tensor]:
        return self.adversary.embed(self.adversary.views(crops))

    def _adversary(self, t: int) -> Adversary:
        """The adversary whose galleries are the references of the tracks seen at the same time
        as track ``t``: certainly other people (a track seen only at other times may be the
        same person, followed in pieces, and would make the verdict milder)."""
        first, last = self.tracks[t][0].frame, self.tracks[t][-1].frame
        return self._searching(
            [
                k
                for k, track in enumerate(self.tracks)
                if k != t and track[0].frame <= last and track[-1].frame >= first
            ]
        )

    def _searching(self, tracks: list[int]) -> Adversary:
        """The adversary with the references of ``tracks`` for its galleries (its own galleries
        when fewer than two), ``top_k`` scaled to their size."""
        if len(tracks) < 2:
            return self.adversary
        galleries = [
            torch.cat([self.kept[k][m] for k in tracks]) for m in range(len(self.adversary.galleries))
        ]
        # the same chance of a rank-k hit as the adversary's rule has with its own gallery
        top_k = max(1, round(self.adversary.top_k * len(galleries[0]) / len(self.adversary.galleries[0])))
        judge = replace(self.adversary, galleries=galleries, top_k=top_k)
        judge.cache.update(self.adversary.cache)
        return judge

    def loop_adversary(self) -> Adversary:
        """The adversary the conceal loop decides with: every track's references for its
        galleries (a person's own among them, which only makes the loop's verdict milder: the
        judge, without them, has the last word)."""
        return self._searching(list(range(len(self.tracks))))

    def check(
        self, t: int, crops: Sequence[torch.Tensor], indices: Sequence[int] | None = None
    ) -> list[bool]:
        """Whether each concealed crop of track ``t`` is private: ``crops`` are its sightings in
        order, or those at ``indices`` (each sighting is judged on its own)."""
        track, references = self.tracks[t], self.references[t]
        indices = list(range(len(track))) if indices is None else list(indices)
        if len(indices) != len(crops):
            raise ValueError(f"crops must be one per index ({len(indices)}), got {len(crops)}")
        adversary = self._adversary(t)
        concealed = self._embed(list(crops))
        private: list[bool] = []
        for begin in range(0, len(indices), _CHUNK):
            rows: list[tuple[int, int]] = []  # (row, -1): the sighting's own; (row, r): reference r
            groups: list[int] = []
            for g, j in enumerate(range(begin, min(begin + _CHUNK, len(indices)))):
                frame = track[indices[j]].frame
                far = [r for r, s in enumerate(references) if abs(s.frame - frame) >= self.gap]
                others = far or [r for r, s in enumerate(references) if s.frame != frame]
                rows += [(j, -1)] + [(j, r) for r in others]
                groups += [g] * (1 + len(others))
            originals = [o[indices] for o in self.originals[t]]
            verdict = adversary.check(
                [_rows(c, k, rows) for c, k in zip(concealed, self.kept[t], strict=True)],
                [_rows(o, k, rows) for o, k in zip(originals, self.kept[t], strict=True)],
                torch.tensor(groups),
            )
            private += [bool(verdict.private[k]) for k, (_, r) in enumerate(rows) if r < 0]
        return private

    def check_written(self, written: VideoReader, by_frame: Sequence[Sequence[Sighting]]) -> list[list[bool]]:
        """Per track, per sighting: private as cut from the ``written`` video (a sighting whose
        frame was not written is not private)."""
        number = {track[0].track: t for t, track in enumerate(self.tracks)}
        recut: list[dict[int, torch.Tensor]] = [{} for _ in self.tracks]
        for frame in written:
            if frame.index >= len(by_frame):
                break
            image = to_tensor(frame.pixels)
            for s in by_frame[frame.index]:
                recut[number[s.track]][s.frame] = image[
                    :, s.box.y : s.box.y + s.box.h, s.box.x : s.box.x + s.box.w
                ]
        verdicts = []
        for t, track in enumerate(self.tracks):
            if len(recut[t]) != len(track):
                verdicts.append([False] * len(track))
                continue
            verdicts.append(self.check(t, [recut[t][s.frame] for s in track]))
        return verdicts


def _rows(own: torch.Tensor, references: torch.Tensor, rows: list[tuple[int, int]]) -> torch.Tensor:
    """The embeddings of ``rows``: a sighting's own (``r < 0``) or reference ``r``'s."""
    return torch.stack([own[i] if r < 0 else references[r] for i, r in rows])

"""The video judge: each sighting against the track's other moments and the people seen with it."""

from __future__ import annotations

import pytest
import torch

from deid.adversary import Adversary
from deid.boxes import Box
from deid.video.follow import Sighting
from deid.video.io import as_float
from deid.video.judging import Judge
from tests.conftest import TinyEmbedder


class _Slow(TinyEmbedder):
    """A member without gradients (as LOMO + XQDA), asked last."""

    differentiable = False


def _tracks(generator: torch.Generator) -> list[list[Sighting]]:
    """Four people seen together in frames 0-11, each a random crop a frame."""
    box = Box(0, 0, 48, 128)
    return [
        [
            Sighting(
                frame,
                track,
                box,
                torch.ones(128, 48, dtype=torch.bool),
                None,
                "found",
                torch.randint(0, 256, (3, 128, 48), generator=generator, dtype=torch.uint8),
            )
            for frame in range(12)
        ]
        for track in range(4)
    ]


@pytest.mark.parametrize("seed", range(4))
def test_the_slow_member_is_asked_only_about_sightings_the_others_find_private(seed: int) -> None:
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    fast, slow = TinyEmbedder().eval(), _Slow().eval()
    gallery = torch.rand(12, 3, 128, 48, generator=generator)
    galleries = [fast(gallery).detach(), slow(gallery).detach()]
    tracks = _tracks(generator)
    judge = Judge(tracks, Adversary([slow, fast], galleries[::-1], top_k=2), references=3, gap=4)
    # the track's own crops (matched, likely) and noise (private, perhaps)
    crops = [
        as_float(s.crop) if i % 2 else torch.rand(3, 128, 48, generator=generator)
        for i, s in enumerate(tracks[0])
    ]
    memo = judge.adversary.memos[0]  # the slow member's
    before = memo.hits + memo.misses
    verdicts = judge.check(0, crops)
    asked = memo.hits + memo.misses - before
    each = [
        Judge(tracks, Adversary([model], [g], top_k=2), references=3, gap=4).check(0, crops)
        for model, g in ((fast, galleries[0]), (slow, galleries[1]))
    ]
    assert verdicts == [a and b for a, b in zip(*each, strict=True)]
    assert asked == sum(each[0])

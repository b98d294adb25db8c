"""The judge of a video's sightings: private only if every model of the adversary says so, and a
model after one that already matches a crop does not embed it."""

from __future__ import annotations

import torch

from deid.adversary import Adversary
from deid.boxes import Box
from deid.video.follow import Sighting
from deid.video.judging import Judge, batches
from reid_model import embed
from tests.conftest import TinyEmbedder
from tests.deid.video.conftest import sighting


def _tracks() -> list[list[Sighting]]:
    """Six people seen together over 30 frames, each in a grey level of their own (0, 0.2, ...,
    1) with noise."""
    g = torch.Generator().manual_seed(0)
    tracks = []
    for person in range(6):
        colour = torch.full((3, 1, 1), person / 5)
        track = []
        for frame in range(30):
            pixels = (colour + 0.3 * torch.rand(3, 64, 24, generator=g)).clamp(0, 1)
            track.append(sighting(frame, person, Box(30 * person, 0, 24, 64), pixels))
        tracks.append(track)
    return tracks


def _model(seed: int) -> TinyEmbedder:
    torch.manual_seed(seed)
    return TinyEmbedder().eval()


def test_a_crop_is_private_only_if_every_model_says_so_and_a_matched_one_is_not_embedded_again() -> None:
    tracks = _tracks()
    models = [_model(1), _model(2)]
    gallery = torch.rand(20, 3, 128, 48, generator=torch.Generator().manual_seed(3))
    galleries = [embed(m, gallery) for m in models]
    both = Judge(tracks, Adversary(models, galleries, top_k=1), references=4, gap=10)
    alone = [
        Judge(tracks, Adversary([m], [gl], top_k=1), references=4, gap=10)
        for m, gl in zip(models, galleries, strict=True)
    ]
    seen = []
    for t, track in enumerate(tracks):
        # half the sightings as they are (matched by their own references), half in the look of
        # the person of the opposite grey (private for those at the ends)
        other = tracks[len(tracks) - 1 - t]
        crops = [(s if i % 2 else other[i]).crop.float() / 255 for i, s in enumerate(track)]
        first, second = (judge.check(t, crops) for judge in alone)
        misses = both.adversary.memos[1].misses
        verdicts = both.check(t, crops)
        assert verdicts == [a and b for a, b in zip(first, second, strict=True)]
        # the second model embedded only the crops the first calls private (none twice: remembered)
        assert both.adversary.memos[1].misses - misses <= sum(first)
        seen += verdicts
    assert any(seen) and not all(seen)


def test_the_references_of_every_track_are_embedded_in_one_batch_each_kept_per_track() -> None:
    tracks = _tracks()
    model = _model(1)
    gallery = embed(model, torch.rand(20, 3, 128, 48, generator=torch.Generator().manual_seed(3)))
    adversary = Adversary([model], [gallery], top_k=1)
    batches: list[int] = []
    model.register_forward_hook(lambda _m, inputs, _out: batches.append(len(inputs[0])))
    judge = Judge(tracks, adversary, references=4, gap=10)
    assert len(batches) == 1  # one forward pass for the references of the 6 tracks (as many before)
    for refs, kept in zip(judge.references, judge.kept, strict=True):
        alone = embed(model, adversary.views([s.crop.float() / 255 for s in refs]))
        assert torch.allclose(kept[0], alone, atol=1e-5)
    assert Judge([], adversary, references=4, gap=10).kept == []


def test_tracks_judged_together_get_each_track_alone_s_verdicts_in_fewer_batches() -> None:
    tracks = _tracks()
    models = [_model(1), _model(2)]
    gallery = torch.rand(20, 3, 128, 48, generator=torch.Generator().manual_seed(3))
    galleries = [embed(m, gallery) for m in models]
    asked = []
    for t, track in enumerate(tracks):
        other = tracks[len(tracks) - 1 - t]
        crops = [(s if i % 3 else other[i]).crop.float() / 255 for i, s in enumerate(track)]
        asked.append((t, crops[: 5 + t], list(range(5 + t))))
    asked.append((2, [], []))  # nothing asked of a track
    alone = Judge(tracks, Adversary(models, galleries, top_k=1), references=4, gap=10)
    one_by_one = [alone.check(t, crops, indices) for t, crops, indices in asked]
    together = Judge(tracks, Adversary(models, galleries, top_k=1), references=4, gap=10)
    batches: list[int] = []
    together.adversary.models[0].register_forward_hook(
        lambda _m, inputs, _out: batches.append(len(inputs[0]))
    )
    assert together.check_many(asked) == one_by_one
    assert len(batches) == 1  # one forward pass for every track's crops the references left
    assert any(map(any, one_by_one)) and not all(map(all, one_by_one))
    assert together.check_many([]) == []


def test_batches_are_runs_of_whole_tracks_up_to_the_limit() -> None:
    assert batches([3, 4, 2, 9, 1, 1], 8) == [slice(0, 2), slice(2, 3), slice(3, 4), slice(4, 6)]
    assert batches([], 8) == []
    assert batches([10], 8) == [slice(0, 1)]


def test_the_runs_margin_only_ever_turns_a_verdict_to_matched() -> None:
    """A run judges with the adversary's margin (the own references count as that much nearer),
    ``deid verify`` without: whatever the run calls private, the exact judge does too."""
    tracks = _tracks()
    model = _model(1)
    gallery = embed(model, torch.rand(20, 3, 128, 48, generator=torch.Generator().manual_seed(3)))
    g = torch.Generator().manual_seed(4)
    crops = []  # each sighting mixed with the person of the opposite grey
    for track, other in zip(tracks, tracks[::-1], strict=True):
        mix = torch.rand(len(track), generator=g).tolist()
        crops.append(
            [((1 - m) * s.crop + m * o.crop).float() / 255 for m, s, o in zip(mix, track, other, strict=True)]
        )
    verdicts = {}
    for margin in (0.0, 0.3):
        judge = Judge(tracks, Adversary([model], [gallery], top_k=1, margin=margin), references=4, gap=10)
        verdicts[margin] = [v for t in range(len(tracks)) for v in judge.check(t, crops[t])]
    exact, run = verdicts[0.0], verdicts[0.3]
    assert all(e for e, r in zip(exact, run, strict=True) if r)
    assert 0 < sum(run) < sum(exact)

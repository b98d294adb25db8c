"""The default wiring: the run's ConcealConfig reaches the loop whole, the loop's results compose."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import deid.loop.search
from deid import Adversary, BatchConfig, ConcealConfig
from deid.batch import BatchError
from deid.batch.results import CropResult, crop_outcome
from deid.batch.wiring import build_adversary, person_concealer
from deid.loop.results import PersonResult
from reid_model import embed


def test_the_loop_gets_the_runs_concealconfig_and_its_results_are_composed(monkeypatch, tiny_embedder):
    loop = ConcealConfig(grid=(8, 3), first_cells=4, budget=2, refine=False, seed=3)
    config = BatchConfig(inputs=("in",), output="out", loop=loop, progress=False)
    gallery = embed(tiny_embedder, torch.rand(6, 3, 128, 48, generator=torch.Generator().manual_seed(1)))
    adversary = Adversary([tiny_embedder], [gallery])
    people = [[torch.rand(3, 128, 48, generator=torch.Generator().manual_seed(i))] for i in range(2)]
    calls = []

    def conceal_people(batch, **options):
        calls.append(options)
        return [
            PersonResult(
                images=[torch.zeros_like(image) for image in person],
                mask=torch.ones(1, 128, 48),
                steps=2,
                success=i == 0,
                fallback=i == 1,
                fallback_operator=None,
                area=0.75,
                scores_before={"match_rate": 1.0, "rank": 1.0},
                scores_after={"match_rate": 0.1, "rank": 40.0},
                outfit={"top": [0.1, 0.2, 0.3], "bottom": [0.4, 0.5, 0.6], "pattern": "plain"},
                encoded=[b"bytes"] * len(person),
            )
            for i, person in enumerate(batch)
        ]

    monkeypatch.setattr(deid.loop.search, "conceal_people", conceal_people)
    results = person_concealer(config, adversary)(people, [[Path("a.png")], [Path("b.png")]])
    assert calls and all(call["config"] is loop for call in calls)  # whole, not rebuilt field by field
    first, second = results[0][0], results[1][0]
    assert isinstance(first, CropResult) and first.success is True and second.success is False
    assert first.encoded == b"bytes" and first.person.mask is not None  # the loop's own result
    fields = crop_outcome(second)
    assert fields["success"] is False and fields["fallback"] is True and fields["area"] == 0.75
    assert fields["outfit"] == {"top": [0.1, 0.2, 0.3], "bottom": [0.4, 0.5, 0.6], "pattern": "plain"}
    assert fields["steps"] == 2
    assert "still matches" in fields["note"]


def test_the_default_adversary_is_the_strong_one_fast_drops_the_fused_model_a_wrong_name_is_refused():
    default = build_adversary(BatchConfig(inputs=("in",), output="out"))
    fast = build_adversary(BatchConfig(inputs=("in",), output="out", adversary="fast", top_k=5))
    assert [m.arch for m in default.models] == ["stripe", "color_stripes", "fused"]
    assert [m.arch for m in fast.models] == ["stripe", "color_stripes"] and fast.top_k == 5
    with pytest.raises(BatchError, match=r"adversary must be one of \['strong', 'fast'\], got 'weak'"):
        BatchConfig(inputs=("in",), output="out", adversary="weak")

"""The privacy audit: metrics against brute force, baselines, end to end on tiny data."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from deid.adversary import Adversary
from deid.audit import (
    Attacker,
    adaptive_attacker,
    format_table,
    handcrafted_attacker,
    model_attacker,
    run_audit,
    write_report,
)
from deid.audit.concealers import BASELINES, Concealer, LoopConcealer, MaskConcealer, baseline_concealers
from deid.audit.table import COLUMNS
from deid.loop import LINKS
from reid_model import HandcraftedMatcher, Split, embed, load_images, load_viper


@pytest.mark.parametrize("name", BASELINES)
def test_baselines_keep_shape_and_range_and_report_their_mask(name):
    images = [torch.rand(3, 128, 48), torch.rand(3, 128, 48)]
    concealed, mask = baseline_concealers()[name](images)
    assert isinstance(concealed, torch.Tensor) and isinstance(mask, torch.Tensor)
    assert concealed.shape == (2, 3, 128, 48) and mask.shape == (2, 1, 128, 48)
    assert float(concealed.min()) >= 0 and float(concealed.max()) <= 1
    untouched = mask == 0
    assert torch.equal(
        concealed[untouched.expand_as(concealed)],
        torch.stack(images)[untouched.expand_as(concealed)],
    )
    expected_area = 21 / 128 if name == "head_blur" else 1.0
    assert float(mask.mean()) == pytest.approx(expected_area)
    if name == "blackout":
        assert float(concealed.abs().max()) == 0.0


def test_mask_concealer_handles_appearances_of_different_sizes():
    concealer = MaskConcealer(lambda x, m: x * (1 - m), region="head", head_fraction=0.25)
    images, masks = concealer([torch.rand(3, 128, 48), torch.rand(3, 64, 32)])
    assert [tuple(i.shape) for i in images] == [(3, 128, 48), (3, 64, 32)]
    assert [float(m.mean()) for m in masks] == [0.25, 0.25]
    with pytest.raises(ValueError, match="region must be one of"):
        MaskConcealer(lambda x, m: x, region="feet")


def _fake_data(n_persons=6, seed=0):
    """Persons in two cameras with distinct clothing colours: an attacker finds them easily."""
    g = torch.Generator().manual_seed(seed)
    colours = torch.rand(n_persons, 3, 2, 1, generator=g)
    base = colours.repeat_interleave(64, dim=2).expand(-1, -1, -1, 48).repeat_interleave(2, dim=0)
    images = (base + 0.05 * torch.randn(2 * n_persons, 3, 128, 48, generator=g)).clamp(0, 1)
    from reid_model import Sample

    samples = [Sample(f"p{p}_c{c}.png", p, c) for p in range(n_persons) for c in range(2)]
    return samples, images


class HalfGrey:
    """A stand-in for the conceal loop: greys the lower half and says whether it fell back."""

    def __call__(self, images):
        stacked = torch.stack(list(images))
        mask = torch.zeros(1, 128, 48)
        mask[:, 64:] = 1
        from types import SimpleNamespace

        return SimpleNamespace(images=list(stacked * (1 - mask) + 0.5 * mask), mask=mask, fallback=False)


def test_audit_end_to_end_on_synthetic_persons(tiny_embedder, tmp_path):
    samples, images = _fake_data(8)
    split = Split("toy", 0, train=(0, 1, 2, 3), test=(4, 5, 6, 7))
    train_idx = [i for i, s in enumerate(samples) if s.person_id in split.train]
    matcher = HandcraftedMatcher(metric="pca", pca_dim=6).fit(
        images[train_idx], [samples[i].person_id for i in train_idx]
    )
    attackers = [
        model_attacker(tiny_embedder, name="tiny"),
        handcrafted_attacker(matcher),
        Attacker("pixels", distance_fn=lambda q, g: torch.cdist(q.flatten(1), g.flatten(1))),
        adaptive_attacker(tiny_embedder, epochs=1, persons_per_batch=2),
    ]
    concealers: dict[str, Concealer] = {
        "blackout": baseline_concealers()["blackout"],
        "head_blur": baseline_concealers()["head_blur"],
        "half_grey": HalfGrey(),
    }
    lines: list[str] = []
    rows = run_audit(concealers, samples, split, attackers, images=images, log=lines.append)
    assert len(rows) == 3 * 4 and all(tuple(r) == COLUMNS for r in rows)
    by = {(r["method"], r["attacker"]): r for r in rows}
    assert lines and lines[0].startswith("blackout")
    for r in rows:
        assert (
            r["persons"] == 4 and r["rank1_chance"] == pytest.approx(0.25) and r["seed_error_chance"] == 0.5
        )
        assert 0 <= r["rank1"] <= 1 and 0 <= r["mAP"] <= 1 and 0 <= r["seed_error"] <= 1
    # the hand-crafted matcher finds every original; blackout takes everything away
    assert by[("blackout", "handcrafted")]["rank1_before"] == 1.0
    assert by[("blackout", "pixels")]["area"] == 1.0 and by[("blackout", "pixels")]["ssim"] == pytest.approx(
        0, abs=0.05
    )
    assert by[("blackout", "pixels")]["c2c_rank1"] == pytest.approx(0.25)  # all concealed crops tie
    assert by[("half_grey", "pixels")]["area"] == 0.5 and by[("half_grey", "pixels")]["fallback_rate"] == 0.0
    assert by[("half_grey", "pixels")]["psnr_untouched"] == 100.0  # identical untouched half, capped
    assert np.isnan(by[("head_blur", "pixels")]["fallback_rate"])
    assert by[("head_blur", "handcrafted")]["rank1"] == 1.0  # the head is not what identifies them
    # the concealed crops keep the consistent half: concealed-to-concealed still matches
    assert by[("half_grey", "pixels")]["c2c_rank1"] == 1.0

    paths = write_report(rows, tmp_path / "report", metadata={"note": "toy"})
    payload = json.loads(paths["json"].read_text())
    assert payload["metadata"] == {"note": "toy"} and len(payload["rows"]) == 12
    assert payload["rows"][0]["fallback_rate"] is None  # NaN is written as null
    assert paths["csv"].read_text().splitlines()[0] == ",".join(COLUMNS)
    assert paths["png"].read_bytes()[:4] == b"\x89PNG"
    table = format_table(rows)
    assert "half_grey" in table and len(table.splitlines()) == 13


def test_audit_with_the_conceal_loop_on_a_tiny_adversary(tiny_embedder):
    samples, images = _fake_data(4, seed=1)
    split = Split("toy", 0, train=(0, 1), test=(2, 3))
    gallery = embed(tiny_embedder, images[:4])
    adversary = Adversary([tiny_embedder], [gallery], top_k=1)
    loop = LoopConcealer(adversary=adversary, operator="fill", budget=1, grid=(4, 2))
    rows = run_audit(
        {"loop_fill": loop},
        samples,
        split,
        [model_attacker(tiny_embedder)],
        images=images,
        detector=False,
    )
    assert len(rows) == 1 and 0 < rows[0]["area"] <= 1
    assert 0.0 <= rows[0]["fallback_rate"] <= 1.0
    assert np.isnan(rows[0]["detected"])


@pytest.mark.parametrize(("target", "fallback_rate"), [("hopeless", 1.0), ("lenient", 0.0)])
def test_audit_fallback_rate_is_the_loops(tiny_embedder, target, fallback_rate):
    """A gallery nobody can beat sends every person to the fallback; a lenient target, nobody."""
    samples, images = _fake_data(4, seed=1)
    split = Split("toy", 0, train=(0, 1), test=(2, 3))
    if target == "hopeless":  # a million units away: the original always beats every negative
        adversary = Adversary([tiny_embedder], [embed(tiny_embedder, images[:4]) + 1e6], top_k=1)
    else:  # each appearance is in the gallery itself, so C never holds for all of it
        adversary = Adversary([tiny_embedder], [embed(tiny_embedder, images)], max_match_rate=0.99, top_k=0)
    loop = LoopConcealer(adversary=adversary, operator="fill", budget=1, grid=(4, 2), seed=0, head="keep")
    rows = run_audit(
        {"loop_fill": loop}, samples, split, [model_attacker(tiny_embedder)], images=images, detector=False
    )
    assert rows[0]["fallback_rate"] == fallback_rate
    assert rows[0]["area"] == (1.0 if target == "hopeless" else 0.0)


class FreshColour:
    """A stand-in for the loop's outfits: each call paints its person in a colour of its own."""

    def __init__(self) -> None:
        self.generator = torch.Generator().manual_seed(0)
        self.calls: list[int] = []

    def __call__(self, images):
        self.calls.append(len(images))
        colour = torch.rand(3, 1, 1, generator=self.generator)
        return [colour.expand(3, 128, 48).clone() for _ in images], torch.ones(1, 128, 48)


def test_audit_link_none_conceals_each_appearance_alone_and_measures_the_linking_rate():
    samples, images = _fake_data(8)
    split = Split("toy", 0, train=(0, 1, 2, 3), test=(4, 5, 6, 7))
    pixels = Attacker("pixels", distance_fn=lambda q, g: torch.cdist(q.flatten(1), g.flatten(1)))
    rates = {}
    for link in LINKS:
        concealer = FreshColour()
        (row,) = run_audit(
            {"fresh": concealer}, samples, split, [pixels], images=images, detector=False, link=link
        )
        assert concealer.calls == ([2] * 4 if link == "track" else [1] * 8)
        rates[link] = row["c2c_rank1"]
    # one colour per person: followed under the pseudonym; a colour per appearance: not
    assert rates["track"] == 1.0 and rates["none"] < 0.5
    with pytest.raises(ValueError, match="link must be one of"):
        run_audit({"fresh": FreshColour()}, samples, split, [pixels], images=images, link="person")


def test_audit_bad_input(tiny_embedder):
    samples, images = _fake_data(4)
    split = Split("toy", 0, train=(0, 1), test=(2, 3))
    attacker = model_attacker(tiny_embedder)
    with pytest.raises(ValueError, match="distinct names"):
        run_audit(
            {"b": baseline_concealers()["blur"]},
            samples,
            split,
            [attacker, attacker],
            images=images,
        )
    with pytest.raises(ValueError, match="at least one concealer"):
        run_audit({}, samples, split, [attacker], images=images)
    wrong = {"crop": lambda person: (torch.stack(list(person))[..., :64, :], torch.zeros(1, 64, 48))}
    with pytest.raises(ValueError, match="method 'crop' must return images of shape"):
        run_audit(wrong, samples, split, [attacker], images=images, detector=False)


@pytest.mark.viper
@pytest.mark.slow
def test_baseline_audit_on_viper_test_persons(viper_root):
    samples = load_viper(viper_root)
    from reid_model import seed_split, select

    split = seed_split(range(632), seed=0)
    train = select(samples, split.train)
    matcher = HandcraftedMatcher().fit(load_images([s.path for s in train]), [s.person_id for s in train])
    rows = run_audit(
        {k: v for k, v in baseline_concealers().items() if k in ("blackout", "head_blur")},
        samples,
        split,
        [handcrafted_attacker(matcher)],
    )
    by = {r["method"]: r for r in rows}
    assert by["blackout"]["rank1"] <= 2 * by["blackout"]["rank1_chance"]
    # face/head blur leaves the person re-identifiable by clothes (measured 41.7% rank-1)
    assert by["head_blur"]["rank1"] > 10 * by["head_blur"]["rank1_chance"]

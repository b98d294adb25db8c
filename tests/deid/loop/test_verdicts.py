"""A verdict is never a default: it travels from the loop to the report, and every model must be beaten.

Each test here guards one way an identifiable person could be reported private: a result type
that defaults to success, a verdict dropped between the loop and the batch record, a frame scored
private when only some of its people are, and an ensemble verdict that forgets one of its models.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
from pathlib import Path

import pytest
import torch

from deid import Adversary, ConcealConfig
from deid.batch import BatchConfig, CropResult, run_batch
from deid.batch.report import Record
from deid.batch.wiring import person_concealer
from deid.loop import FrameResult, PersonResult
from reid_model import (
    color_gallery,
    default_gallery,
    embed,
    fused_gallery,
    load_bundled,
    load_color_matcher,
    load_default,
    read_image,
)
from tests.conftest import REPO, TinyEmbedder
from tests.deid.conftest import write_crop

EXAMPLES = REPO / "examples" / "images"


def _records(summary) -> dict[str, dict]:
    data = json.loads(summary.report_json.read_text())
    return {Path(r["input"]).name: r for r in data["records"]}


# ----------------------------------------------------------------------------- no success defaults


@pytest.mark.parametrize("kind", [PersonResult, Record])
def test_no_result_type_defaults_to_success(kind):
    success = next(f for f in dataclasses.fields(kind) if f.name == "success")
    default = success.default
    assert default is dataclasses.MISSING or default is None, (
        f"{kind.__name__}.success defaults to {default!r}"
    )
    assert success.default_factory is dataclasses.MISSING


def test_a_crop_result_needs_a_verdict():
    assert inspect.signature(CropResult.of).parameters["success"].default is inspect.Parameter.empty
    with pytest.raises(TypeError, match="success"):
        CropResult.of(image=torch.zeros(3, 8, 4))  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="success must be True or False, got None"):
        CropResult.of(torch.zeros(3, 8, 4), success=None)  # type: ignore[arg-type]


def test_a_crop_result_is_its_persons_appearance_and_verdict():
    """The batch's result composes the loop's: image, bytes, attribution and verdict are the person's."""
    person = dataclasses.replace(
        _person_result(True),
        images=[torch.zeros(3, 8, 4), torch.ones(3, 8, 4)],
        encoded=[b"a", b"b"],
        attributions=torch.rand(2, 1, 128, 48),
    )
    second = CropResult(person, 1, "grouped")
    assert second.image is person.images[1] and second.encoded == b"b" and second.success is True
    assert person.attributions is not None and torch.equal(second.attribution, person.attributions[1])
    flagged = second.not_private("; matched")
    assert flagged.success is False and flagged.group_reason == "grouped; matched"
    assert person.success is True  # the loop's result is not changed
    with pytest.raises(ValueError, match="index must name one of the person's 2 appearances, got 2"):
        CropResult(person, 2)


def test_a_conceal_returning_no_verdict_fails_the_file(tmp_path):
    write_crop(tmp_path / "in" / "a.png", seed=0)

    def conceal_group(images, paths):
        return [{"image": image} for image in images]  # no "success": not private by default

    config = BatchConfig(inputs=(str(tmp_path / "in"),), output=str(tmp_path / "out"), progress=False)
    summary = run_batch(config, conceal_group=conceal_group)
    record = _records(summary)["a.png"]
    assert record["status"] == "failed" and "verdict" in record["error"]
    assert summary.exit_code == 1 and not (tmp_path / "out" / "a.png").exists()


def _person(seed: int) -> torch.Tensor:
    return torch.rand(3, 128, 48, generator=torch.Generator().manual_seed(seed))


def _hopeless_adversary() -> Adversary:
    """A gallery a million units away: no concealment can push the original below a negative."""
    torch.manual_seed(0)
    model = TinyEmbedder().eval()
    gallery = embed(model, torch.rand(6, 3, 128, 48, generator=torch.Generator().manual_seed(1))) + 1e6
    return Adversary([model], [gallery])


def test_the_loop_verdict_reaches_the_batch_record(tmp_path):
    """The person concealer hands the loop's failure on; it is not turned into a success."""
    for name, seed in (("a.png", 1), ("b.png", 2)):
        write_crop(tmp_path / "in" / name, seed=seed)
    config = BatchConfig(
        inputs=(str(tmp_path / "in"),),
        output=str(tmp_path / "out"),
        progress=False,
        loop=ConcealConfig(budget=1),
    )
    conceal_batch = person_concealer(config, _hopeless_adversary())
    results = conceal_batch([[_person(1)], [_person(2)]], [[Path("a.png")], [Path("b.png")]])
    assert [r.success for person in results for r in person] == [False, False]
    summary = run_batch(config, conceal_batch=conceal_batch)
    records = _records(summary)
    for name in ("a.png", "b.png"):
        assert records[name]["status"] == "ok" and records[name]["success"] is False
        assert records[name]["fallback"] is True and "still matches" in records[name]["note"]
        # which of the fallback's treatments the person was left with, named in the record
        treatment = records[name]["treatment"]
        assert (
            isinstance(treatment["fallback_operator"], str)
            and treatment["fallback_operator"] in treatment["stopped"]
        )
    assert summary.still_matched == 2


# ----------------------------------------------------------------------------- frames: every person


def _frame_run(tmp_path, verdicts):
    frame = tmp_path / "in" / "street.png"
    write_crop(frame, seed=3, size=(200, 300))
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"street.png": [[10, 20, 40, 120], [150, 30, 40, 120]]}))
    verdict = iter(verdicts)

    def conceal_batch(people, paths):
        return [
            [CropResult.of(image=torch.zeros_like(image), success=next(verdict)) for image in person]
            for person in people
        ]

    config = BatchConfig(inputs=(str(frame),), output=str(tmp_path / "out"), boxes=str(boxes), progress=False)
    return _records(run_batch(config, conceal_batch=conceal_batch))["street.png"]


@pytest.mark.parametrize("verdicts", [(True, False), (False, True), (False, False)])
def test_a_frame_is_private_only_if_every_person_is(tmp_path, verdicts):
    record = _frame_run(tmp_path, verdicts)
    assert record["status"] == "ok" and record["persons"] == 2
    assert record["success"] is False
    boxes = ["(10, 20, 40, 120)", "(150, 30, 40, 120)"]
    note = record["note"].split("still matches the ", 1)[1]
    assert all(box in note for box, ok in zip(boxes, verdicts, strict=True) if not ok)


def test_a_frame_of_private_people_is_private(tmp_path):
    record = _frame_run(tmp_path, (True, True))
    assert record["success"] is True and "still matches" not in record["note"]


def _person_result(success: bool) -> PersonResult:
    return PersonResult(
        images=[torch.zeros(3, 8, 4)],
        mask=torch.zeros(1, 128, 48),
        steps=0,
        success=success,
        fallback=False,
        fallback_operator=None,
        area=0.0,
        scores_before={},
        scores_after={},
    )


@pytest.mark.parametrize(
    ("people", "detected", "private"),
    [
        ([True, True], True, True),
        ([True, False], True, False),
        ([False, True], True, False),
        ([False, False], True, False),
        ([], True, False),  # nobody found: not private, whatever all([]) says
        ([True], False, False),
    ],
)
def test_frame_result_success_needs_every_person(people, detected, private):
    frame = FrameResult(torch.zeros(3, 8, 4), [_person_result(s) for s in people], [], detected)
    assert frame.success is private


# ----------------------------------------------------------------------------- the ensemble verdict


def _by_hand(per_model, groups, max_match_rate, top_k):
    """Verdict per appearance, by explicit loops over models, pairs and gallery items.

    ``per_model`` holds ``(concealed, originals, gallery)`` lists of 1-D embeddings per model. A
    concealed appearance is paired with every other appearance of its person, or with its own
    original when it is alone; it is private when no model matches it to any of its originals.
    """
    n = len(groups)
    private = []
    for a in range(n):
        partners = [b for b in range(n) if groups[b] == groups[a] and b != a] or [a]
        ok = True
        for concealed, originals, gallery in per_model:
            for b in partners:
                d_pos = float(torch.linalg.vector_norm(concealed[a] - originals[b]))
                d_negs = [float(torch.linalg.vector_norm(concealed[a] - g)) for g in gallery]
                rate = sum(1 for d in d_negs if d_pos < d) / len(d_negs)
                rank = 1 + sum(1 for d in d_negs if d < d_pos)
                if rate > max_match_rate or rank <= top_k:
                    ok = False
        private.append(ok)
    return private


def test_every_model_of_the_ensemble_must_be_defeated():
    """One model fooled and one not: the ensemble says matched; the verdict is brute-forced by hand."""
    g = torch.Generator().manual_seed(0)
    groups = [0, 0, 1]
    line = torch.nn.functional.pad(torch.tensor([[100.0], [101.0], [102.0]]), (0, 3))
    originals = [line, torch.randn(3, 6, generator=g)]
    gallery_line = torch.nn.functional.pad(torch.arange(1.0, 13.0)[:, None], (0, 3))
    galleries = [gallery_line, torch.randn(12, 6, generator=g)]
    # Model 0: the concealed images sit at 0, every negative nearer than the originals (fooled).
    fooled = torch.zeros(3, 4)
    # Model 1: each concealed image sits on its partner's original (matched, rank 1).
    matched = originals[1][[1, 0, 2]].clone()
    models = [TinyEmbedder(), TinyEmbedder()]
    for model, gallery in zip(models, galleries, strict=True):
        model.embedding_dim = gallery.shape[1]
    adversary = Adversary(models, galleries, max_match_rate=0.5, top_k=2)
    concealed = [fooled, matched]
    check = adversary.check(concealed, originals, torch.tensor(groups))
    per_model = list(zip(concealed, originals, galleries, strict=True))
    assert _by_hand(per_model[:1], groups, 0.5, 2) == [True, True, True]  # model 0 alone: fooled
    assert _by_hand(per_model[1:], groups, 0.5, 2) == [False, False, False]  # model 1 alone: matched
    assert check.private.tolist() == _by_hand(per_model, groups, 0.5, 2) == [False, False, False]


@pytest.mark.parametrize("seed", range(3))
def test_ensemble_verdict_matches_the_hand_computed_one(seed):
    g = torch.Generator().manual_seed(seed)
    groups = [0, 0, 1, 2, 2, 2]
    widths = (5, 7)
    originals = [torch.randn(6, w, generator=g) for w in widths]
    concealed = [o + torch.randn(o.shape, generator=g) * (0.6 + 0.5 * i) for i, o in enumerate(originals)]
    galleries = [torch.randn(15, w, generator=g) for w in widths]
    models = [TinyEmbedder(), TinyEmbedder()]
    for model, w in zip(models, widths, strict=True):
        model.embedding_dim = w
    adversary = Adversary(models, galleries, max_match_rate=0.5, top_k=3)
    check = adversary.check(concealed, originals, torch.tensor(groups))
    per_model = list(zip(concealed, originals, galleries, strict=True))
    assert check.private.tolist() == _by_hand(per_model, groups, 0.5, 3)


@pytest.mark.parametrize("strong", [False, True])
def test_the_bundled_adversary_is_the_network_the_colour_matcher_and_if_strong_the_fused_model(strong):
    """The bundled verdict, recomputed by hand from each bundled model and its gallery."""
    adversary = Adversary.default(fused=strong)
    models = [load_default(), load_color_matcher()] + ([load_bundled("fused")] if strong else [])
    galleries = [default_gallery()[0], color_gallery()[0]] + ([fused_gallery()[0]] if strong else [])
    assert len(adversary.models) == len(models)
    assert [type(m).__name__ for m in adversary.models] == [type(m).__name__ for m in models]
    names = ("cam_a/001_45.bmp", "cam_b/001_90.bmp", "cam_a/014_0.bmp")
    originals = torch.stack([read_image(EXAMPLES / n) for n in names])
    # Candidates that fool one model but maybe not the other: grey, colour kept, shapes kept.
    grey = originals.mean(1, keepdim=True).expand(-1, 3, -1, -1).contiguous()
    shuffled = originals[:, :, torch.randperm(128, generator=torch.Generator().manual_seed(0))]
    flat = originals.mean(dim=(2, 3), keepdim=True).expand_as(originals).contiguous()
    candidates = [originals, grey, shuffled, flat]
    stacked = torch.cat(candidates)
    mine = [(embed(m, stacked).split(3), embed(m, originals)) for m in models]
    theirs = adversary.embed(stacked)
    target = (adversary.max_match_rate, adversary.top_k)
    groups = [0, 0, 1]
    originals_seen = adversary.embed(originals)
    seen = set()
    for c in range(len(candidates)):
        per_model = [(conc[c], orig, gal) for (conc, orig), gal in zip(mine, galleries, strict=True)]
        check = adversary.check([t.split(3)[c] for t in theirs], originals_seen, torch.tensor(groups))
        alone = [_by_hand([pm], groups, *target) for pm in per_model]  # each model on its own
        every = [all(verdicts) for verdicts in zip(*alone, strict=True)]
        assert check.private.tolist() == every == _by_hand(per_model, groups, *target)
        seen.update(zip(*alone, strict=True))
    # The candidates include one that some models call private and another does not.
    assert any(len(set(verdicts)) == 2 for verdicts in seen), seen

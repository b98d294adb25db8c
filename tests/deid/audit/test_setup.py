"""Setting an audit up by name: split, concealers, attackers (shared by the CLI and the benchmark)."""

from __future__ import annotations

import pytest
import torch

import deid.audit.setup as setup
from deid.audit import (
    ATTACKERS,
    BASELINES,
    AuditSetupError,
    LoopConcealer,
    MaskConcealer,
    audit_split,
    build_attackers,
    build_concealers,
    check_audited,
    choose_attackers,
    model_attacker,
)
from deid.operators import OPERATORS
from reid_model import (
    CheckpointError,
    DatasetError,
    Sample,
    Split,
    TrainConfig,
    default_metadata,
    load_checkpoint,
    load_dataset,
    load_viper,
    make_split,
    viper_protocol_splits,
)


def test_build_concealers_by_name_in_the_order_given():
    assert list(build_concealers("baselines")) == list(BASELINES)
    assert list(build_concealers("loop")) == [f"loop_{op}" for op in OPERATORS]
    methods = build_concealers(" loop_fill , blur,, ", seed=3, method="saliency", strength=0.5, device="cpu")
    assert list(methods) == ["loop_fill", "blur"]
    assert isinstance(methods["blur"], MaskConcealer)
    loop = methods["loop_fill"]
    assert isinstance(loop, LoopConcealer)
    settings = (loop.config.operator, loop.config.seed, loop.config.method, loop.config.strength)
    assert settings == ("fill", 3, "saliency", 0.5)
    assert list(build_concealers(["head_blur", "loop_pixelate"])) == ["head_blur", "loop_pixelate"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("smear", "unknown method 'smear'; expected 'baselines'"),
        ("blur,loop_smear", "operator name must be one of"),
        (" , ", "no method given"),
        ("", "no method given"),
    ],
)
def test_build_concealers_bad_names(spec, message):
    with pytest.raises(AuditSetupError, match=message) as caught:
        build_concealers(spec)
    assert caught.value.param == "methods"


def test_choose_attackers():
    assert choose_attackers(None) == (list(ATTACKERS), [])
    assert choose_attackers(None, independent_weights=None, independent_stripe_weights="") == (
        ["adversary", "fused", "handcrafted"],
        ["independent", "independent_stripe", "adaptive"],
    )
    assert choose_attackers("handcrafted, adversary") == (["handcrafted", "adversary"], [])
    assert choose_attackers(["adaptive"], independent_stripe_weights=None) == (["adaptive"], [])


@pytest.mark.parametrize(
    ("spec", "weights", "message"),
    [
        ("adversary,lomo", {}, "unknown attacker 'lomo'"),
        ("adaptive", {"independent_weights": None}, r"attackers \['adaptive'\] need independent_weights"),
        (
            "independent_stripe,independent",
            {"independent_weights": "", "independent_stripe_weights": None},
            r"need independent_stripe_weights and independent_weights",
        ),
        (",", {}, "no attacker left to run"),
    ],
)
def test_choose_attackers_bad_names(spec, weights, message):
    with pytest.raises(AuditSetupError, match=message) as caught:
        choose_attackers(spec, **weights)
    assert caught.value.param == "attackers"


def test_audit_split(fake_viper):
    samples = load_dataset(fake_viper)
    # the bundled model's split is VIPeR's 632 persons: not these 12, so the seed's proportions
    assert audit_split(samples) == make_split(TrainConfig(), samples)
    assert audit_split(samples, "viper316") == viper_protocol_splits(list(range(12)), trials=1)[0]
    with pytest.raises(AuditSetupError, match="split must be one of") as caught:
        audit_split(samples, "market")
    assert caught.value.param == "split"


def test_build_attackers_in_the_order_named(fake_viper, tiny_checkpoint, tiny_embedder, monkeypatch):
    samples = load_dataset(fake_viper)
    split = audit_split(samples)
    read: list[str] = []
    load_images = setup.load_images
    monkeypatch.setattr(setup, "load_images", lambda paths: read.extend(paths) or load_images(paths))
    names = ["handcrafted", "independent", "adaptive", "adversary"]
    attackers = build_attackers(
        names, samples, split, adversary=tiny_embedder, independent_weights=tiny_checkpoint
    )
    assert [a.name for a in attackers] == names
    assert [a.adaptive for a in attackers] == [False, False, True, False]
    # the hand-crafted matcher is fitted on the training persons' images, nobody else's
    assert sorted(read) == sorted(str(s.path) for s in samples if s.person_id in split.train)
    images = torch.rand(4, 3, 128, 48)
    by = dict(zip(names, attackers, strict=True))
    expected = model_attacker(load_checkpoint(tiny_checkpoint))(images[:2], images[2:])
    torch.testing.assert_close(by["independent"](images[:2], images[2:]), expected)
    torch.testing.assert_close(by["adaptive"](images[:2], images[2:]), expected)  # before adapting
    torch.testing.assert_close(
        by["adversary"](images[:2], images[2:]), model_attacker(tiny_embedder)(images[:2], images[2:])
    )


def test_build_attackers_bad_input(fake_viper, tmp_path):
    samples = load_dataset(fake_viper)
    split = audit_split(samples)
    with pytest.raises(AuditSetupError, match="unknown attacker 'lomo'"):
        build_attackers(["lomo"], samples, split)
    with pytest.raises(AuditSetupError, match="need independent_stripe_weights"):
        build_attackers(["independent_stripe"], samples, split, independent_stripe_weights=None)
    missing = tmp_path / "missing.safetensors"
    with pytest.raises((CheckpointError, FileNotFoundError), match="does not exist"):
        build_attackers(["independent"], samples, split, independent_weights=missing)


@pytest.mark.viper
def test_audit_split_on_viper_is_the_bundled_models(viper_root):
    split = audit_split(load_viper(viper_root))
    assert split == Split.from_dict(default_metadata()["split"])
    assert len(split.test) == 127


def test_an_audit_that_cannot_rank_is_refused_before_anything_runs():
    """A review ran the audit on a folder where one person was seen by two cameras: it failed deep
    in the triplet sampler with a traceback."""
    samples = [Sample("a0.png", 1, 0), Sample("a1.png", 1, 1), Sample("b0.png", 2, 0), Sample("c1.png", 3, 1)]
    with pytest.raises(
        DatasetError, match="at least 2 test persons seen by camera 0 and by another camera, got 1 of the 3"
    ):
        check_audited(samples, [1, 2, 3])
    check_audited([*samples, Sample("b1.png", 2, 1)], [1, 2, 3])  # persons 1 and 2: enough

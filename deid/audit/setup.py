"""Building an audit: its split, its concealers and its attackers, from names.

``deid audit`` and ``benchmarks/audit.py`` both set an audit up through these functions, so a
method or attacker name means the same thing everywhere:

- methods: ``"baselines"`` (every name in :data:`BASELINES`) or one of them, ``"loop"`` (the
  conceal loop with every operator) or ``"loop_<operator>"``;
- attackers: the names in :data:`ATTACKERS`; three of them need weights (:data:`ATTACKER_WEIGHTS`);
- split: ``"seed"`` (the bundled model's split when it fits the dataset, else the seed's
  proportions) or ``"viper316"`` (trial 0 of the 316/316 protocol).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from deid.audit.attackers import Attacker, adaptive_attacker, handcrafted_attacker, model_attacker
from deid.audit.concealers import BASELINES, Concealer, baseline_concealers, loop_concealers
from deid.operators.registry import OPERATORS, build_operator
from reid_model import (
    INDEPENDENT_STRIPE_WEIGHTS,
    INDEPENDENT_WEIGHTS,
    Embedder,
    HandcraftedMatcher,
    Sample,
    Split,
    TrainConfig,
    default_metadata,
    load_bundled,
    load_checkpoint,
    load_default,
    load_images,
    make_split,
    person_ids,
    select,
    viper_protocol_splits,
)

#: The audit's attackers, in their default order.
ATTACKERS = ("adversary", "fused", "independent", "independent_stripe", "handcrafted", "adaptive")
#: The :func:`build_attackers` argument each attacker's weights come from.
ATTACKER_WEIGHTS = {
    "independent": "independent_weights",
    "adaptive": "independent_weights",
    "independent_stripe": "independent_stripe_weights",
}
#: The audit's splits (see :func:`audit_split`).
SPLITS = ("seed", "viper316")

PathLike = str | os.PathLike[str]


class AuditSetupError(ValueError):
    """An audit cannot be set up from what was given: an unknown method, attacker or split.

    Attributes:
        param: the argument at fault (``"methods"``, ``"attackers"`` or ``"split"``).
    """

    def __init__(self, message: str, *, param: str) -> None:
        super().__init__(message)
        self.param = param


def _tokens(spec: str | Sequence[str]) -> list[str]:
    parts = spec.split(",") if isinstance(spec, str) else list(spec)
    return [t.strip() for t in parts if t.strip()]


def _given(independent: PathLike | None, stripe: PathLike | None) -> dict[str, PathLike]:
    """The weights given, by the argument they were given as."""
    weights = {"independent_weights": independent, "independent_stripe_weights": stripe}
    return {argument: path for argument, path in weights.items() if path}


def _missing_weights(names: Sequence[str], given: dict[str, PathLike], *, strict: bool) -> list[str]:
    """Check the attacker names; those whose weights are not given (an error when ``strict``)."""
    for name in names:
        if name not in ATTACKERS:
            raise AuditSetupError(
                f"unknown attacker {name!r}; expected some of {list(ATTACKERS)}", param="attackers"
            )
    missing = [n for n in names if n in ATTACKER_WEIGHTS and ATTACKER_WEIGHTS[n] not in given]
    if missing and strict:
        needed = sorted({ATTACKER_WEIGHTS[n] for n in missing})
        raise AuditSetupError(f"attackers {missing} need {' and '.join(needed)}", param="attackers")
    return missing


def audit_split(samples: Sequence[Sample], name: str = "seed") -> Split:
    """The split whose test persons an audit conceals and attacks.

    Args:
        samples: the dataset, ``Sample(path, person_id, camera_id)`` each.
        name: ``"seed"``: the bundled model's own split when its persons are exactly the
            dataset's (so the audited persons are ones the adversary never trained on), else a
            split in the seed's proportions (``reid_model.make_split``); ``"viper316"``: trial 0
            of the 316/316 protocol.

    Example:
        >>> split = audit_split(load_viper(root))  # doctest: +SKIP
        >>> len(split.test)  # doctest: +SKIP
        127
    """
    if name not in SPLITS:
        raise AuditSetupError(f"split must be one of {list(SPLITS)}, got {name!r}", param="split")
    ids = set(person_ids(samples))
    if name == "viper316":
        return viper_protocol_splits(sorted(ids), trials=1)[0]
    meta = default_metadata().get("split", {})
    if meta and set(meta["train"]) | set(meta["val"]) | set(meta["test"]) == ids:
        return Split.from_dict(meta)
    return make_split(TrainConfig(), list(samples))


def build_concealers(spec: str | Sequence[str], **loop_options: Any) -> dict[str, Concealer]:
    """The concealers named by ``spec``, by name, in the order given.

    Args:
        spec: comma-separated names (or a sequence of them): ``"baselines"`` or any of
            :data:`BASELINES`; ``"loop"`` (the loop with every operator) or ``"loop_<operator>"``.
        loop_options: for every loop concealer: :class:`deid.ConcealConfig` fields (``seed``,
            ``method``...) and ``adversary``/``device`` (see :func:`loop_concealers`).

    Raises:
        AuditSetupError: an unknown name, or none at all (``param="methods"``).

    Example:
        >>> sorted(build_concealers("blur,loop_fill", seed=0))
        ['blur', 'loop_fill']
    """
    baselines = baseline_concealers()
    methods: dict[str, Concealer] = {}
    for token in _tokens(spec):
        if token == "baselines":
            methods.update(baselines)
        elif token in baselines:
            methods[token] = baselines[token]
        elif token == "loop":
            methods.update(loop_concealers(**loop_options))
        elif token.startswith("loop_"):
            try:
                build_operator(token[5:])
            except ValueError as exc:
                raise AuditSetupError(str(exc), param="methods") from exc
            methods.update(loop_concealers([token[5:]], **loop_options))
        else:
            raise AuditSetupError(
                f"unknown method {token!r}; expected 'baselines', one of {list(BASELINES)}, 'loop' "
                f"(every operator) or 'loop_<operator>' with an operator of {sorted(OPERATORS)}",
                param="methods",
            )
    if not methods:
        raise AuditSetupError(f"no method given: methods is {spec!r}", param="methods")
    return methods


def choose_attackers(
    spec: str | Sequence[str] | None,
    *,
    independent_weights: PathLike | None = INDEPENDENT_WEIGHTS,
    independent_stripe_weights: PathLike | None = INDEPENDENT_STRIPE_WEIGHTS,
) -> tuple[list[str], list[str]]:
    """The attackers to run, and those left out because their weights are not given.

    Args:
        spec: comma-separated names of :data:`ATTACKERS` (or a sequence); None: every attacker
            whose weights are given (the others are left out, and returned as such).
        independent_weights, independent_stripe_weights: the checkpoints of the attackers that
            need weights (:data:`ATTACKER_WEIGHTS`); the bundled ones by default, None for none.

    Returns:
        ``(names, left_out)``: the names to give :func:`build_attackers`, and the attackers
        dropped for want of weights (only when ``spec`` is None).

    Raises:
        AuditSetupError: an unknown attacker, a named attacker whose weights are not given, or
            no attacker left (``param="attackers"``).

    Example:
        >>> choose_attackers(None, independent_weights=None)
        (['adversary', 'fused', 'independent_stripe', 'handcrafted'], ['independent', 'adaptive'])
    """
    names = _tokens(spec) if spec is not None else list(ATTACKERS)
    given = _given(independent_weights, independent_stripe_weights)
    missing = _missing_weights(names, given, strict=spec is not None)
    names = [n for n in names if n not in missing]
    if not names:
        raise AuditSetupError(f"no attacker left to run: attackers is {spec!r}", param="attackers")
    return names, missing


def build_attackers(
    names: Sequence[str],
    samples: Sequence[Sample],
    split: Split,
    *,
    adversary: Embedder | None = None,
    independent_weights: PathLike | None = INDEPENDENT_WEIGHTS,
    independent_stripe_weights: PathLike | None = INDEPENDENT_STRIPE_WEIGHTS,
    finetune_epochs: int = 3,
    seed: int = 0,
    device: str = "cpu",
) -> list[Attacker]:
    """The attackers named, built in the order given (the audit table's order).

    ``adversary`` embeds with the loop's adversary network; ``fused`` with the bundled network
    fused with LOMO + XQDA (the loop's strongest member); ``independent`` and
    ``independent_stripe`` with the independent checkpoints; ``handcrafted`` is LOMO + XQDA
    fitted on the split's training persons; ``adaptive`` fine-tunes the independent checkpoint
    on each method's concealed training persons. Each checkpoint is loaded once.

    Args:
        names: attacker names (:data:`ATTACKERS`), e.g. from :func:`choose_attackers`.
        samples: the dataset; split: its training persons fit ``handcrafted``.
        adversary: the loop's adversary network; ``reid_model.load_default(device=device)`` when None.
        independent_weights, independent_stripe_weights: checkpoints (``.safetensors``).
        finetune_epochs: epochs of the adaptive attacker's fine-tuning.
        seed: fixes the adaptive attacker's fine-tuning.
        device: where the networks run.

    Raises:
        AuditSetupError: an unknown name, or one whose weights are None (``param="attackers"``).
        reid_model.CheckpointError, FileNotFoundError: a checkpoint that cannot be loaded.

    Example:
        >>> split = audit_split(samples)  # doctest: +SKIP
        >>> attackers = build_attackers(["adversary", "handcrafted"], samples, split)  # doctest: +SKIP
    """
    given = _given(independent_weights, independent_stripe_weights)
    _missing_weights(names, given, strict=True)
    loaded: dict[str, Embedder] = {}

    def checkpoint(argument: str) -> Embedder:
        if argument not in loaded:
            loaded[argument] = load_checkpoint(given[argument], device=device)
        return loaded[argument]

    built: list[Attacker] = []
    for name in names:
        if name == "adversary":
            built.append(model_attacker(adversary or load_default(device=device), name="adversary"))
        elif name == "fused":
            built.append(model_attacker(load_bundled("fused", device=device), name="fused"))
        elif name == "handcrafted":
            train = select(samples, split.train)
            matcher = HandcraftedMatcher().fit(
                load_images([s.path for s in train]), [s.person_id for s in train]
            )
            built.append(handcrafted_attacker(matcher))
        elif name == "adaptive":
            built.append(
                adaptive_attacker(checkpoint(ATTACKER_WEIGHTS[name]), epochs=finetune_epochs, seed=seed)
            )
        else:
            built.append(model_attacker(checkpoint(ATTACKER_WEIGHTS[name]), name=name))
    return built

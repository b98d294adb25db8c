"""``deid audit``: conceal a split's test persons, measure how well attackers re-identify them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click
import torch

from deid.audit.attackers import Attacker, adaptive_attacker, handcrafted_attacker, model_attacker
from deid.audit.concealers import BASELINES, Concealer, LoopConcealer, baseline_concealers
from deid.audit.run import run_audit
from deid.audit.table import format_table, write_report
from deid.cli.options import dataset_option
from deid.operators.registry import OPERATORS, build_operator
from reid_model import (
    INDEPENDENT_STRIPE_WEIGHTS,
    INDEPENDENT_WEIGHTS,
    CheckpointError,
    DatasetError,
    HandcraftedMatcher,
    Sample,
    Split,
    TrainConfig,
    default_metadata,
    load_checkpoint,
    load_dataset,
    load_default,
    load_images,
    make_split,
    person_ids,
    select,
    viper_protocol_splits,
)

ATTACKERS = ("adversary", "independent", "independent_stripe", "handcrafted", "adaptive")
#: The option each attacker's weights come from.
NEEDS_WEIGHTS = {
    "independent": "--independent-weights",
    "adaptive": "--independent-weights",
    "independent_stripe": "--independent-stripe-weights",
}


def _split(samples: list[Sample], split: str) -> Split:
    """The bundled model's own split when it fits the dataset, else the seed's proportions."""
    ids = set(person_ids(samples))
    if split == "viper316":
        return viper_protocol_splits(sorted(ids), trials=1)[0]
    meta = default_metadata().get("split", {})
    if meta and set(meta["train"]) | set(meta["val"]) | set(meta["test"]) == ids:
        return Split.from_dict(meta)
    return make_split(TrainConfig(), samples)


def _methods(spec: str, device: str, seed: int) -> dict[str, Concealer]:
    baselines = baseline_concealers()
    methods: dict[str, Concealer] = {}
    for token in (t.strip() for t in spec.split(",") if t.strip()):
        if token == "baselines":
            methods.update(baselines)
        elif token in baselines:
            methods[token] = baselines[token]
        elif token == "loop":
            methods.update(
                {f"loop_{op}": LoopConcealer(operator=op, device=device, seed=seed) for op in OPERATORS}
            )
        elif token.startswith("loop_"):
            try:
                build_operator(token[5:])
            except ValueError as exc:
                raise click.BadParameter(str(exc), param_hint="--methods") from exc
            methods[token] = LoopConcealer(operator=token[5:], device=device, seed=seed)
        else:
            raise click.BadParameter(
                f"unknown method {token!r}; expected 'baselines', one of {list(BASELINES)}, 'loop' "
                f"(every operator) or 'loop_<operator>' with an operator of {sorted(OPERATORS)}",
                param_hint="--methods",
            )
    if not methods:
        raise click.BadParameter("no method given", param_hint="--methods")
    return methods


def _attacker_names(spec: str | None, weights: dict[str, str | None]) -> list[str]:
    names = [t.strip() for t in (spec or ",".join(ATTACKERS)).split(",") if t.strip()]
    for name in names:
        if name not in ATTACKERS:
            raise click.BadParameter(
                f"unknown attacker {name!r}; expected some of {list(ATTACKERS)}",
                param_hint="--attackers",
            )
    missing = [n for n in names if n in NEEDS_WEIGHTS and not weights[NEEDS_WEIGHTS[n]]]
    if missing and spec is not None:
        needed = sorted({NEEDS_WEIGHTS[n] for n in missing})
        raise click.BadParameter(f"attackers {missing} need {' and '.join(needed)}", param_hint="--attackers")
    if missing:
        click.echo(f"note: no weights given for attackers {missing}, so they are left out", err=True)
    names = [n for n in names if n not in missing]
    if not names:
        raise click.BadParameter("no attacker left to run", param_hint="--attackers")
    return names


@click.command("audit")
@click.option(
    "--data", type=click.Path(file_okay=False), default="../shared/data/viper", help="Dataset root."
)
@dataset_option
@click.option(
    "--split",
    type=click.Choice(["seed", "viper316"]),
    default="seed",
    help="seed: the bundled model's split (its test persons are audited); viper316: 316/316 trial 0.",
)
@click.option(
    "--methods",
    default="baselines,loop",
    help=(
        "Comma-separated: 'baselines' or any of blur, pixelate8, pixelate16, blackout, head_blur; "
        "'loop' (the conceal loop with every operator) or loop_<operator>, e.g. loop_pixelate."
    ),
)
@click.option(
    "--attackers",
    default=None,
    help=(
        "Comma-separated among adversary, independent, independent_stripe, handcrafted, adaptive "
        "[default: all those whose weights are given; all are bundled]."
    ),
)
@click.option(
    "--independent-weights",
    type=click.Path(dir_okay=False),
    default=str(INDEPENDENT_WEIGHTS),
    help="A reid_model checkpoint trained independently of the loop's adversary "
    "(default: the bundled seed network); also the adaptive attacker's starting point.",
)
@click.option(
    "--independent-stripe-weights",
    type=click.Path(dir_okay=False),
    default=str(INDEPENDENT_STRIPE_WEIGHTS),
    help="A second independent checkpoint (default: the bundled stripe network trained with "
    "another seed and loss).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default="runs/audit",
    help="Folder for audit.csv/json/png.",
)
@click.option(
    "--finetune-epochs",
    type=click.IntRange(min=1),
    default=3,
    help="Epochs of the adaptive attacker.",
)
@click.option(
    "--finetune-persons",
    type=click.IntRange(min=2),
    default=200,
    help="The adaptive attacker is fine-tuned on the first N training persons, concealed.",
)
@click.option(
    "--persons",
    type=click.IntRange(min=2),
    default=None,
    help="Audit only the first N test persons.",
)
@click.option("--detector/--no-detector", default=True, help="Run OpenCV's HOG people detector on the crops.")
@click.option(
    "--seed",
    type=int,
    default=0,
    help="Fixes the seed-error triplets, the loop's outfits and the fine-tuning.",
)
@click.option("--device", default="cpu")
def audit_command(
    data: str,
    dataset: str,
    split: str,
    methods: str,
    attackers: str | None,
    independent_weights: str | None,
    independent_stripe_weights: str | None,
    out: str,
    finetune_epochs: int,
    finetune_persons: int | None,
    persons: int | None,
    detector: bool,
    seed: int,
    device: str,
) -> None:
    """Audit privacy: conceal test persons, re-identify them with several attackers."""
    started = time.perf_counter()
    if Path(out).resolve().is_relative_to(Path(data).resolve()):
        raise click.BadParameter(
            f"the output folder {out} must not be inside the dataset {data}", param_hint="--out"
        )
    names = _attacker_names(
        attackers,
        {
            "--independent-weights": independent_weights,
            "--independent-stripe-weights": independent_stripe_weights,
        },
    )
    concealers = _methods(methods, device, seed)
    try:
        samples = load_dataset(data, kind=dataset)
        adversary = load_default(device=device)
        independent = load_checkpoint(independent_weights, device=device) if independent_weights else None
        stripe = (
            load_checkpoint(independent_stripe_weights, device=device) if independent_stripe_weights else None
        )
    except (CheckpointError, DatasetError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from exc
    split_obj = _split(samples, split)
    built: list[Attacker] = []
    for name in names:
        if name == "adversary":
            built.append(model_attacker(adversary, name="adversary"))
        elif name == "handcrafted":
            train = select(samples, split_obj.train)
            matcher = HandcraftedMatcher().fit(
                load_images([s.path for s in train]), [s.person_id for s in train]
            )
            built.append(handcrafted_attacker(matcher))
        elif name == "independent" and independent is not None:
            built.append(model_attacker(independent, name="independent"))
        elif name == "independent_stripe" and stripe is not None:
            built.append(model_attacker(stripe, name="independent_stripe"))
        elif name == "adaptive" and independent is not None:
            built.append(adaptive_attacker(independent, epochs=finetune_epochs, seed=seed))
    rows = run_audit(
        concealers,
        samples,
        split_obj,
        built,
        max_persons=persons,
        adapt_persons=finetune_persons,
        detector=detector,
        seed=seed,
        log=lambda line: click.echo(line, err=True),
    )
    metadata: dict[str, Any] = {
        "data": str(data),
        "split": {
            "name": split_obj.name,
            "seed": split_obj.seed,
            "test_persons": len(split_obj.test),
        },
        "attackers": names,
        "independent_weights": independent_weights,
        "independent_stripe_weights": independent_stripe_weights,
        "finetune_epochs": finetune_epochs,
        "finetune_persons": finetune_persons,
        "device": device,
        "torch_threads": torch.get_num_threads(),
        "seconds": time.perf_counter() - started,
    }
    paths = write_report(rows, out, metadata=metadata)
    click.echo(format_table(rows))
    click.echo(f"wrote {paths['csv']}, {paths['json']} and {paths['png']} ({metadata['seconds']:.0f}s)")

"""``deid audit``: conceal a split's test persons, measure how well attackers re-identify them."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path
from typing import Any

import click
import torch

from deid.audit import (
    ATTACKERS,
    LEGEND,
    SPLITS,
    AuditSetupError,
    audit_split,
    audited_persons,
    build_attackers,
    build_concealers,
    check_audited,
    choose_attackers,
    format_table,
    run_audit,
    write_report,
)
from deid.cli.options import (
    data_option,
    dataset_option,
    device_option,
    link_option,
    loop_choice_option,
    seed_option,
    strength_option,
)
from deid.loop.bodies import SHAPES
from deid.loop.heads import HEADS
from reid_model import (
    INDEPENDENT_STRIPE_WEIGHTS,
    INDEPENDENT_WEIGHTS,
    CheckpointError,
    DatasetError,
    Split,
    dataset_kind,
    default_metadata,
    load_dataset,
)

#: The flag each AuditSetupError's argument comes from.
_PARAM_HINTS = {"methods": "--methods", "attackers": "--attackers", "split": "--split"}


def _existing_or_empty(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """A checkpoint path that exists, or "" (no such attacker)."""
    if value and not Path(value).is_file():
        raise click.BadParameter(f"checkpoint {value} does not exist", param_hint=param.opts[0])
    return value


@click.command("audit")
@data_option()
@dataset_option()
@click.option(
    "--split",
    type=click.Choice(SPLITS),
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
        f"Comma-separated among {', '.join(ATTACKERS)} "
        "[default: all those whose weights are given; all are bundled]."
    ),
)
@click.option(
    "--independent-weights",
    type=click.Path(dir_okay=False),
    callback=_existing_or_empty,
    default=str(INDEPENDENT_WEIGHTS),
    help="A reid_model checkpoint trained independently of the loop's adversary "
    "(default: the bundled seed network); also the adaptive attacker's starting point.",
)
@click.option(
    "--independent-stripe-weights",
    type=click.Path(dir_okay=False),
    callback=_existing_or_empty,
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
@click.option(
    "--detector/--no-detector",
    default=True,
    help="Run OpenCV's HOG people detector and the pose model on the crops (detection, PCK, background).",
)
@loop_choice_option("shape", SHAPES, prefix="For every loop method: ")
@loop_choice_option("head", HEADS, prefix="For every loop method: ")
@strength_option(prefix="For every loop method: ")
@link_option(
    help="track: a test person's two camera views are concealed together (one treatment, so "
    "the person stays linkable under a pseudonym); none: each view gets a treatment of its own. "
    "The c2c columns (concealed query, concealed gallery) are the linking rate."
)
@seed_option(help="Fixes the seed-error triplets, the loop's outfits and the fine-tuning.")
@device_option()
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
    shape: str,
    head: str,
    strength: float,
    link: str,
    seed: int,
    device: str,
) -> None:
    """Audit privacy: conceal test persons, re-identify them with several attackers."""
    started = time.perf_counter()
    if Path(out).resolve().is_relative_to(Path(data).resolve()):
        raise click.BadParameter(
            f"the output folder {out} must not be inside the dataset {data}", param_hint="--out"
        )
    try:
        names, left_out = choose_attackers(
            attackers,
            independent_weights=independent_weights,
            independent_stripe_weights=independent_stripe_weights,
        )
        concealers = build_concealers(
            methods, device=device, seed=seed, shape=shape, head=head, strength=strength
        )
    except AuditSetupError as exc:
        raise click.BadParameter(str(exc), param_hint=_PARAM_HINTS[exc.param]) from exc
    if left_out:
        click.echo(f"note: no weights given for attackers {left_out}, so they are left out", err=True)
    try:
        samples = load_dataset(data, kind=dataset)
        split_obj = audit_split(samples, split)
        audited = audited_persons(split_obj, persons)
        check_audited(samples, audited)  # before any attacker is trained
        built = build_attackers(
            names,
            samples,
            split_obj,
            independent_weights=independent_weights,
            independent_stripe_weights=independent_stripe_weights,
            finetune_epochs=finetune_epochs,
            seed=seed,
            device=device,
        )
    except (CheckpointError, DatasetError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from exc
    if persons and persons > len(audited):
        click.echo(
            f"note: --persons {persons}: the split has {len(audited)} test persons; all are audited", err=True
        )
    known = _known_to_the_adversary(audited, split_obj) if dataset_kind(data, dataset) == "viper" else []
    if known:
        click.echo(
            f"warning: {len(known)} of the {len(audited)} persons audited ({', '.join(map(str, known[:10]))}"
            f"{' ...' if len(known) > 10 else ''}) have the numbers of persons the bundled adversary trained "
            "on: if this dataset is part of VIPeR, the adversary has seen them; audit the whole dataset "
            "(its test persons are then the adversary's own, never seen)",
            err=True,
        )
    rows = run_audit(
        concealers,
        samples,
        split_obj,
        built,
        max_persons=persons,
        adapt_persons=finetune_persons,
        detector=detector,
        seed=seed,
        link=link,
        log=lambda line: click.echo(line, err=True),
    )
    metadata: dict[str, Any] = {
        "data": str(data),
        "split": {
            "name": split_obj.name,
            "seed": split_obj.seed,
            "test_persons": len(split_obj.test),
            "audited": audited,
            "known_to_the_adversary": known,
        },
        "attackers": names,
        "independent_weights": independent_weights,
        "independent_stripe_weights": independent_stripe_weights,
        "finetune_epochs": finetune_epochs,
        "finetune_persons": finetune_persons,
        "loop_shape": shape,
        "loop_head": head,
        "loop_strength": strength,
        "link": link,
        "device": device,
        "torch_threads": torch.get_num_threads(),
        "seconds": time.perf_counter() - started,
    }
    paths = write_report(rows, out, metadata=metadata)
    click.echo(format_table(rows))
    click.echo(textwrap.fill(LEGEND, width=100))
    click.echo(f"wrote {paths['csv']}, {paths['json']} and {paths['png']} ({metadata['seconds']:.0f}s)")


def _known_to_the_adversary(audited: list[int], split: Split) -> list[int]:
    """The ``audited`` persons of a VIPeR dataset whose numbers the bundled adversary trained or
    was validated on, when ``split`` is not the adversary's own (a part of VIPeR split afresh)."""
    meta = default_metadata()
    own = Split.from_dict(meta["split"]) if "split" in meta else None
    if own is None or split == own:
        return []
    return sorted(set(audited) & (set(own.train) | set(own.val)))

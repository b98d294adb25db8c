"""Click options shared by several ``deid`` subcommands, declared once.

A dataset is always ``--data ROOT`` (with ``--dataset`` for its layout), a checkpoint
``--weights``, a torch device ``--device`` and a seed ``--seed``. Each is a factory
(``@data_option()``) taking what differs by command: the default, the help text.
"""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from deid.finder.config import FINDERS
from deid.loop.config import ConcealConfig
from deid.loop.grouping import LINKS

F = TypeVar("F", bound=Callable[..., Any])

#: Where the project's commands look for VIPeR by default.
VIPER_ROOT = "../shared/data/viper"
_DATA_HELP = "Dataset root (VIPeR, Market-1501 or a person/camera folder tree)."
#: ``ctx.meta`` key of a deprecated alias of ``--data`` seen before ``--data`` was processed.
_ALIAS_KEY = "deid.cli.options.data_alias"


def _data_from_alias(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """``--data``'s value, or the deprecated alias's when only the alias was given."""
    alias = ctx.meta.get(_ALIAS_KEY)
    if alias is None:
        return value
    if ctx.get_parameter_source("data") is ParameterSource.COMMANDLINE:
        raise click.BadParameter(f"give --data or {alias[0]}, not both", param_hint="--data")
    return alias[1]


def _existing_data(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """``--data``'s value (the deprecated alias's when only it was given), refused as a usage
    error when it is not a folder: every command that takes ``--data`` reads it."""
    value = _data_from_alias(ctx, param, value)
    if value is not None and not os.path.isdir(value):
        raise click.BadParameter(
            f"dataset folder {value} does not exist or is not a folder", param_hint="--data"
        )
    return value


def _alias_callback(flag: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value is None:
            return
        click.echo(f"warning: {flag} is deprecated; use --data", err=True)
        if "data" not in ctx.params:  # --data is processed later: it takes the alias's value
            ctx.meta[_ALIAS_KEY] = (flag, value)
        elif ctx.get_parameter_source("data") is ParameterSource.COMMANDLINE:
            raise click.BadParameter(f"give --data or {flag}, not both", param_hint="--data")
        else:
            ctx.params["data"] = value

    return callback


def data_option(
    *, default: str | None = VIPER_ROOT, help: str = _DATA_HELP, deprecated: tuple[str, ...] = ()
) -> Callable[[F], F]:
    """``--data ROOT``: a dataset folder, the one name of that option in every command.

    Args:
        default: the root used when the flag is omitted (None: no dataset).
        help: the flag's help text.
        deprecated: old flag names still accepted (hidden, with a warning on stderr), e.g.
            ``("--viper",)``; giving one of them together with ``--data`` is an error.
    """

    def decorate(function: F) -> F:
        for flag in deprecated:
            function = click.option(
                flag,
                flag.lstrip("-").replace("-", "_") + "_alias",
                type=click.Path(file_okay=False),
                default=None,
                hidden=True,
                expose_value=False,
                callback=_alias_callback(flag),
                help="Deprecated: --data.",
            )(function)
        return click.option(
            "--data",
            type=click.Path(file_okay=False),
            default=default,
            help=help,
            callback=_existing_data,
        )(function)

    return decorate


def dataset_option() -> Callable[[F], F]:
    """``--dataset``: the layout of ``--data``, or ``auto`` to guess it from the folder."""
    return click.option(
        "--dataset",
        type=click.Choice(["auto", "viper", "market1501", "folder"]),
        default="auto",
        help="The layout of --data: VIPeR, Market-1501, person/camera folders, or guessed.",
    )


def weights_option(
    *, help: str = "A .safetensors checkpoint; the bundled model when omitted."
) -> Callable[[F], F]:
    """``--weights``: a checkpoint to use instead of the bundled model (None when omitted)."""
    return click.option("--weights", type=click.Path(dir_okay=False), default=None, help=help)


def device_option(*, default: str = "cpu", help: str = "Torch device.") -> Callable[[F], F]:
    """``--device``: where the networks run (``cpu``, ``cuda``, ``cuda:1``...), checked: one torch
    does not know, or a GPU this machine does not have, is a usage error before any work."""
    return click.option("--device", default=default, help=help, callback=_device)


def _device(ctx: click.Context, param: click.Parameter, value: str) -> str:
    import torch

    try:
        device = torch.device(value)
    except (RuntimeError, ValueError) as exc:
        raise click.BadParameter(f"{value!r} is not a torch device (cpu, cuda, cuda:1, ...)") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise click.BadParameter(f"{value!r}: torch finds no CUDA GPU on this machine; use cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise click.BadParameter(f"{value!r}: this machine has {torch.cuda.device_count()} CUDA GPU(s)")
    return value


def seed_option(*, default: int = 0, help: str | None = None) -> Callable[[F], F]:
    """``--seed``: an integer that makes the run reproducible."""
    return click.option("--seed", type=int, default=default, help=help)


def link_option(*, help: str) -> Callable[[F], F]:
    """``--link track|none``: one treatment per person (linkable under a pseudonym) or a fresh
    one per appearance (:data:`deid.loop.LINKS`)."""
    return click.option("--link", type=click.Choice(LINKS), default="track", help=help)


def finder_option() -> Callable[[F], F]:
    """``--finder default|thorough``: the person finder's settings (:func:`deid.finder.named_finder`)."""
    return click.option(
        "--finder",
        type=click.Choice(FINDERS),
        default="default",
        help="The person finder's settings for frames: 'thorough' also searches smaller tiles, "
        "which finds more parts of people (Penn-Fudan: no more labelled people than the default, "
        "recall 0.924 both) in about 1.7 times the time.",
    )


def loop_choice_option(name: str, choices: Sequence[str], *, prefix: str = "") -> Callable[[F], F]:
    """``--NAME`` for a choice field of :class:`deid.loop.ConcealConfig` (``shape``, ``head``):
    its default and its help come from the config (``prefix`` before the help)."""
    return click.option(
        f"--{name.replace('_', '-')}",
        type=click.Choice(list(choices)),
        default=getattr(ConcealConfig, name),
        help=_prefixed(prefix, field_help(ConcealConfig, name)),
    )


def strength_option(*, prefix: str = "") -> Callable[[F], F]:
    """``--strength``: :attr:`deid.loop.ConcealConfig.strength`, its default and its help."""
    return click.option(
        "--strength",
        type=click.FloatRange(0, 1, min_open=True),
        default=ConcealConfig.strength,
        help=_prefixed(prefix, field_help(ConcealConfig, "strength")),
    )


def _prefixed(prefix: str, text: str) -> str:
    """``text`` after ``prefix`` ("For every loop method: "), its first letter then lower case."""
    return prefix + text[:1].lower() + text[1:] if prefix else text


def field_help(cls: type, name: str) -> str:
    """The text a Google-style ``Attributes:`` section of ``cls``'s docstring gives ``name``.

    Flags that set a config field take their help from it, so the words live in one place.

    Raises:
        ValueError: the docstring does not describe ``name``.
    """
    lines = inspect.cleandoc(cls.__doc__ or "").splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == "Attributes:"), len(lines))
    text: list[str] = []
    indent = None
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        depth = len(line) - len(line.lstrip())
        if indent is None:
            indent = depth
        if depth == indent:
            if text:
                break
            names, _, rest = line.strip().partition(": ")
            if name in [n.strip() for n in names.split(",")]:
                text.append(rest)
        elif text:
            text.append(line.strip())
    if not text:
        raise ValueError(f"the docstring of {cls.__name__} has no attribute {name!r}")
    plain = re.sub(r":\w+:`~?([^`]+)`", r"\1", " ".join(text)).replace("``", "")
    return plain[:1].upper() + plain[1:]

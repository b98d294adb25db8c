"""Click options shared by several ``deid`` subcommands, declared once."""

from __future__ import annotations

import inspect
import re

import click

#: ``--dataset``: the dataset layout, or ``auto`` to guess it from the folder.
dataset_option = click.option(
    "--dataset", type=click.Choice(["auto", "viper", "market1501", "folder"]), default="auto"
)

#: ``--weights``: a checkpoint to use instead of the bundled model.
weights_option = click.option(
    "--weights",
    type=click.Path(dir_okay=False),
    default=None,
    help="A .safetensors checkpoint; the bundled model when omitted.",
)


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

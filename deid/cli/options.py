"""Click options shared by several ``deid`` subcommands, declared once."""

from __future__ import annotations

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

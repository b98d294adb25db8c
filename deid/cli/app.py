"""The ``deid`` command: a thin click layer over the library. Each flag maps to one option."""

from __future__ import annotations

import click

from deid.cli.attribution import analyze_command, explain_command
from deid.cli.audit import audit_command
from deid.cli.conceal import conceal_command
from deid.cli.detect import detect_command
from deid.cli.embed_plot import embed_plot_command
from deid.cli.train import evaluate_command, train_command
from deid.cli.verify import verify_command


class _Commands(click.Group):
    """The commands, each ended by Ctrl-C with exit code 130 (128 + SIGINT), as shells expect,
    rather than click's 1 (the code of a failed file)."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            raise click.exceptions.Exit(130) from None


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(package_name="deid-reid")
def main() -> None:
    """Person de-identification checked against re-identification."""


for _command in (
    train_command,
    evaluate_command,
    embed_plot_command,
    conceal_command,
    verify_command,
    detect_command,
    audit_command,
    explain_command,
    analyze_command,
):
    main.add_command(_command)

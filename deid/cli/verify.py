"""``deid verify REPORT_OR_FOLDER``: a thin click layer over :func:`deid.batch.verify`."""

from __future__ import annotations

import click

from deid.batch.verification import VerifyError, verify
from deid.cli.options import device_option, weights_option


@click.command("verify", context_settings={"show_default": True})
@click.argument("report_or_folder", type=click.Path())
@weights_option(
    help="Check with this adversary checkpoint.  [default: the run's recorded --weights, else the bundled one]"
)
@device_option(help="Torch device of the adversary.")
@click.pass_context
def verify_command(ctx: click.Context, report_or_folder: str, weights: str | None, device: str) -> None:
    """Re-check the files a `deid conceal` run wrote: sha256, and the adversary on each written output.

    REPORT_OR_FOLDER is the run's report.json or its output folder. Exits 1 when any record's
    written file does not hold its verdict: reported private but still matched, missing,
    changed since the run (sha256), unreadable, or not checkable.
    """
    try:
        result = verify(report_or_folder, weights=weights, device=device)
    except VerifyError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"report: {result.report}")
    click.echo(result.table())
    for record in result.failures:
        click.echo(f"{record.outcome}: {record.output or record.input}: {record.detail}", err=True)
    if result.exit_code:
        click.echo(f"error: {len(result.failures)} record(s) do not hold their verdict", err=True)
    else:
        click.echo("every written output holds its verdict")
    ctx.exit(result.exit_code)

"""``deid verify REPORT_OR_FOLDER``: a thin click layer over :func:`deid.batch.verify`."""

from __future__ import annotations

from pathlib import Path

import click

from deid.batch.verification import VerifyError, verify
from deid.cli.options import device_option, weights_option
from deid.video import VideoError, unfinished, unreported, verify_video, video_reports
from deid.video.resume import work_folder


@click.command("verify", context_settings={"show_default": True})
@click.argument("report_or_folder", type=click.Path())
@weights_option(
    help="Check with this adversary checkpoint (not for videos: their report names the bundled one).  "
    "[default: the run's recorded --weights, else the bundled one]"
)
@device_option(help="Torch device of the adversary.")
@click.option(
    "--require-private",
    is_flag=True,
    help="A gate before publishing: also fail (exit 3) when the report calls any output not "
    "private, though it holds that verdict.",
)
@click.pass_context
def verify_command(
    ctx: click.Context, report_or_folder: str, weights: str | None, device: str, require_private: bool
) -> None:
    """Re-check the files a `deid conceal` run wrote: sha256, and the adversary on each written output.

    REPORT_OR_FOLDER is the run's report.json or its output folder, or a video's report
    (OUT/clip.mp4.json; in a folder, every video report in it too). Exits 1 when
    any record's written file does not hold its verdict: reported private but still matched,
    missing, changed since the run (sha256), unreadable, or not checkable; and when the
    report says its run did not finish (inputs with no record). With --require-private, exits 3
    when every file holds its verdict but some verdict is "not private".
    """
    videos = video_reports(report_or_folder)
    if videos and weights is not None:
        raise click.UsageError("--weights: a video is judged again by the bundled adversary its report names")
    codes = [_verify_video(path, device, require_private) for path in videos]
    folder = Path(report_or_folder)
    alone = unreported(folder) if folder.is_dir() else []
    for path in alone:
        click.echo(f"error: {path}: a video with no report beside it ({path.name}.json)", err=True)
        codes.append(1)
    killed = unfinished(folder)
    for video in killed:
        click.echo(
            f"error: {video}: a video run that did not finish (its work is in {work_folder(video)}, no video and "
            f"report written); finish it with `deid conceal SOURCE -o {folder} --resume`, then verify",
            err=True,
        )
        codes.append(1)
    if (folder / "report.json").exists() or not (videos or alone or killed):
        codes.append(_verify_images(report_or_folder, weights, device, require_private))
    if len(codes) > 1 and max(codes):
        failing, shut = sum(code == 1 for code in codes), sum(code == 3 for code in codes)
        said = [f"{failing} do not hold" if failing else "", f"{shut} are not private" if shut else ""]
        click.echo(
            f"error: of {len(codes)} reports or videos, {' and '.join(s for s in said if s)}", err=True
        )
    ctx.exit(1 if 1 in codes else max(codes))  # a file that does not hold comes first


def _verify_images(report_or_folder: str, weights: str | None, device: str, require_private: bool) -> int:
    """Verify a run of images (or frames) and say what was found; the exit code."""
    try:
        result = verify(report_or_folder, weights=weights, device=device)
    except VerifyError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"report: {result.report}")
    click.echo(result.table())
    _environment(result.environment)
    for record in result.failures:
        click.echo(f"{record.outcome}: {record.output or record.input}: {record.detail}", err=True)
    for path in result.unlisted[:20]:
        click.echo(
            f"unlisted: {path}: an image in the output folder that no record of the report lists", err=True
        )
    if len(result.unlisted) > 20:
        click.echo(f"unlisted: ... and {len(result.unlisted) - 20} more", err=True)
    if result.unlisted:
        click.echo(
            f"error: {len(result.unlisted)} image(s) in the output folder are not the run's (an earlier "
            "run's outputs, or other files): nothing vouches for them; move them out before publishing",
            err=True,
        )
    if result.failures:
        click.echo(f"error: {len(result.failures)} record(s) do not hold their verdict", err=True)
    elif not result.unlisted:
        click.echo("every written output holds its verdict")
        click.echo(
            "(a verdict is the adversary's on each person the run found, as written, and the looks "
            "for faces and people left in the clear: a person no look finds is not judged; look at "
            "the images too)"
        )
    if result.unfinished:
        click.echo(f"error: {result.unfinished}", err=True)
    if require_private and not result.exit_code:
        shown = [r for r in result.records if r.outcome in ("not_private_as_reported", "private_now")]
        for record in shown[:20]:
            click.echo(f"not private: {record.output or record.input}", err=True)
        if shown:
            click.echo(
                f"error: {len(shown)} output(s) the report calls not private (--require-private)", err=True
            )
            return 3
    return result.exit_code


def _verify_video(path: Path, device: str, require_private: bool) -> int:
    """Verify one video's report and say what was found; the exit code."""
    try:
        result = verify_video(path, device=device)
    except VideoError as exc:
        click.echo(f"error: {exc}", err=True)
        return 1
    click.echo(f"report: {result.report} (video {result.output})")
    if sum(result.counts.values()) or not result.problems:  # nothing judged: say so
        click.echo(result.table())
    _environment(result.environment)
    for problem in result.problems:
        click.echo(f"error: {problem}", err=True)
    for track, frame in result.contradicted[:20]:
        click.echo(
            f"contradicted: track {track}, frame {frame}: reported private, matched as written", err=True
        )
    if len(result.contradicted) > 20:
        click.echo(f"... and {len(result.contradicted) - 20} more contradicted sightings", err=True)
    if not result.exit_code:
        verdict = "private" if result.private else "not private"
        click.echo(f"the written video holds every verdict of its report (which calls it {verdict})")
        click.echo(
            "(a verdict is the adversary's on a person's box as written: a person no box holds, or a "
            "part of one outside their box, is not judged; look at the video too)"
        )
        if require_private and not result.private:
            click.echo(
                f"error: {result.output}: the report calls the video not private (--require-private)",
                err=True,
            )
            return 3
    return result.exit_code


def _environment(differences: list[str]) -> None:
    """Say what differs from the run's environment (nothing when nothing does)."""
    if differences:
        click.echo(
            "note: the run's environment and this one differ, and a verdict at the edge can move "
            "with them (the run judged with a margin, verify judges without):"
        )
        for line in differences:
            click.echo(f"  {line}")

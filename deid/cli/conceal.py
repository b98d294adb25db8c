"""``deid conceal INPUT... -o OUTDIR``: a thin click layer over :func:`deid.batch.run_batch`."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import click

from deid.adversary import Adversary
from deid.batch.config import ADVERSARIES, ENGINES, BatchConfig
from deid.batch.grouping import GROUP_BY
from deid.batch.inputs import BatchError
from deid.batch.outputs import heatmaps_folder
from deid.batch.report import ReportError, saved_report
from deid.batch.run import run_batch
from deid.cli.options import (
    device_option,
    field_help,
    finder_option,
    link_option,
    loop_choice_option,
    strength_option,
)
from deid.cli.video import conceal_videos, refuse_batch_options, wants_video
from deid.detection import KINDS
from deid.loop.bodies import SHAPES
from deid.loop.config import ConcealConfig
from deid.loop.frames import UNCERTAIN
from deid.loop.heads import HEAD_SCALES, HEADS
from deid.operators.figure import FIGURE_POSES
from deid.operators.registry import OPERATORS, build_operator
from deid.video import LOOK_EVERY, QUALITY

_LOOP = {f.name: f.default for f in fields(ConcealConfig)}
_PARAM_HINTS = {
    "inputs": "INPUTS",
    "resume": "--resume",
    "output": "-o/--output",
    "report": "--report",
    "kind": "--kind",
    "boxes": "--boxes",
    "masks": "--masks",
    "weights": "--weights",
    "engine": "--engine",
    "address": "--address",
    "workers": "--workers",
    "threads": "--threads",
}


def _check_operator(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        build_operator(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    return value


@click.command("conceal", context_settings={"show_default": True})
@click.argument("inputs", nargs=-1, required=True)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(),
    help="Output folder; for one video, a video file's name (out.mp4) writes that file.",
)
@click.option(
    "--operator",
    default=_LOOP["operator"],
    callback=_check_operator,
    help=f"One of {', '.join(OPERATORS)}, or several joined by '+' (blur+color_shift).",
)
@strength_option()
@click.option(
    "--group-by",
    type=click.Choice(GROUP_BY),
    default="auto",
    help="Appearances of one person share one mask. auto: VIPeR (cam_a/, cam_b/ NNN_AA.bmp) or "
    "Market-1501 (0002_c1s1_000451_03.jpg) names only when every input has them, else each file "
    "alone; folder: one person per folder; viper, market: those names; reid: unlabeled crops "
    "grouped by the adversary (complete linkage on its link rule; each crop is then also judged "
    "against its own original; frames stay alone); none: each file alone. "
    "A group is split where the adversary does not see its appearances as one person "
    "(the record's group_reason says why).",
)
@link_option(
    help="track: one person's appearances share one treatment (a group of images; a video "
    "track, its pieces joined again after an occlusion), so the person stays linkable under a "
    "pseudonym, as counting and analytics want; none: a fresh treatment per appearance (each "
    "image concealed alone, and still judged against every image of its group: one that "
    "another's original still matches is reported not private; each piece of a video track on "
    "its own), for releases "
    "that must not let anyone follow the person. deid audit --link measures the linking rate.",
)
@click.option(
    "--heatmaps/--no-heatmaps",
    default=False,
    help="Write attribution overlays to OUT.heatmaps beside OUT (never inside it: they show the original people).",
)
@device_option(help="Torch device of the adversary.")
@click.option(
    "--report",
    type=click.Path(dir_okay=False),
    default=None,
    help="The JSON report (a CSV goes beside it).  [default: OUTPUT/report.json]",
)
@click.option(
    "--resume/--no-resume",
    default=False,
    help="Skip inputs the report already lists as done; a video takes up the work a killed run "
    "saved beside its output (the frames followed, the tracks decided).",
)
@click.option(
    "--boxes",
    type=click.Path(dir_okay=False),
    default=None,
    help="JSON of person boxes [x, y, w, h] per image, used instead of the detector; keyed by the path "
    "relative to an input folder, the full path, or a file name no other input has. A box partly "
    "outside its frame is clipped (with a warning); wholly outside fails that file.",
)
@click.option(
    "--masks",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder of person label PNGs mirroring the inputs (0 background, i the i-th person, as "
    "'deid detect --masks' writes them), used instead of the detector; an input without a mask "
    "goes through the finder.",
)
@click.option(
    "--weights",
    type=click.Path(dir_okay=False),
    default=None,
    help="An adversary checkpoint (with NAME_gallery.safetensors beside it); the bundled one when omitted.",
)
@click.option(
    "--adversary",
    type=click.Choice(ADVERSARIES),
    default="strong",
    show_default=True,
    help="The bundled adversary: strong (the network, a colour matcher and the network fused with "
    "LOMO + XQDA, the strongest attacker measured), or fast (without the fused model: faster, "
    "but privacy is judged by a weaker attacker).",
)
@click.option(
    "--top-k",
    type=click.IntRange(min=0),
    default=Adversary.top_k,
    help="Success needs the true identity outside the adversary's top k.",
)
@click.option(
    "--budget",
    type=click.IntRange(min=0),
    default=_LOOP["budget"],
    help="Mask-growing steps before the whole-person fallback.",
)
@click.option(
    "--first-cells",
    type=click.IntRange(min=1),
    default=_LOOP["first_cells"],
    help=field_help(ConcealConfig, "first_cells"),
)
@click.option(
    "--growth",
    type=click.FloatRange(min=1, min_open=True),
    default=_LOOP["growth"],
    help=field_help(ConcealConfig, "growth"),
)
@click.option(
    "--grid",
    type=(click.IntRange(min=1), click.IntRange(min=1)),
    default=_LOOP["grid"],
    metavar="ROWS COLS",
    help=field_help(ConcealConfig, "grid"),
)
@click.option("--refine/--no-refine", default=_LOOP["refine"], help=field_help(ConcealConfig, "refine"))
@click.option(
    "--fallback-operator",
    type=click.Choice(["auto", "own", *OPERATORS]),
    default=_LOOP["fallback_operator"],
    help=field_help(ConcealConfig, "fallback_operator"),
)
@click.option(
    "--method",
    type=click.Choice(["integrated_gradients", "saliency", "grad_cam", "gradient_shap"]),
    default=_LOOP["method"],
    help="Attribution that ranks the cells to conceal: integrated_gradients conceals less area but "
    "leaks more to other attackers and is about 2x slower than saliency.",
)
@click.option(
    "--ig-steps",
    type=click.IntRange(min=1),
    default=_LOOP["ig_steps"],
    help=field_help(ConcealConfig, "ig_steps"),
)
@click.option(
    "--colors",
    type=click.Choice(["outfit", "fixed"]),
    default=_LOOP["colors"],
    help="With --operator fill: 'outfit' fills each person with a two-tone outfit drawn at random "
    "among those that defeat the adversary; 'fixed' fills everyone with mid grey.",
)
@click.option(
    "--seed",
    type=int,
    default=_LOOP["seed"],
    help="Seeds the outfit draw for a reproducible run [default: fresh randomness each run].",
)
@click.option(
    "--keep-undetected",
    is_flag=True,
    default=False,
    help="Also write frames where nobody was detected, unchanged (marked in the report).",
)
@finder_option()
@click.option(
    "--faces",
    type=click.FloatRange(0, 1),
    default=BatchConfig.faces,
    help="Frames: the face net's threshold (CenterFace's face probability). A face still found "
    "in the frame with its people concealed (a person the finder missed) is concealed as --head "
    "says, listed in the record's 'faces', and the frame is not private. 0: no face net.",
)
@click.option(
    "--second-look/--no-second-look",
    default=BatchConfig.second_look,
    show_default=True,
    help="Frames: look again with the thorough finder (smaller tiles; about as long as the first "
    "look) and conceal the people it confirms outside the boxes found (the record's people say "
    "'found_by'), and once more at the frame with its people concealed, for people left in the "
    "clear (the record's 'untreated'). The first of these is off with --finder thorough, whose "
    "first look is that one. Videos: --look-every.",
)
@loop_choice_option("head", HEADS)
@click.option(
    "--head-scale",
    type=click.FloatRange(*HEAD_SCALES),
    default=_LOOP["head_scale"],
    help=field_help(ConcealConfig, "head_scale"),
)
@loop_choice_option("shape", SHAPES)
@click.option("--margin", type=float, default=_LOOP["margin"], help=field_help(ConcealConfig, "margin"))
@click.option(
    "--figure/--no-figure",
    default=_LOOP["figure"],
    show_default=True,
    help=field_help(ConcealConfig, "figure"),
)
@click.option(
    "--figure-draws",
    type=click.IntRange(min=1),
    default=_LOOP["figure_draws"],
    show_default=True,
    help=field_help(ConcealConfig, "figure_draws"),
)
@loop_choice_option("figure_pose", FIGURE_POSES)
@click.option(
    "--uncertain",
    type=click.Choice(UNCERTAIN),
    default="conceal",
    help="People the finder is unsure of (a proposal it could neither confirm nor reject): "
    "'conceal' them by their box, or 'flag' them: left unchanged, listed in the report, and the "
    "frame is not reported private.",
)
@click.option(
    "--kind",
    type=click.Choice(KINDS),
    default="auto",
    help="How each image is taken: 'auto' takes one at most 400 px high and 1.4 to 4 times as high "
    "as wide for one person's crop (VIPeR, Market-1501), anything else for a frame searched for "
    "people; 'crop' or 'frame' for every image (small portrait frames of several people: 'frame').",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=BatchConfig.batch_size,
    help="Person crops per conceal call (at most; --queue-megapixels may send fewer).",
)
@click.option(
    "--queue-megapixels",
    type=click.FloatRange(min=0, min_open=True, max=1e6),
    default=BatchConfig.queue_megapixels,
    help="Bounds memory: megapixels of images (whole frames and the people cut from them) held "
    "while waiting for a conceal call (3 MB each for 8-bit frames, else 12 MB). A frame larger "
    "than this goes alone; a smaller budget means fewer people per call, which is slower.",
)
@click.option("--progress/--no-progress", default=True, help="Show a progress bar on a terminal.")
@click.option(
    "--engine",
    type=click.Choice(ENGINES),
    default="local",
    help="Where to conceal: 'local' (this process) or 'ray' (a pool of Ray workers, each loading the "
    "models once; the same outputs and report; needs pip install 'deid-reid[ray]').",
)
@click.option(
    "--address",
    default=None,
    help="--engine ray: the Ray cluster to join ('auto' or HOST:PORT); a local one is started when "
    "left out. Inputs and OUTPUT must be on a filesystem every worker sees.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="--engine ray: how many workers (each with --threads CPUs); default as many as the cluster holds.",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=None,
    help="Torch threads of this process, or of each Ray worker (which reserves as many CPUs); "
    "default all CPUs locally, one per Ray worker. A seeded run's outputs are the same on both "
    "engines at the same --threads (floating-point sums change with the thread count).",
)
@click.option(
    "--as-video",
    is_flag=True,
    help="Treat each folder input as the numbered frames of one video (people followed across them).",
)
@click.option(
    "--fps",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    help="Frame rate of a folder of frames (--as-video); a video file has its own.",
)
@click.option(
    "--look-every",
    type=click.IntRange(min=0),
    default=LOOK_EVERY,
    show_default=True,
    help="Videos: a second look (the person finder in small tiles, about a second a frame here) at "
    "every this many frames, half-way between the follower's thorough looks; a person it finds "
    "that no track conceals is listed in the report's `missed` and the video is not private. "
    "Smaller checks more frames (0: never).",
)
@click.option(
    "--quality",
    type=click.IntRange(0, 51),
    default=QUALITY,
    show_default=True,
    help="Videos written with H.264 (.mp4, .mov, .mkv, .avi): its constant rate factor. Lower keeps "
    "the written frames closer to the concealed ones, in bigger files; the report's verdicts are "
    "on the video as written either way.",
)
@click.pass_context
def conceal_command(ctx: click.Context, inputs: tuple[str, ...], **options: Any) -> None:
    """Conceal every person in INPUT... (files, folders, globs) until the re-id adversary fails.

    Outputs mirror the input folders under OUTPUT; inputs are never modified. Each input gets a
    record in the report. Exit code: 0 when every output written is private; 1 when any file
    failed, or when the report cannot be written (the run stops; the last complete report
    stays); 130 when interrupted (Ctrl-C: the report says the run did not finish); 3 when every file was written but the adversary still matches a person in some
    (their records say `success: false`). Video files (.mp4, .avi, .mov, ...; or folders of
    frames with --as-video) are concealed whole: people are followed from frame to frame and
    each keeps one treatment; OUTPUT/NAME is the video, OUTPUT/NAME.json its report (for one
    video, OUTPUT may name the video file itself: -o out.mp4 writes out.mp4 and out.mp4.json). One run at a time per OUTPUT: a
    lock file (.deid-conceal.lock, with the owner's PID and host) refuses a second run, and one
    left by a run that died is taken over with a warning.
    """
    hooks = ctx.obj if isinstance(ctx.obj, dict) else {}  # tests inject stand-ins here
    loop = {name: options.pop(name) for name in _LOOP if name in options}
    as_video, fps, link = options.pop("as_video"), options.pop("fps"), options.pop("link")
    look_every, quality = options.pop("look_every"), options.pop("quality")
    if wants_video(inputs, as_video):
        refuse_batch_options(ctx)
        ctx.exit(
            conceal_videos(
                inputs,
                options["output"],
                _loop_config(loop),
                fps=fps,
                link=link,
                look_every=look_every,
                quality=quality,
                adversary=options["adversary"],
                resume=options["resume"],
                progress=options["progress"],
                engine=options["engine"],
                address=options["address"],
                workers=options["workers"],
                threads=options["threads"],
            )
        )
    if Path(options["output"]).is_file():
        raise click.BadParameter(
            f"{options['output']} is a file; images are written into a folder", param_hint="-o/--output"
        )
    for name in ("fps", "look_every", "quality"):
        if ctx.get_parameter_source(name) not in (None, click.core.ParameterSource.DEFAULT):
            flag = "--" + name.replace("_", "-")
            raise click.UsageError(f"{flag}: for videos and folders of frames (--as-video) only")
    loop_config = _loop_config(loop)
    try:
        config = BatchConfig(inputs=tuple(inputs), loop=loop_config, link=link, **options)
    except ValueError as exc:  # a setting the flags' types let through (a BatchError is one too)
        if isinstance(exc, BatchError) and exc.param in _PARAM_HINTS:
            raise click.BadParameter(str(exc), param_hint=_PARAM_HINTS[exc.param]) from exc
        raise click.UsageError(str(exc)) from exc
    try:
        summary = run_batch(
            config,
            conceal_group=hooks.get("conceal_group"),
            conceal_batch=hooks.get("conceal_batch"),
            write_heatmaps=hooks.get("write_heatmaps"),
        )
    except ReportError as exc:  # one line, no usage: the options were fine, the disk was not
        raise click.ClickException(str(exc)) from exc
    except KeyboardInterrupt:
        click.echo(f"interrupted: {_where_it_stopped(config.report_path)}", err=True)
        ctx.exit(130)
    except BatchError as exc:
        if exc.param in _PARAM_HINTS:
            raise click.BadParameter(str(exc), param_hint=_PARAM_HINTS[exc.param]) from exc
        raise click.ClickException(str(exc)) from exc
    counts = summary.counts
    click.echo(
        ", ".join(f"{n} {status}" for status, n in counts.items()) + f" ({summary.resumed} kept from before)"
    )
    if summary.still_matched:
        matched = summary.still_matched
        click.echo(f"warning: the adversary still matches {matched} image(s); see the report", err=True)
    if counts["no_person"]:
        click.echo(
            f"warning: {counts['no_person']} frame(s) had nobody detected and were not anonymized",
            err=True,
        )
    for warning in summary.warnings:
        click.echo(f"warning: {warning}", err=True)
    _name_records(summary.report_json, counts, summary.still_matched)
    click.echo(f"report: {summary.report_json} and {summary.report_csv}")
    if config.heatmaps:
        click.echo(
            f"heatmaps (of the original people: not for publishing): {heatmaps_folder(Path(config.output))}"
        )
    ctx.exit(summary.exit_code)


def _loop_config(loop: dict[str, Any]) -> ConcealConfig:
    """The loop's settings from the flags; a value their types let through but the loop refuses
    (``--margin -1``) is a bad parameter named by its flag."""
    try:
        return ConcealConfig(**loop)
    except ValueError as exc:  # its messages begin with the field's name
        name = str(exc).split(" ", 1)[0]
        raise click.BadParameter(
            str(exc), param_hint="--" + name.replace("_", "-") if name in loop else None
        ) from exc


def _where_it_stopped(report: Path) -> str:
    """What an interrupted run left: a report that says it did not finish, or none begun yet."""
    saved = saved_report(report)
    if saved is not None and saved.get("finished") is False:
        return (
            f"the report {report} keeps every input finished and says the run did not finish "
            "(`deid verify` fails it); run the same command with --resume to finish it"
        )
    return f"before the run began: nothing was written (a report at {report} is an earlier run's)"


def _name_records(report: Path, counts: dict[str, int], still_matched: int, shown: int = 5) -> None:
    """On stderr, the first ``shown`` failed inputs with their reasons, the first ``shown``
    frames where nobody was found, and the first ``shown`` outputs the adversary still matches
    (all are in the report)."""
    if not counts["failed"] and not counts["no_person"] and not still_matched:
        return
    try:
        records = json.loads(report.read_text(encoding="utf-8"))["records"]
    except (OSError, ValueError, KeyError):
        return
    bad = [r for r in records if r.get("status") == "failed"]
    for record in bad[:shown]:
        click.echo(f"failed: {record['input']}: {record.get('error')}", err=True)
    if len(bad) > shown:
        click.echo(f"failed: ... and {len(bad) - shown} more; see the report", err=True)
    nobody = [r for r in records if r.get("status") == "no_person"]
    for record in nobody[:shown]:
        click.echo(f"nobody found: {record['input']}: {record.get('note')}", err=True)
    if len(nobody) > shown:
        click.echo(f"nobody found: ... and {len(nobody) - shown} more; see the report", err=True)
    matched = [r for r in records if r.get("status") == "ok" and r.get("success") is False]
    for record in matched[:shown]:
        click.echo(f"still matched: {record.get('output') or record['input']}", err=True)
    if len(matched) > shown:
        click.echo(f"still matched: ... and {len(matched) - shown} more; see the report", err=True)

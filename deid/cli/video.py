"""``deid conceal clip.mp4 ... -o OUT``: videos (and folders of frames with ``--as-video``)."""

from __future__ import annotations

from pathlib import Path

import click

from deid.loop.config import ConcealConfig
from deid.video import VideoError, conceal_video, is_video


def wants_video(inputs: tuple[str, ...], as_video: bool) -> bool:
    """Whether ``inputs`` go down the video path; a mix of videos and images is refused."""
    videos = [is_video(i) for i in inputs]
    if as_video or all(videos):
        return True
    if any(videos):
        named = ", ".join(i for i, v in zip(inputs, videos, strict=True) if v)
        raise click.UsageError(f"conceal videos ({named}) in a run of their own, without images")
    return False


#: ``deid conceal`` options the video path does not take (yet): refused rather than ignored.
BATCH_ONLY = (
    "engine",
    "address",
    "workers",
    "group_by",
    "heatmaps",
    "device",
    "report",
    "boxes",
    "masks",
    "weights",
    "adversary",
    "top_k",
    "keep_undetected",
    "uncertain",
    "batch_size",
    "queue_megapixels",
    "finder",
)


def refuse_batch_options(ctx: click.Context) -> None:
    """A :class:`click.UsageError` naming the options given that the video path would ignore."""
    given = [
        name
        for name in BATCH_ONLY
        if ctx.get_parameter_source(name) not in (None, click.core.ParameterSource.DEFAULT)
    ]
    if given:
        flags = ", ".join("--" + name.replace("_", "-") for name in given)
        raise click.UsageError(f"{flags}: not taken for videos (yet); leave them out for a video input")


def conceal_videos(
    inputs: tuple[str, ...],
    output: str,
    config: ConcealConfig,
    *,
    fps: float,
    link: str,
    resume: bool,
    progress: bool,
) -> int:
    """Conceal each video into ``output`` (same name; a folder of frames stays a folder, its
    frames written as PNG); ``resume`` takes up the work a killed run saved. Returns the exit
    code: 0 when every person of every video is private as written, 3 when a video was written
    with a person still matched, 1 when one failed."""
    out = Path(output)
    names = [Path(name).name for name in inputs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise click.BadParameter(
            f"inputs {twice} would be written to one output each; conceal them in separate runs"
        )
    out.mkdir(parents=True, exist_ok=True)
    code = 0
    for name in inputs:
        source = Path(name)
        target = out / source.name
        if target.resolve() == source.resolve():
            raise click.BadParameter(f"{target} would overwrite the input", param_hint="-o/--output")
        try:
            report = conceal_video(
                source, target, config=config, fps=fps, link=link, resume=resume, progress=progress
            )
        except VideoError as exc:
            click.echo(f"error: {exc}", err=True)
            code = 1
            continue
        matched = [t.track for t in report.tracks if not t.private]
        click.echo(
            f"{source}: {report.frames_written}/{report.frames_read} frames, {len(report.tracks)} tracks, "
            f"{len(matched)} still matched, {len(report.missed)} people missed by the tracks -> {target}"
        )
        for note in report.notes:
            click.echo(f"  {note}")
        if not report.success:
            why = [f"tracks {matched} are still matched"] if matched else []
            if report.missed:
                why.append(f"{len(report.missed)} people a second look found were not concealed")
            why = why or ["nobody was found"]
            click.echo(f"warning: {source}: {'; '.join(why)}; see {target}.json", err=True)
            code = code or 3
    return code

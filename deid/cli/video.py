"""``deid conceal clip.mp4 ... -o OUT``: videos (and folders of frames with ``--as-video``)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click

from deid.adversary import Adversary
from deid.batch.inputs import BatchError
from deid.batch.lock import FolderLock
from deid.batch.ray_engine import map_on_ray
from deid.batch.results import people_word
from deid.batch.run import torch_threads
from deid.loop.config import ConcealConfig
from deid.video import LOOK_EVERY, QUALITY, VideoError, VideoReport, conceal_video, is_video


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
    "group_by",
    "heatmaps",
    "device",
    "report",
    "boxes",
    "masks",
    "weights",
    "top_k",
    "keep_undetected",
    "uncertain",
    "kind",
    "batch_size",
    "queue_megapixels",
    "finder",
    "second_look",
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
    look_every: int = LOOK_EVERY,
    quality: int = QUALITY,
    adversary: str = "strong",
    progress: bool,
    engine: str = "local",
    address: str | None = None,
    workers: int | None = None,
    threads: int | None = None,
) -> int:
    """Conceal each video into ``output`` (same name; a folder of frames stays a folder, its
    frames written as PNG), or to ``output`` itself where it names a video file for one video
    (:func:`_targets`); ``resume`` takes up the work a killed run saved; ``look_every`` and
    ``quality``: see :func:`deid.video.conceal_video`; ``adversary``: the bundled one that
    judges (:data:`deid.batch.config.ADVERSARIES`). With ``engine="ray"`` each video is one Ray task (its
    tracks, so its people's treatments, stay together), videos in parallel; ``threads``: torch
    threads of this process, or of each Ray task. Returns the exit code: 0 when every person of
    every video is private as written, 3 when a video was written with a person still matched,
    1 when one failed."""
    out, targets = _targets(inputs, Path(output))
    if engine == "local" and (address is not None or workers is not None):
        raise click.BadParameter("--address and --workers are for --engine ray", param_hint="--engine")
    calls: list[dict[str, Any]] = []
    for name, target in zip(inputs, targets, strict=True):
        source = Path(name)
        if target.resolve() == source.resolve():
            raise click.BadParameter(f"{target} would overwrite the input", param_hint="-o/--output")
        if source.is_dir() and out.resolve().is_relative_to(source.resolve()):
            raise click.BadParameter(
                f"output folder {out} is inside the input folder {source}; choose another",
                param_hint="-o/--output",
            )
        options = {
            "config": config,
            "fps": fps,
            "link": link,
            "resume": resume,
            "look_every": look_every,
            "quality": quality,
            "adversary": adversary,
        }
        calls.append({"source": source, "output": target, **options})
    try:
        with FolderLock(out) as lock:  # one run at a time per output folder, as for images
            for warning in lock.warnings:  # a lock a killed run left, taken over
                click.echo(f"warning: {warning}", err=True)
            return _conceal_all(calls, progress, engine, address, workers, threads)
    except KeyboardInterrupt:
        click.echo(
            "interrupted: the work done so far is kept beside each output (.NAME.deid/); run the same "
            "command with --resume to take it up (no report is written before a video is finished)",
            err=True,
        )
        raise click.exceptions.Exit(130) from None
    except BatchError as exc:  # the lock (another run holds the folder: 1; it cannot be written: 2), Ray
        if exc.param == "output":
            raise click.BadParameter(str(exc), param_hint="-o/--output") from exc
        raise click.ClickException(str(exc)) from exc


def _targets(inputs: tuple[str, ...], output: Path) -> tuple[Path, list[Path]]:
    """The folder a run writes into (and locks) and each input's output: ``output/NAME``, or
    ``output`` itself where it names a video file (a video suffix, not a folder) for one video
    input, as ``deface in.mp4 -o out.mp4`` does."""
    if is_video(output) and not output.is_dir():
        if len(inputs) != 1 or Path(inputs[0]).is_dir():
            raise click.BadParameter(
                f"{output} names one video file, but the inputs are {len(inputs)} "
                f"{'videos' if len(inputs) > 1 else 'folder of frames (written as frames)'}; "
                "give a folder to write them into",
                param_hint="-o/--output",
            )
        return output.parent, [output]
    names = [Path(name).name for name in inputs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise click.BadParameter(
            f"inputs {twice} would be written to one output each; conceal them in separate runs"
        )
    return output, [output / name for name in names]


def _conceal_all(
    calls: list[dict[str, Any]],
    progress: bool,
    engine: str,
    address: str | None,
    workers: int | None,
    threads: int | None,
) -> int:
    """:func:`conceal_videos`'s calls, on this machine or on Ray; the exit code of them all."""
    if engine == "ray":  # its BatchErrors are said by conceal_videos
        # the workers may run in other folders, on other machines: every path absolute
        remote = [
            {**call, "source": call["source"].resolve(), "output": call["output"].resolve()} for call in calls
        ]
        done = map_on_ray(conceal_judged_by, remote, address=address, workers=workers, threads=threads or 1)
        return _say_all((calls[i], outcome) for i, outcome in done)
    with torch_threads(threads):
        return _say_all((call, _run_one(call, progress)) for call in calls)


def conceal_judged_by(*, adversary: str, **call: Any) -> VideoReport:
    """:func:`deid.video.conceal_video` judged by the bundled adversary named (``"strong"`` or
    ``"fast"``), built where it runs (a Ray worker builds its own)."""
    return conceal_video(**call, adversary=Adversary.default(fused=adversary == "strong"))


def _run_one(call: dict[str, Any], progress: bool) -> VideoReport | Exception:
    try:
        return conceal_judged_by(**call, progress=progress)
    except VideoError as exc:
        return exc


def _say_all(outcomes: Iterable[tuple[dict[str, Any], VideoReport | Exception]]) -> int:
    """Print each video's outcome as it comes; the exit code of them all."""
    code = 0
    for call, report in outcomes:
        source, target = call["source"], call["output"]
        if isinstance(report, Exception):
            reason = report if isinstance(report, VideoError) else f"the Ray task failed: {report}"
            click.echo(f"error: {reason}", err=True)
            code = 1
            continue
        matched = [t.track for t in report.tracks if not t.private]
        click.echo(
            f"{source}: {report.frames_read} frames read, {report.frames_written} written, {len(report.tracks)} tracks, "
            f"{len(matched)} still matched, {_people(len(report.missed))} missed by the tracks -> {target}"
        )
        for note in report.notes:
            click.echo(f"  {note}")
        if not report.read_whole:
            click.echo(f"error: {source}: read only in part: the frames after are not in {target}", err=True)
            code = 1
        if "fused" not in report.judged_by:
            click.echo(
                f"  judged by {', '.join(report.judged_by)} only: a weaker attacker than the default's"
            )
        if not report.success:
            why = [f"tracks {matched} are still matched"] if matched else []
            if report.missed:
                n = len(report.missed)
                why.append(
                    f"{_people(n)} a second look found left out by the tracks (concealed on that frame only)"
                )
            if report.untreated:
                frames = len({u[0] for u in report.untreated})
                why.append(f"people moving outside every sighting (or parts of them) in {frames} frames")
            if report.camera_moved:
                why.append(f"the camera moved in {len(report.camera_moved)} frames")
            why = why or ["nobody was found"]
            click.echo(f"warning: {source}: {'; '.join(why)}; see {target}.json", err=True)
            code = code or 3
    return code


def _people(n: int) -> str:
    return f"{n} {people_word(n)}"

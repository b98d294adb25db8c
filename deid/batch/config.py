"""The settings of one ``deid conceal`` run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from deid.adversary import Adversary
from deid.batch.grouping import GROUP_BY
from deid.batch.inputs import BatchError
from deid.detection import KINDS
from deid.finder.config import FACE_THRESHOLD, FINDERS, FinderConfig, named_finder
from deid.loop.config import ConcealConfig
from deid.loop.frames import UNCERTAIN
from deid.loop.grouping import LINKS

#: The loop's settings a report has always recorded (the others only when not their default).
_RECORDED_LOOP = ("operator", "strength", "budget", "method", "colors", "seed", "shape", "head")
#: BatchConfig fields that do not change the outputs (a resumed run does not compare them).
_UNSHAPING = (
    "progress",
    "batch_size",
    "queue_megapixels",
    "resume",
    "engine",
    "address",
    "workers",
    "threads",
)

#: BatchConfig fields newer than the report, recorded only when set away from their default (a
#: default run records what it always did, and resuming an earlier run's report does not warn).
_RECORDED_WHEN_SET = ("kind", "link")
#: Where a batch runs: in this process, or on a Ray cluster (:mod:`deid.batch.ray_engine`).
ENGINES = ("local", "ray")

#: The bundled adversaries ``deid conceal --adversary`` offers: ``strong`` (the default) judges
#: with every bundled member, ``fast`` without the fused model (faster, weaker: on PETS S2.L1
#: 5.79 frames/s against 4.74, one run each in the same hour, ``benchmarks/video_conceal.py``).
ADVERSARIES = ("strong", "fast")


@dataclass(frozen=True)
class BatchConfig:
    """The settings of one ``deid conceal`` run; each CLI flag maps to one field.

    Attributes:
        inputs: files, folders or globs to conceal.
        output: the output folder; outputs mirror the input folders under it.
        loop: the conceal loop's settings (operator, attribution method, schedule, ...).
        adversary: the bundled adversary: ``"strong"`` (network, colour matcher and the network
            fused with LOMO + XQDA, the strongest attacker measured) or ``"fast"`` (without the
            fused model: faster, but it judges with a weaker attacker); ignored with ``weights``.
        top_k: the adversary's target: the true identity must rank below this many gallery
            items; None for the adversary's default.
        engine: ``"local"`` (this process) or ``"ray"`` (a pool of Ray actors; the same
            outputs and report, see :mod:`deid.batch.ray_engine`).
        address: the Ray cluster to join (``"auto"``, ``"HOST:PORT"``); None starts a local one.
        workers: how many Ray workers; None: as many as the cluster's CPUs hold.
        faces: the face net's threshold (``FinderConfig.faces``, default
            :data:`deid.finder.FACE_THRESHOLD`): a face no found person's head holds proposes a
            person; faces still found in a frame with its people concealed are concealed as
            ``loop.head`` says, and the frame is not private; 0: no face net.
        second_look: frames are looked at again with the thorough finder's settings, and the
            people that look confirms outside the boxes found are concealed too
            (``FinderConfig.look``; the thorough finder's first look already has them); and
            once more with their people pasted back concealed, for people left in the clear
            (``FinderConfig.look_written``, the thorough finder's too).
        batch_size: person crops per conceal call (at most; ``queue_megapixels`` may send
            fewer): the loop runs its people batched, so fewer, larger calls are faster. On the
            254 VIPeR test crops, ``deid conceal`` took 16.5 s with 128 against 18.9 s with 32
            (median of 5, one run; 1.26 GB peak against 1.11 GB).
        threads: torch threads of the local engine's process, or of each Ray worker (which
            reserves as many CPUs); None: all CPUs locally, one per Ray worker. Floating-point
            sums change with the thread count, so a seeded run's outputs are byte-identical
            across engines at the same ``threads``.
        link: ``"track"`` (a group's appearances share one treatment, so the person stays
            linkable under a pseudonym) or ``"none"`` (each appearance concealed on its own, with
            a treatment of its own, and still judged against every appearance of its group: one
            still matched by another is not private; :data:`deid.loop.LINKS`).
        kind: how each image is taken (:data:`deid.detection.KINDS`): ``"auto"`` (a person crop
            when at most 400 pixels high and 1.4 to 4 times as high as wide, else a frame
            searched for people), ``"crop"`` or ``"frame"`` for every image.
        Other fields: see ``deid conceal --help``.
    """

    inputs: tuple[str, ...]
    output: str
    loop: ConcealConfig = field(default_factory=ConcealConfig)
    group_by: str = "auto"
    link: str = "track"
    heatmaps: bool = False
    device: str = "cpu"
    report: str | None = None
    resume: bool = False
    boxes: str | None = None
    masks: str | None = None
    weights: str | None = None
    adversary: str = "strong"
    top_k: int | None = None
    keep_undetected: bool = False
    uncertain: str = "conceal"
    kind: str = "auto"
    finder: str = "default"
    faces: float = FACE_THRESHOLD
    second_look: bool = True
    batch_size: int = 128
    queue_megapixels: float = 96.0
    progress: bool = True
    engine: str = "local"
    address: str | None = None
    workers: int | None = None
    threads: int | None = None

    def __post_init__(self) -> None:
        if not self.inputs:
            raise BatchError("inputs must name at least one file, folder or glob, got none", param="inputs")
        if not isinstance(self.loop, ConcealConfig):
            raise BatchError(f"loop must be a ConcealConfig, got {type(self.loop).__name__}", param="loop")
        for name, choices in (
            ("group_by", GROUP_BY),
            ("link", LINKS),
            ("uncertain", UNCERTAIN),
            ("kind", KINDS),
            ("finder", FINDERS),
            ("adversary", ADVERSARIES),
            ("engine", ENGINES),
        ):
            if getattr(self, name) not in choices:
                raise BatchError(
                    f"{name} must be one of {list(choices)}, got {getattr(self, name)!r}", param=name
                )
        if self.report is not None and Path(self.report).suffix.lower() != ".json":
            raise BatchError(
                f"report must be a path ending in .json (the CSV and the journal go beside it), got {self.report!r}",
                param="report",
            )
        if self.boxes is not None and self.masks is not None:
            raise BatchError("give person boxes or person masks, not both", param="masks")
        if self.kind == "crop" and (self.boxes is not None or self.masks is not None):
            raise BatchError(
                "kind 'crop' takes every image for one person's crop; boxes and masks name people in frames",
                param="kind",
            )
        if self.masks is not None and not Path(self.masks).is_dir():
            raise BatchError(f"masks folder {self.masks}: no such folder", param="masks")
        if self.top_k is not None and self.top_k < 0:
            raise BatchError(f"top_k must be >= 0, got {self.top_k}", param="top_k")
        if self.engine == "local" and (self.address is not None or self.workers is not None):
            raise BatchError(
                "address and workers are for engine 'ray'; the local engine has none", param="engine"
            )
        for name in ("workers", "threads"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise BatchError(f"{name} must be >= 1, got {value}", param=name)
        if not 0.0 <= self.faces <= 1.0:
            raise BatchError(f"faces must be in [0, 1] (0: no face net), got {self.faces}", param="faces")
        if self.batch_size < 1:
            raise BatchError(f"batch_size must be >= 1, got {self.batch_size}", param="batch_size")
        if not self.queue_megapixels > 0 or self.queue_megapixels == float("inf"):
            raise BatchError(
                f"queue_megapixels must be a finite number > 0, got {self.queue_megapixels}",
                param="queue_megapixels",
            )

    @property
    def finder_config(self) -> FinderConfig:
        """The person finder's settings ``finder`` names, with the face net's threshold ``faces``
        and the second look (unless ``second_look`` is off)."""
        named = named_finder(self.finder)
        return replace(
            named,
            faces=self.faces or None,
            look=named.look and self.second_look,
            look_written=named.look_written and self.second_look,
        )

    @property
    def report_path(self) -> Path:
        """Where the JSON report goes (the CSV and the journal are beside it)."""
        return Path(self.report) if self.report else Path(self.output) / "report.json"

    def settings(self) -> dict[str, Any]:
        """What shapes the outputs, as the report records it (one flat mapping).

        The run's fields (``kind`` only when not ``"auto"``), then the loop's operator, strength,
        budget, method, colors, seed, shape and head, and any other loop field set away from its
        default; a resumed run warns when these differ from the earlier run's.
        """
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "loop":
                out.update(self._loop_settings())
            elif f.name == "top_k":  # None is the adversary's own: said as it is, so runs compare
                out[f.name] = Adversary.top_k if self.top_k is None else self.top_k
            elif f.name not in _UNSHAPING and (
                f.name not in _RECORDED_WHEN_SET or getattr(self, f.name) != f.default
            ):
                out[f.name] = getattr(self, f.name)
        return out

    def _loop_settings(self) -> dict[str, Any]:
        loop = asdict(self.loop)
        defaults = {f.name: f.default for f in fields(ConcealConfig)}
        out = {name: loop[name] for name in _RECORDED_LOOP}
        for name, value in loop.items():
            if name not in out and value != defaults[name]:
                out[name] = value
        return out

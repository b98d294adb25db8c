"""The settings of one ``deid conceal`` run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from deid.batch.inputs import GROUP_BY, BatchError
from deid.loop.config import ConcealConfig
from deid.operators.registry import build_operator


@dataclass(frozen=True)
class BatchConfig:
    """The settings of one ``deid conceal`` run; each CLI flag maps to one field."""

    inputs: tuple[str, ...]
    output: str
    operator: str = ConcealConfig.operator
    strength: float = ConcealConfig.strength
    group_by: str = "auto"
    heatmaps: bool = False
    device: str = "cpu"
    report: str | None = None
    resume: bool = False
    boxes: str | None = None
    weights: str | None = None
    top_k: int | None = None
    budget: int | None = None
    method: str = ConcealConfig.method
    colors: str = ConcealConfig.colors
    seed: int | None = None
    keep_undetected: bool = False
    batch_size: int = 32
    queue_megapixels: float = 96.0
    progress: bool = True

    def __post_init__(self) -> None:
        if not self.inputs:
            raise BatchError("inputs must name at least one file, folder or glob, got none", param="inputs")
        if self.group_by not in GROUP_BY:
            raise BatchError(
                f"group_by must be one of {list(GROUP_BY)}, got {self.group_by!r}", param="group_by"
            )
        if self.batch_size < 1:
            raise BatchError(f"batch_size must be >= 1, got {self.batch_size}", param="batch_size")
        if not self.queue_megapixels > 0 or self.queue_megapixels == float("inf"):
            raise BatchError(
                f"queue_megapixels must be a finite number > 0, got {self.queue_megapixels}",
                param="queue_megapixels",
            )
        try:
            build_operator(self.operator, self.strength)
        except ValueError as exc:
            raise BatchError(str(exc), param="operator") from exc

    @property
    def report_path(self) -> Path:
        """Where the JSON report goes (the CSV and the journal are beside it)."""
        return Path(self.report) if self.report else Path(self.output) / "report.json"

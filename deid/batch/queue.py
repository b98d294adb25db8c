"""The runner's queue: people waiting for one conceal call, within a crop count and a pixel budget.

People wait until about ``batch_size`` crops are ready, or until the images held (whole frames
and the people cut from them) would pass ``megapixels``; then they go to the conceal function
together. A waiting 8-bit frame is held as uint8 (3 bytes a pixel instead of 12).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from deid.batch.inputs import InputFile
from deid.batch.results import CropResult
from deid.boxes import Box
from deid.loop.untreated import Outline


@dataclass
class Job:
    """A group of crops (one person) or one frame (one person per box), waiting to be concealed."""

    key: str
    members: list[InputFile]
    held: list[torch.Tensor]  # the images as read; a waiting 8-bit frame as uint8 (see compact)
    people: list[list[torch.Tensor]]
    boxes: list[Box] = field(default_factory=list)
    source: str = ""
    seconds: float = 0.0  # detection time, then plus this job's share of the conceal call
    results: list[list[CropResult]] = field(default_factory=list)
    found: list[dict[str, Any]] | None = None  # what the finder saw of each person (not for --boxes)
    flagged: list[Box] = field(default_factory=list)  # unsure people left unchanged (--uncertain flag)
    #: whom the second look confirmed (FramePeople.looked): silhouettes in their boxes, bool, a
    #: twelfth of the bytes of the people's float crops; not counted in :attr:`pixels`.
    looked: list[Outline] = field(default_factory=list)

    @property
    def images(self) -> list[torch.Tensor]:
        """The images ``(3, H, W)`` float in [0, 1], exactly as read."""
        return [image if image.is_floating_point() else image.float().div_(255.0) for image in self.held]

    @property
    def is_frame(self) -> bool:
        return self.key.startswith("frame:")

    @property
    def crops(self) -> int:
        return sum(len(p) for p in self.people)

    @property
    def pixels(self) -> int:
        """Pixels held while waiting: the images, and the people cut out of a frame (copies)."""
        images = list(self.held)
        if self.is_frame:
            images += [crop for person in self.people for crop in person]
        return sum(image.shape[-2] * image.shape[-1] for image in images)


class Queue:
    """Jobs waiting for a conceal call; :meth:`add` says which are to be concealed now."""

    def __init__(self, *, batch_size: int, megapixels: float) -> None:
        self.batch_size = batch_size
        self.budget = megapixels * 1e6
        self.pending: list[Job] = []

    @property
    def pixels(self) -> int:
        """Pixels of the images waiting: whole frames, crops and the people cut out."""
        return sum(job.pixels for job in self.pending)

    def add(self, job: Job) -> list[list[Job]]:
        """Queue ``job``; returns the batches to conceal now, in order.

        A batch is taken at ``batch_size`` crops, or first without ``job`` if ``job`` would take
        the queue past the pixel budget (a job larger than the whole budget goes through alone).
        """
        ready = []
        if self.pending and self.pixels + job.pixels > self.budget:
            ready.append(self.take())
        self.pending.append(job)
        if self.pixels > self.budget or sum(j.crops for j in self.pending) >= self.batch_size:
            ready.append(self.take())
        return ready

    def take(self) -> list[Job]:
        """Every waiting job, leaving the queue empty."""
        jobs, self.pending = self.pending, []
        return jobs


def compact(image: torch.Tensor) -> torch.Tensor:
    """``image`` as uint8 when that holds it exactly (an 8-bit file: a quarter of the memory)."""
    levels = torch.mul(image, 255.0).round_().to(torch.uint8)
    return levels if torch.equal(levels.float().div_(255.0), image) else image

"""Stand-ins for the person finder and the pose model on scripted frames (bright rectangles)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import deid.video.follow as follow
from deid.adversary import Adversary
from deid.boxes import Box
from deid.finder import Person
from deid.video import Frame, Sighting
from reid_model import embed
from reid_model.io import write_bytes_atomic
from tests.conftest import TinyEmbedder


def people_in(image: torch.Tensor) -> list[Person]:
    """Bright rectangles of an image are its people (one per column band of bright pixels)."""
    bright = image.mean(0) > 0.5
    cols = bright.any(0).nonzero().flatten().tolist()
    people, start = [], None
    for c in [*cols, None]:
        if start is None:
            start = prev = c
        elif c is None or c != prev + 1:
            rows = bright[:, start : prev + 1].any(1).nonzero().flatten()
            y0, y1 = int(rows[0]), int(rows[-1]) + 1
            box = Box(start, y0, prev + 1 - start, y1 - y0, 0.9)
            keypoints = torch.zeros(33, 3)
            keypoints[:, 0], keypoints[:, 1], keypoints[:, 2] = start + box.w / 2, y0 + 2, 1.0
            people.append(Person(box, 0.9, bright.clone(), keypoints, uncertain=False))
            start = prev = c
        else:
            prev = c
    return people


def sighting(frame: int, track: int, box: Box, pixels: torch.Tensor) -> Sighting:
    """A person found in the whole of ``box``, their crop ``pixels`` ``(3, h, w)`` in [0, 1] as bytes."""
    crop = (pixels * 255).round().to(torch.uint8)
    return Sighting(
        frame, track, box, torch.ones(crop.shape[1:], dtype=torch.bool), torch.zeros(33, 3), "found", crop
    )


def walking_frames(n: int, people: dict[int, tuple[int, int, int]]) -> list[Frame]:
    """``people``: per person, (first frame, last frame, x at frame 0); each walks 2 px a frame."""
    frames = []
    for i in range(n):
        pixels = np.full((60, 120, 3), 20, np.uint8)
        for first, last, x0 in people.values():
            if first <= i <= last:
                x = x0 + 2 * i
                pixels[10:50, x : x + 12] = 230
        frames.append(Frame(i, pixels))
    return frames


@pytest.fixture
def stand_ins(monkeypatch: pytest.MonkeyPatch) -> None:
    patch_stand_ins(monkeypatch)


def patch_stand_ins(monkeypatch: pytest.MonkeyPatch) -> None:
    """The follower's finder and pose model replaced by :func:`people_in`."""
    monkeypatch.setattr(follow, "find_people", lambda image, config=None, known=(): people_in(image))

    def in_crop(crop: torch.Tensor, config: object = None, recentre: bool = True) -> Person:
        found = people_in(crop)
        if not found:
            return Person(
                Box(0, 0, crop.shape[2], crop.shape[1]),
                0.0,
                torch.ones(crop.shape[1:], dtype=torch.bool),
                torch.zeros(33, 3),
                uncertain=True,
            )
        return max(found, key=lambda p: p.box.w * p.box.h)

    monkeypatch.setattr(
        follow, "find_people_in_crops", lambda crops, config=None, recentre=True: [in_crop(c) for c in crops]
    )


def walking_folder(tmp_path: Path) -> Path:
    """Two people walking through 24 frames, as a folder of PNG frames."""
    folder = tmp_path / "frames"
    folder.mkdir()
    for frame in walking_frames(24, {0: (0, 23, 5), 1: (2, 23, 60)}):
        ok, data = cv2.imencode(".png", frame.pixels[..., ::-1])
        assert ok
        write_bytes_atomic(folder / f"{frame.index:03d}.png", data.tobytes())
    return folder


@pytest.fixture
def adversary(tiny_embedder: TinyEmbedder) -> Adversary:
    """A quick adversary: the tiny network, a gallery of random crops."""
    gallery = embed(tiny_embedder, torch.rand(20, 3, 128, 48, generator=torch.Generator().manual_seed(0)))
    return Adversary([tiny_embedder], [gallery], top_k=1)


def variable_rate_clip(path: Path, times: list[int], pixels: list[np.ndarray] | None = None) -> Path:
    """A clip whose frames (``pixels``, else grey levels) are unevenly spaced: time stamps
    ``times`` in milliseconds."""
    import av

    pixels = pixels or [np.full((48, 64, 3), 20 * i, np.uint8) for i in range(len(times))]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = pixels[0].shape[1], pixels[0].shape[0], "yuv420p"
        stream.time_base = stream.codec_context.time_base = Fraction(1, 1000)
        for image, t in zip(pixels, times, strict=True):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = t, Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path

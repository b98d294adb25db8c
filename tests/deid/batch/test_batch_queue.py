"""The batch queue holds whole frames against a pixel budget (``--queue-megapixels``), not a crop count."""

from __future__ import annotations

import gc
import json
import weakref
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import deid.batch.runner
from deid.batch import BatchConfig, BatchError, CropResult, run_batch
from reid_model.io import read_image
from tests.conftest import REPO

EXAMPLES = REPO / "examples" / "images"
PEOPLE = sorted(EXAMPLES.glob("cam_*/*.bmp"))
# (height, width) of the frames, in the order they are read; 0.2 MP is the budget of the test
SIZES = [(240, 320), (300, 400), (200, 300), (720, 960), (240, 320), (320, 240), (480, 400), (300, 300)]
BUDGET = 0.2


def _frames(root: Path) -> dict[str, list[list[int]]]:
    """Frames of SIZES in one folder with real VIPeR crops pasted on grey, and their boxes."""
    root.mkdir(parents=True)
    boxes = {}
    for i, (height, width) in enumerate(SIZES):
        frame = np.full((height, width, 3), 100, np.uint8)
        mine = []
        for j in range(1 + i % 2):  # one or two people
            crop = cv2.imread(str(PEOPLE[(i + j) % len(PEOPLE)]))
            x, y = 10 + 60 * j, 10 + 30 * j
            frame[y : y + 128, x : x + 48] = crop
            mine.append([x, y, 48, 128])
        cv2.imwrite(str(root / f"f{i}.png"), frame)
        boxes[f"f{i}.png"] = mine
    return boxes


def test_frames_are_queued_against_a_pixel_budget(tmp_path, monkeypatch):
    boxes = _frames(tmp_path / "in")
    (tmp_path / "boxes.json").write_text(json.dumps(boxes))
    alive: list[tuple[weakref.ref[torch.Tensor], int]] = []
    original_read = deid.batch.runner.read_image_hashed

    def tracked_read(path):
        image, digest = original_read(path)
        alive.append((weakref.ref(image), image.shape[-2] * image.shape[-1]))
        return image, digest

    calls: list[dict] = []

    def conceal_batch(people, paths):
        gc.collect()
        frames = {p[0] for p in paths}
        sizes = {p: read_image(p).shape[-2] * read_image(p).shape[-1] for p in frames}
        calls.append(
            {
                "frames": len(frames),
                "queued": sum(sizes.values()) + sum(c.shape[-2] * c.shape[-1] for p in people for c in p),
                "largest": max(sizes.values()),
                "held": sum(n for ref, n in alive if ref() is not None),
            }
        )
        return [
            [
                CropResult.of(image=torch.full_like(c, 0.5), steps=1, area=1.0, fallback=False, success=True)
                for c in p
            ]
            for p in people
        ]

    monkeypatch.setattr(deid.batch.runner, "read_image_hashed", tracked_read)
    config = BatchConfig(
        inputs=(str(tmp_path / "in"),),
        output=str(tmp_path / "out"),
        boxes=str(tmp_path / "boxes.json"),
        group_by="folder",  # one group: its frames must still not all be read up front
        queue_megapixels=BUDGET,
        progress=False,
    )
    summary = run_batch(config, conceal_batch=conceal_batch)
    assert summary.counts["ok"] == len(SIZES)
    budget = BUDGET * 1e6
    largest = max(h * w for h, w in SIZES)
    for call in calls:
        # the queue: within the budget, or one frame larger than the budget on its own
        assert call["queued"] <= budget or (call["frames"] == 1 and call["largest"] > budget), call
        # in memory: the queue plus at most the one frame just read that did not fit beside it
        assert call["held"] <= budget + largest, call
    assert any(call["frames"] > 1 for call in calls)  # still batched, not one frame per call
    assert sum(call["frames"] for call in calls) == len(SIZES)
    alone = [call for call in calls if call["largest"] == 720 * 960]
    assert len(alone) == 1 and alone[0]["frames"] == 1


def test_crops_are_still_batched_by_count(crop_tree, tmp_path):
    sizes = []

    def conceal_batch(people, paths):
        sizes.append(sum(len(p) for p in people))
        return [
            [
                CropResult.of(image=torch.full_like(c, 0.5), steps=1, area=1.0, fallback=False, success=True)
                for c in p
            ]
            for p in people
        ]

    config = BatchConfig(
        inputs=(str(crop_tree),), output=str(tmp_path / "out"), batch_size=3, group_by="viper", progress=False
    )
    run_batch(config, conceal_batch=conceal_batch)
    assert sizes == [4, 3]  # persons 000 and 001 (2 crops each) pass 3; then 002 and x.png


@pytest.mark.parametrize("value", [0.0, -1.0, float("nan"), float("inf")])
def test_a_bad_budget_is_refused(tmp_path, value):
    with pytest.raises(BatchError, match="queue_megapixels must be a finite number > 0") as info:
        BatchConfig(inputs=(str(tmp_path),), output=str(tmp_path / "out"), queue_megapixels=value)
    assert info.value.param == "queue_megapixels"


def test_a_waiting_frame_is_held_in_8_bits_only_when_that_is_exact():
    from deid.batch.queue import Job, compact

    eight = torch.randint(0, 256, (3, 40, 30), dtype=torch.uint8).float() / 255.0
    held = compact(eight)
    assert held.dtype == torch.uint8
    assert torch.equal(Job("frame:x", [], [held], []).images[0], eight)  # bit for bit as read
    sixteen = torch.randint(0, 65536, (3, 40, 30)).float() / 65535.0
    assert compact(sixteen).dtype == torch.float32 and torch.equal(compact(sixteen), sixteen)

"""``--boxes`` in a batch: which input a key names, boxes partly or wholly outside the frame."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from deid.batch import BatchConfig, BatchError, run_batch
from deid.cli import main
from reid_model.io import read_image
from tests.conftest import REPO

EXAMPLES = REPO / "examples" / "images"


def _frame(path: Path, crops: list[str], places: list[tuple[int, int]]) -> list[list[int]]:
    """A 300x400 grey frame with real VIPeR crops (from examples/images) at ``places`` (x, y)."""
    frame = np.full((300, 400, 3), 90, np.uint8)
    boxes = []
    for name, (x, y) in zip(crops, places, strict=True):
        crop = cv2.imread(str(EXAMPLES / name))
        shown = frame[y : y + crop.shape[0], x : x + crop.shape[1]]  # a person may be cut by the edge
        shown[...] = crop[: shown.shape[0], : shown.shape[1]]
        boxes.append([x, y, crop.shape[1], crop.shape[0]])
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), frame)
    return boxes


def _run(tmp_path: Path, inputs: list[Path], boxes: dict, stand_in, **options):
    (tmp_path / "boxes.json").write_text(json.dumps(boxes))
    config = BatchConfig(
        inputs=tuple(str(i) for i in inputs),
        output=str(tmp_path / "out"),
        boxes=str(tmp_path / "boxes.json"),
        progress=False,
        **options,
    )
    return run_batch(config, conceal_group=stand_in)


def _records(summary) -> dict[str, dict]:
    data = json.loads(summary.report_json.read_text())
    return {r["relative"]: r for r in data["records"]}


def _concealed_exactly(tmp_path: Path, relative: str, box: list[int]) -> bool:
    """Whether the output is the stand-in's grey inside ``box`` (x, y, w, h) and the input elsewhere."""
    before = read_image(tmp_path / "in" / relative)
    after = read_image(tmp_path / "out" / relative)
    x, y, w, h = box
    inside = torch.zeros(before.shape[-2:], dtype=torch.bool)
    inside[y : y + h, x : x + w] = True
    grey = bool(((after[:, inside] - 0.5).abs() <= 1 / 255).all())
    return grey and torch.equal(after[:, ~inside], before[:, ~inside])


@pytest.fixture
def two_cameras(tmp_path: Path) -> tuple[list[int], list[int]]:
    """``in/camA/f.png`` and ``in/camB/f.png``: same name, a different person at a different place."""
    a = _frame(tmp_path / "in" / "camA" / "f.png", ["cam_a/001_45.bmp"], [(30, 20)])[0]
    b = _frame(tmp_path / "in" / "camB" / "f.png", ["cam_b/014_90.bmp"], [(250, 100)])[0]
    return a, b


def test_a_bare_name_matching_two_inputs_is_an_error_naming_them(tmp_path, two_cameras, stand_in):
    a, _ = two_cameras
    with pytest.raises(BatchError, match=r"'f.png' matches 2 inputs") as info:
        _run(tmp_path, [tmp_path / "in"], {"f.png": [a]}, stand_in)
    message = str(info.value)
    assert (
        str(tmp_path / "in" / "camA" / "f.png") in message
        and str(tmp_path / "in" / "camB" / "f.png") in message
    )
    assert info.value.param == "boxes" and not (tmp_path / "out").exists() and stand_in.calls == []
    # two input folders: the name is relative to each of them, so just as ambiguous
    with pytest.raises(BatchError, match="matches 2 inputs"):
        _run(tmp_path, [tmp_path / "in" / "camA", tmp_path / "in" / "camB"], {"f.png": [a]}, stand_in)


def test_keys_by_relative_or_full_path_reach_only_their_file(tmp_path, two_cameras, stand_in):
    a, b = two_cameras
    boxes = {"camA/f.png": [a], str(tmp_path / "in" / "camB" / "f.png"): [b]}
    summary = _run(tmp_path, [tmp_path / "in"], boxes, stand_in)
    records = _records(summary)
    assert records["camA/f.png"]["status"] == "ok" and records["camB/f.png"]["status"] == "ok"
    assert _concealed_exactly(tmp_path, "camA/f.png", a)  # its own person, nothing else
    assert _concealed_exactly(tmp_path, "camB/f.png", b)
    assert summary.warnings == [] and summary.exit_code == 0


def test_a_key_naming_no_input_is_a_warning(tmp_path, two_cameras, stand_in):
    a, b = two_cameras
    boxes = {"camA/f.png": [a], "camB/f.png": [b], "camC/f.png": [a]}
    summary = _run(tmp_path, [tmp_path / "in"], boxes, stand_in)
    assert summary.counts["ok"] == 2
    assert summary.warnings == [f"boxes file {tmp_path / 'boxes.json'}: 1 key(s) name no input: 'camC/f.png'"]


def test_two_keys_with_different_boxes_for_one_file_are_an_error(tmp_path, two_cameras, stand_in):
    a, b = two_cameras
    with pytest.raises(BatchError, match=r"keys 'camA/f.png' and .* both name .*camA/f.png"):
        _run(tmp_path, [tmp_path / "in"], {"camA/f.png": [a], str(tmp_path / "in/camA/f.png"): [b]}, stand_in)


def test_a_box_partly_outside_is_clipped_with_a_warning_in_the_record(tmp_path, stand_in):
    box = _frame(tmp_path / "in" / "edge.png", ["cam_a/014_0.bmp"], [(372, 10)])[0]  # 20 px cut off
    summary = _run(tmp_path, [tmp_path / "in"], {"edge.png": [box]}, stand_in)
    record = _records(summary)["edge.png"]
    assert record["status"] == "ok" and record["persons"] == 1
    assert record["note"].startswith("1 person from the boxes file")
    assert f"box 0 {box} reaches outside the 300x400 frame" not in record["note"]  # width x height
    assert f"box 0 {box} reaches outside the 400x300 frame: clipped to [372, 10, 28, 128]" in record["note"]
    assert "warning" in record["note"] and len(summary.warnings) == 1 and "clipped" in summary.warnings[0]
    assert _concealed_exactly(tmp_path, "edge.png", [372, 10, 28, 128])


def test_a_box_wholly_outside_fails_that_file_and_the_batch_goes_on(tmp_path, stand_in):
    inside = _frame(tmp_path / "in" / "a.png", ["cam_a/016_0.bmp"], [(30, 20)])[0]
    _frame(tmp_path / "in" / "b.png", ["cam_b/001_90.bmp"], [(100, 50)])
    boxes = {"a.png": [inside, [500, 20, 48, 128]], "b.png": [[100, 50, 48, 128]]}
    summary = _run(tmp_path, [tmp_path / "in"], boxes, stand_in)
    records = _records(summary)
    assert records["a.png"]["status"] == "failed" and records["a.png"]["output"] is None
    assert "box 1 [500, 20, 48, 128] lies wholly outside the 400x300 frame" in records["a.png"]["error"]
    assert not (tmp_path / "out" / "a.png").exists()
    assert records["b.png"]["status"] == "ok" and (tmp_path / "out" / "b.png").is_file()
    assert summary.exit_code == 1


def test_the_cli_names_boxes_for_an_ambiguous_key(tmp_path, two_cameras, stand_in):
    (tmp_path / "boxes.json").write_text(json.dumps({"f.png": [two_cameras[0]]}))
    result = CliRunner().invoke(
        main,
        [
            "conceal",
            str(tmp_path / "in"),
            "-o",
            str(tmp_path / "out"),
            "--boxes",
            str(tmp_path / "boxes.json"),
        ],
        obj={"conceal_group": stand_in},
    )
    assert result.exit_code == 2 and "--boxes" in result.output and "matches 2 inputs" in result.output
    assert not (tmp_path / "out").exists()

"""``deid detect``: JSON and masks on made-up and real images; bad input gives clear errors."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from deid.batch.boxes import load_boxes
from deid.cli import main
from deid.finder import MODEL_PATH, MODEL_SHA256
from tests.deid.conftest import write_crop


def _plain(path, height=240, width=320):
    yy, xx = np.mgrid[0:height, 0:width]
    image = np.stack([80 + 60 * xx / width, 90 + 50 * yy / height, np.full_like(xx, 100.0)], -1)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), image.astype(np.uint8))
    return path


def test_no_person_gives_an_empty_list_and_an_empty_mask(tmp_path):
    src = _plain(tmp_path / "in" / "street.png")
    before = src.read_bytes()
    out = tmp_path / "found.json"
    result = CliRunner().invoke(
        main, ["detect", str(src), "--json", str(out), "--masks", str(tmp_path / "m")]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text()) == {"street.png": []}
    assert "no person found" in result.output
    mask = cv2.imread(str(tmp_path / "m" / "street.png"), cv2.IMREAD_UNCHANGED)
    assert mask.shape == (240, 320) and mask.dtype == np.uint8 and not mask.any()
    assert src.read_bytes() == before


def test_an_image_too_small_is_reported_and_the_exit_status_is_1(tmp_path):
    small = _plain(tmp_path / "in" / "tiny.png", height=40, width=30)
    fine = _plain(tmp_path / "in" / "plain.png")
    out = tmp_path / "found.json"
    result = CliRunner().invoke(main, ["detect", str(small), str(fine), "--json", str(out)])
    assert result.exit_code == 1
    assert f"error: {small}: image is 30x40 pixels, too small for the person finder" in result.output
    assert json.loads(out.read_text()) == {"plain.png": []}


def test_a_corrupt_model_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "pose.tflite"
    shutil.copyfile(MODEL_PATH, bad)
    with bad.open("r+b") as handle:
        handle.seek(1000)
        handle.write(b"\0\0\0\0")
    src = _plain(tmp_path / "a.png")
    result = CliRunner().invoke(
        main, ["detect", str(src), "--json", str(tmp_path / "o.json"), "--model", str(bad)]
    )
    assert result.exit_code != 0
    assert f"model file {bad}: sha256 is" in result.output
    assert MODEL_SHA256 in result.output
    assert not (tmp_path / "o.json").exists()


def test_the_json_may_not_overwrite_an_input(tmp_path):
    src = _plain(tmp_path / "a.png")
    result = CliRunner().invoke(main, ["detect", str(src), "--json", str(src)])
    assert result.exit_code == 2 and "would be overwritten" in result.output


@pytest.mark.slow
def test_real_frame_json_masks_and_boxes_round_trip(pennfudan_root, tmp_path):
    src = pennfudan_root / "PNGImages" / "PennPed00001.png"
    out = tmp_path / "found.json"
    result = CliRunner().invoke(
        main, ["detect", str(src), "--json", str(out), "--masks", str(tmp_path / "m")]
    )
    assert result.exit_code == 0, result.output
    persons = json.loads(out.read_text())["PennPed00001.png"]
    confirmed = [p for p in persons if not p["uncertain"]]
    assert len(confirmed) >= 3  # 5 labelled; 4 found at IoU >= 0.5 when measured
    labels = cv2.imread(str(tmp_path / "m" / "PennPed00001.png"), cv2.IMREAD_UNCHANGED)
    assert labels.shape == (406, 612)
    assert set(np.unique(labels).tolist()) <= set(range(len(persons) + 1))
    for i, person in enumerate(persons, start=1):
        x, y, w, h = person["box"]
        assert all(isinstance(v, int) for v in person["box"])
        assert 0 <= person["score"] <= 1
        assert len(person["keypoints"]) == 33 and all(len(k) == 3 for k in person["keypoints"])
        ys, xs = np.nonzero(labels == i)
        if not person["uncertain"]:  # the box is tight around the person's label
            assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (x, y, x + w, y + h)
    boxes = load_boxes(out)["PennPed00001.png"]
    assert [list(b[:4]) for b in boxes] == [p["box"] for p in persons]


def test_the_thorough_finder_is_an_option(tmp_path):
    src = _plain(tmp_path / "a.png")
    out = tmp_path / "o.json"
    result = CliRunner().invoke(main, ["detect", str(src), "--json", str(out), "--finder", "thorough"])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text()) == {"a.png": []}
    bad = CliRunner().invoke(main, ["detect", str(src), "--json", str(out), "--finder", "fast"])
    assert bad.exit_code == 2 and "'fast' is not one of 'default', 'thorough'" in bad.output


def test_ctrl_c_exits_130(tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("deid.cli.detect.find_people", interrupted)
    write_crop(tmp_path / "in" / "frame.png", seed=0, size=(300, 400))
    result = CliRunner().invoke(main, ["detect", str(tmp_path / "in"), "--json", str(tmp_path / "p.json")])
    assert result.exit_code == 130 and "interrupted" in result.output

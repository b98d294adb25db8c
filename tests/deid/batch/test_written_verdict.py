"""A record's verdict holds for the file as written: re-read every output, re-check it independently.

The batch runs the real loop on the real VIPeR crops of ``examples/images``; then every written
output is read back from disk and checked by an adversary built here from the bundled parts
(network, colour matcher and their galleries), not the runner's cached one. A record that says
``success`` must be private on the decoded file, against the originals its verdict was taken on:
its own original when it was concealed alone, the other appearances of its group when grouped.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest
import torch
from click.testing import CliRunner

from deid import Adversary
from deid.batch.runner import ALONE
from deid.cli import main
from reid_model import color_gallery, default_gallery, embed, load_color_matcher, load_default, read_image
from tests.conftest import REPO

EXAMPLES = REPO / "examples" / "images"


def _independent_adversary() -> Adversary:
    models = [load_default(), load_color_matcher()]
    return Adversary(models, [default_gallery()[0], color_gallery()[0]])


def _partners(record: dict, records: list[dict]) -> list[dict]:
    """The records whose originals this record's verdict is taken against.

    A grouped appearance: the other views of its group. A split one: its own original, and the
    other views its group claimed too (one person by the names, whatever the adversary linked).
    """
    reason = record.get("group_reason")
    mates = [r for r in records if r["group"] == record["group"] and r["input"] != record["input"]]
    if reason is None or reason == ALONE:  # a group of one: its own original only
        return [record]
    if reason.startswith("grouped"):
        return mates
    if reason.startswith("split from its group"):
        return [record, *mates]
    pytest.fail(f"unexpected group_reason: {reason!r}")


def _copy_inputs(root: Path, suffix: str, *, layout: str) -> int:
    """The six real crops as VIPeR (``cam_a/001_45.bmp``), or two as phone photos (issue 9, case 1)."""
    sources = sorted(EXAMPLES.glob("cam_*/*.bmp"))
    if layout == "phone":
        sources = [EXAMPLES / "cam_a" / "001_45.bmp", EXAMPLES / "cam_a" / "014_0.bmp"]
    for k, source in enumerate(sources):
        if layout == "viper":
            target = root / source.parent.name / (source.stem + suffix)
        else:
            target = root / f"20240101_{k + 1:06d}{suffix}"
        target.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(target), cv2.imread(str(source)))
    return len(sources)


def _private(adversary: Adversary, written: torch.Tensor, originals: torch.Tensor) -> bool:
    """Whether ``written (3, H, W)`` defeats every model against every one of ``originals``.

    By hand per model: the written image is the query; each original must not beat more than
    ``max_match_rate`` of the gallery, nor rank in its top ``top_k``.
    """
    for model, gallery in zip(adversary.models, adversary.galleries, strict=True):
        query = embed(model, written[None])[0]
        d_neg = (gallery - query).norm(dim=1)
        for original in embed(model, originals):
            d_pos = (original - query).norm()
            rate = float((d_pos < d_neg).float().mean())
            rank = 1 + int((d_neg < d_pos).sum())
            if rate > adversary.max_match_rate or rank <= adversary.top_k:
                return False
    return True


def _contradictions(out: Path, n: int) -> list[str]:
    records = json.loads((out / "report.json").read_text())["records"]
    assert len(records) == n and all(r["status"] == "ok" for r in records), records
    assert all(isinstance(r["success"], bool) for r in records)
    assert any(r["success"] for r in records)  # something to check
    adversary = _independent_adversary()
    wrong = []
    for record in records:
        written = read_image(record["output"])  # decoded from disk, as anyone would read it
        originals = torch.stack([read_image(p["input"]) for p in _partners(record, records)])
        if record["success"] and not _private(adversary, written, originals):
            wrong.append(f"{Path(record['output']).name}: reported private, matched as written")
    return wrong


def _run(root: Path, out: Path) -> None:
    result = CliRunner().invoke(
        main, ["conceal", str(root), "-o", str(out), "--seed", "0", "--no-progress"], catch_exceptions=False
    )
    records = json.loads((out / "report.json").read_text())["records"]
    matched = any(r["success"] is False for r in records)
    assert result.exit_code == (3 if matched else 0), result.output


@pytest.mark.parametrize(
    ("layout", "suffix"),
    [
        ("viper", ".bmp"),  # lossless: what the loop returned, rounded to uint8
        ("viper", ".jpg"),  # lossy: the verdict must be taken after encoding
        ("phone", ".bmp"),  # issue 9, case 1: two different people named like phone photos
    ],
)
def test_written_outputs_hold_their_verdict(tmp_path, layout, suffix):
    root = tmp_path / "in"
    n = _copy_inputs(root, suffix, layout=layout)
    _run(root, tmp_path / "out")
    assert _contradictions(tmp_path / "out", n) == []

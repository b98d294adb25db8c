"""Report files accept input names that are not valid UTF-8 (issue 9, case 6)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from deid.batch.report import Record, Report


def test_non_utf8_name_is_escaped_and_found_on_resume(tmp_path: Path) -> None:
    name = os.fsdecode(b"bad\xffname.bmp")
    report = Report(tmp_path / "report", settings={})
    report.add(Record(input=name, status="failed", error="x"))
    report.close()
    assert "bad\\udcffname.bmp" in (tmp_path / "report.csv").read_text(encoding="utf-8")
    json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    for line in (tmp_path / "report.jsonl").read_text(encoding="utf-8").splitlines():
        json.loads(line)
    again = Report(tmp_path / "report", settings={}, resume=True)
    try:
        assert name in again.previous
    finally:
        again.close()


def test_output_under_a_file_blames_output(tmp_path: Path, stand_in) -> None:
    from deid.batch import BatchConfig, BatchError, run_batch
    from tests.deid.conftest import write_crop

    crop = write_crop(tmp_path / "in" / "a.png", seed=0)
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    config = BatchConfig(inputs=(str(crop),), output=str(blocker / "out"), progress=False)
    with pytest.raises(BatchError) as info:
        run_batch(config, conceal_group=stand_in)
    assert info.value.param == "output" and "file.txt" in str(info.value)


def test_resume_after_a_torn_journal_line_keeps_the_next_record(tmp_path: Path) -> None:
    report = Report(tmp_path / "report", settings={})
    report.add(Record(input="a.png", status="failed", error="x"))
    report.close()
    with open(tmp_path / "report.jsonl", "ab") as handle:
        handle.write(b'{"input": "b.png", "sta')
    with pytest.warns(UserWarning, match="cut short"):
        again = Report(tmp_path / "report", settings={}, resume=True)
    again.add(Record(input="c.png", status="failed", error="y"))
    again.close()
    lines = (tmp_path / "report.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["input"] for line in lines] == ["a.png", "c.png"]

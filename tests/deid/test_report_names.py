"""Report files accept input names that are not valid UTF-8 (issue 9, case 6)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from deid._report import Record, Report


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

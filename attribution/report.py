"""Write an analysis to a folder: CSV and JSON tables, PNG plots and a findings text."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from attribution._tables import BY_ATTRIBUTE_COLUMNS, IMPACT_COLUMNS, PROBE_COLUMNS
from attribution.analysis import AnalysisResult
from attribution.plots import (
    plot_concealment,
    plot_heatmap_grid,
    plot_impact,
    plot_probe,
    plot_region_shares,
)
from reid_model.io import write_bytes_atomic


def _csv(rows: Sequence[dict[str, Any]], columns: Sequence[str] = ()) -> bytes:
    """``rows`` as CSV; a table of no rows is its header (``columns``) alone."""
    buffer = io.StringIO()
    fieldnames = list(rows[0]) if rows else list(columns)
    if fieldnames:
        writer = csv.DictWriter(buffer, fieldnames=fieldnames, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    return buffer.getvalue().encode()


def _clean(value: Any) -> Any:
    """JSON has no NaN: turn it into null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def write_report(result: AnalysisResult, out: str | os.PathLike[str]) -> list[Path]:
    """Write ``result`` to the folder ``out`` (created if needed); return the files written.

    Files: ``region_shares``, ``shares_by_attribute``, ``probe``, ``concealment`` and
    ``impact`` as ``.csv`` (one row per line) and together in ``summary.json``; the plots
    ``region_shares.png``, ``probe.png``, ``concealment.png``, ``impact.png`` and
    ``heatmaps.png``; and ``findings.txt``. A table with no rows is written as its header, and
    its plot is not drawn (an earlier run's plot of it in ``out`` is removed).

    Example:
        >>> write_report(analyze(model, samples, table, persons), "runs/analysis")  # doctest: +SKIP
    """
    out = Path(out)
    files: dict[str, bytes] = {
        "region_shares.csv": _csv(result.region_shares),
        "shares_by_attribute.csv": _csv(result.shares_by_attribute, BY_ATTRIBUTE_COLUMNS),
        "probe.csv": _csv(result.probe, PROBE_COLUMNS),
        "concealment.csv": _csv(result.concealment),
        "impact.csv": _csv(result.impact, IMPACT_COLUMNS),
        "summary.json": json.dumps(_clean(result.summary()), indent=1).encode(),
        "findings.txt": ("\n".join(result.findings) + "\n").encode(),
        "region_shares.png": plot_region_shares(result.region_shares),
        "concealment.png": plot_concealment(result.concealment),
        "heatmaps.png": plot_heatmap_grid(result.examples),
    }
    if result.probe:
        files["probe.png"] = plot_probe(result.probe)
    if result.impact:
        files["impact.png"] = plot_impact(result.impact)
    written = []
    for name, data in files.items():
        write_bytes_atomic(out / name, data)
        written.append(out / name)
    for name in ("probe.png", "impact.png"):  # an earlier run's plot of a table now empty
        if name not in files:
            (out / name).unlink(missing_ok=True)
    return written

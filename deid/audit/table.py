"""The audit's outputs: a text table, CSV and JSON files, and the privacy-utility plot."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deid.audit.form import FORM_KEYS
from reid_model.io import write_bytes_atomic

#: Columns of an audit row, in table order. ``*_before`` is the attacker on original queries.
COLUMNS = (
    "method",
    "attacker",
    "persons",
    "rank1_before",
    "rank1",
    "rank1_chance",
    "rank5_before",
    "rank5",
    "mAP_before",
    "mAP",
    "mAP_chance",
    "seed_error_before",
    "seed_error",
    "seed_error_chance",
    "c2c_rank1",
    "c2c_mAP",
    "area",
    "ssim",
    "ssim_untouched",
    "psnr",
    "psnr_untouched",
    "detected_before",
    "detected",
    *FORM_KEYS,
    "fallback_rate",
    "conceal_seconds",
    "attack_seconds",
)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def rows_to_csv(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as CSV text (missing or NaN values are empty)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if _clean(row.get(k)) is None else row.get(k) for k in COLUMNS})
    return buffer.getvalue()


def _pct(value: Any) -> str:
    return "   -  " if _clean(value) is None else f"{100 * value:5.1f}%"


def _num(value: Any, width: int = 5, digits: int = 2) -> str:
    return f"{'-':>{width}s}" if _clean(value) is None else f"{value:{width}.{digits}f}"


#: What :func:`format_table`'s short column names stand for (printed under the table).
LEGEND = (
    "r1 orig -> conc: rank-1 on original, then concealed queries (gallery: the other camera's "
    "originals); chance: rank-1 by chance; rank5, mAP: on concealed queries; seedErr: triplets "
    "where the positive is not closer than the negative (condition C fails), concealed; c2c r1: "
    "concealed queries against a concealed gallery (the linking rate); area: the mask's share of "
    "the crop; SSIM, PSNR: the whole crop; SSIMu, PSNRu: its untouched pixels (PSNR 100: "
    "identical; SSIM's 7x7 window there still takes in changed pixels beside them, so SSIMu is "
    "below 1 where PSNRu is 100); det0, det: HOG finds a person in the original, concealed "
    "crops; pose0, pose: the pose model does; PCK: keypoints within 0.1 of the height of the "
    "original's; person, bgChg: the person's and the background's pixels changed; fallbk: "
    "people the loop's fallback concealed whole."
)


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """A fixed-width text table of audit rows, one line per method and attacker.

    ``r1 orig -> conc`` is the attacker's rank-1 on original, then concealed queries (gallery:
    originals of the other camera); ``c2c`` matches concealed queries to a concealed gallery.
    """
    header = (
        f"{'method':16s} {'attacker':18s} {'r1 orig':>7s} {'-> conc':>7s} {'chance':>7s} "
        f"{'rank5':>6s} "
        f"{'mAP':>6s} {'seedErr':>7s} {'c2c r1':>7s} {'area':>6s} {'SSIM':>5s} {'SSIMu':>5s} "
        f"{'PSNR':>5s} {'PSNRu':>5s} {'det0':>6s} {'det':>6s} {'pose0':>6s} {'pose':>6s} "
        f"{'PCK':>6s} {'person':>6s} {'bgChg':>6s} {'fallbk':>6s}"
    )
    lines = [header]
    for r in rows:
        lines.append(
            f"{r['method']:16s} {r['attacker']:18s} "
            f"{_pct(r.get('rank1_before'))} {_pct(r.get('rank1'))} "
            f"{_pct(r.get('rank1_chance'))} {_pct(r.get('rank5'))} {_pct(r.get('mAP'))} "
            f"{_pct(r.get('seed_error'))} {_pct(r.get('c2c_rank1'))} {_pct(r.get('area'))} "
            f"{_num(r.get('ssim'))} {_num(r.get('ssim_untouched'))} {_num(r.get('psnr'), 5, 1)} "
            f"{_num(r.get('psnr_untouched'), 5, 1)} "
            f"{_pct(r.get('detected_before'))} {_pct(r.get('detected'))} "
            f"{_pct(r.get('pose_detected_before'))} {_pct(r.get('pose_detected'))} {_pct(r.get('pck'))} "
            f"{_pct(r.get('person_changed'))} {_pct(r.get('background_changed'))} "
            f"{_pct(r.get('fallback_rate'))}"
        )
    return "\n".join(lines)


def _recall(row: dict[str, Any]) -> float | None:
    """Detection recall relative to the originals: the pose model's, else HOG's (None if neither)."""
    for after, before in (("pose_detected", "pose_detected_before"), ("detected", "detected_before")):
        a, b = _clean(row.get(after)), _clean(row.get(before))
        if a is not None and b:
            return min(1.0, a / b)
    return None


def plot_privacy_utility(rows: Sequence[dict[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Write the privacy-utility plot (PNG): attacker rank-1 against the area concealed (left)
    and against person-detection recall relative to the originals (right; the pose model's,
    HOG's where it did not run).

    One marker per method and attacker (marker shape = attacker, colour = method), each
    attacker's rank-1 on original queries at area 0 (recall 100%), chance level and twice
    chance as lines.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    methods = list(dict.fromkeys(r["method"] for r in rows))
    attackers = list(dict.fromkeys(r["attacker"] for r in rows))
    markers = "osD^vP*Xh<>"
    colours = plt.get_cmap("tab10")
    fig, axes = plt.subplots(1, 2, figsize=(12.0, 5.0), dpi=120, sharey=True)
    chance = 100 * rows[0]["rank1_chance"] if rows else 0.0
    panels = (
        (axes[0], lambda r: r["area"], 0.0, "pixels changed (% of the crop)"),
        (
            axes[1],
            _recall,
            1.0,
            "person detection on concealed crops, % of the originals' rate\n(the pose model's; HOG's where it did not run)",
        ),
    )
    for ax, x_of, original_x, label in panels:
        for a_index, attacker in enumerate(attackers):
            marker = markers[a_index % len(markers)]
            own = [r for r in rows if r["attacker"] == attacker]
            ax.scatter(
                [100 * original_x],
                [100 * own[0]["rank1_before"]],
                marker=marker,
                facecolors="none",
                edgecolors="black",
                s=60,
            )
            for r in own:
                x = x_of(r)
                if x is None:
                    continue
                colour = colours(methods.index(r["method"]) % 10)
                ax.scatter([100 * x], [100 * r["rank1"]], marker=marker, color=colour, s=50, alpha=0.85)
        ax.axhline(chance, color="grey", linestyle="--", linewidth=1)
        ax.axhline(2 * chance, color="grey", linestyle=":", linewidth=1)
        ax.set_xlabel(label)
        ax.set_xlim(-3, 103)
        ax.set_ylim(0, 100)
        ax.grid(alpha=0.3)
    handles: list[Any] = [
        plt.Line2D([], [], marker=markers[i % len(markers)], color="black", linestyle="", label=a)
        for i, a in enumerate(attackers)
    ]
    handles.append(
        plt.Line2D(
            [],
            [],
            marker="o",
            color="black",
            markerfacecolor="none",
            linestyle="",
            label="original queries",
        )
    )
    handles.append(plt.Line2D([], [], color="grey", linestyle="--", label=f"chance ({chance:.1f}%)"))
    handles.append(plt.Line2D([], [], color="grey", linestyle=":", label="2 x chance"))
    handles += [Patch(color=colours(i % 10), label=m) for i, m in enumerate(methods)]
    axes[1].legend(handles=handles, loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8, frameon=False)
    axes[0].set_ylabel("attacker rank-1, concealed query vs original gallery (%)")
    axes[0].set_title("Privacy vs area")
    axes[1].set_title("Privacy vs a person left (lower right is best)")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    path = Path(path)
    write_bytes_atomic(path, buffer.getvalue())
    return path


def write_report(
    rows: Sequence[dict[str, Any]],
    out: str | os.PathLike[str],
    *,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Path]:
    """Write ``audit.csv``, ``audit.json`` (rows plus ``metadata``) and ``audit.png`` into ``out``.

    Every file is written atomically. Returns the paths by kind (``csv``, ``json``, ``png``).

    Example:
        >>> paths = write_report(rows, "runs/audit")  # doctest: +SKIP
    """
    out = Path(out)
    paths = {"csv": out / "audit.csv", "json": out / "audit.json", "png": out / "audit.png"}
    write_bytes_atomic(paths["csv"], rows_to_csv(rows).encode())
    payload = {
        "columns": list(COLUMNS),
        "rows": [{k: _clean(v) for k, v in row.items()} for row in rows],
        "metadata": metadata or {},
    }
    write_bytes_atomic(paths["json"], json.dumps(payload, indent=1, default=str).encode())
    plot_privacy_utility(rows, paths["png"])
    return paths

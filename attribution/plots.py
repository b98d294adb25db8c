"""Plots of an analysis, as PNG bytes (matplotlib's Agg canvas; no pyplot, no display needed)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from attribution.heatmaps import overlay

#: Smoothing of the example heatmaps, as a fraction of the image height.
SMOOTH = 0.02


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def plot_region_shares(rows: Sequence[dict[str, Any]]) -> bytes:
    """Bars per body region: share of |attribution|, share of the net (signed) evidence, area."""
    figure = Figure(figsize=(6.4, 3.6))
    axes = figure.add_subplot()
    x = np.arange(len(rows))
    bars = (
        ("share", "share of |attribution|", "tab:red"),
        ("share_signed", "share of net evidence (signed)", "tab:purple"),
        ("area", "share of area", "tab:gray"),
    )
    for i, (key, label, colour) in enumerate(bars):
        axes.bar(x + (i - 1) * 0.27, [r[key] for r in rows], 0.27, label=label, color=colour)
    axes.set_xticks(x, [r["region"] for r in rows])
    axes.set_ylabel("fraction")
    axes.set_ylim(0, 1.3 * max(max(r[key] for r in rows) for key, _, _ in bars))
    axes.set_title("Where the match is attributed")
    axes.legend(fontsize=8, ncol=2, loc="upper left")
    return _png(figure)


def _shown(rows: Sequence[dict[str, Any]], top: int, key: str, kept: str) -> tuple[list[dict[str, Any]], str]:
    """The rows a plot shows, in order: the ``top`` largest by ``|row[key]|`` and every row whose
    ``kept`` is true; and what the title adds when that is not all of them."""
    rows = list(rows)
    largest = sorted(range(len(rows)), key=lambda i: -abs(float(rows[i][key])))[:top]
    chosen = sorted(set(largest) | {i for i, row in enumerate(rows) if row[kept]})
    if len(chosen) == len(rows):
        return rows, ""
    return [
        rows[i] for i in chosen
    ], f"\n({len(chosen)} of {len(rows)}: the {top} largest and every one coloured)"


def plot_probe(rows: Sequence[dict[str, Any]], *, top: int = 30) -> bytes:
    """Horizontal bars of the probe's ROC AUC per attribute, with the measured chance level:
    the ``top`` highest and every one above chance (the title says how many of all)."""
    rows, cut = _shown([{**r, "over": r["roc_auc"] - 0.5} for r in rows], top, "over", "above_chance")
    figure = Figure(figsize=(7, 0.25 * len(rows) + 1.5))
    axes = figure.add_subplot()
    y = np.arange(len(rows))[::-1]
    colours = ["tab:blue" if r["above_chance"] else "tab:gray" for r in rows]
    axes.barh(y, [r["roc_auc"] for r in rows], color=colours, label="ROC AUC (blue: above chance)")
    axes.scatter(
        [r["chance_roc_auc"] for r in rows],
        y,
        color="black",
        marker="|",
        s=80,
        label="chance (shuffled labels)",
    )
    axes.set_yticks(y, [f"{r['attribute']} ({int(r['positives'])})" for r in rows], fontsize=7)
    axes.set_xlim(0.3, 1.0)
    axes.axvline(0.5, color="black", linewidth=0.5)
    axes.set_xlabel("ROC AUC of a linear probe on the frozen embedding (positive persons in brackets)")
    axes.set_title("Which soft-biometric attributes the embedding encodes" + cut)
    axes.legend(loc="lower right", fontsize=7)
    return _png(figure)


def plot_concealment(rows: Sequence[dict[str, Any]]) -> bytes:
    """Rank-1 and the seed's error after concealing each region (``none`` = before)."""
    figure = Figure(figsize=(7, 3.4))
    left, right = figure.subplots(1, 2)
    names = [r["region"] for r in rows]
    x = np.arange(len(rows))
    left.bar(x, [r["rank1"] for r in rows], color="tab:green")
    left.set_xticks(x, names, rotation=35, ha="right")
    left.set_title("rank-1 (concealed query vs original gallery)", fontsize=9)
    right.bar(x, [r["seed_error"] for r in rows], color="tab:orange")
    right.axhline(0.5, color="black", linewidth=0.5)
    right.set_xticks(x, names, rotation=35, ha="right")
    right.set_title("seed's error (fraction of triplets failing C)", fontsize=9)
    return _png(figure)


def plot_impact(rows: Sequence[dict[str, Any]], *, top: int = 25) -> bytes:
    """Bars of each attribute's impact: extra matching error when its region is concealed; the
    ``top`` largest ``|impact|`` and every one with p < 0.05 (the title says how many of all)."""
    rows, cut = _shown(
        [{**r, "significant": r["p_value"] < 0.05} for r in rows], top, "impact", "significant"
    )
    figure = Figure(figsize=(7, 0.25 * len(rows) + 1.5))
    axes = figure.add_subplot()
    y = np.arange(len(rows))[::-1]
    colours = ["tab:purple" if r["p_value"] < 0.05 else "tab:gray" for r in rows]
    axes.barh(y, [r["impact"] for r in rows], color=colours)
    axes.set_yticks(y, [f"{r['attribute']} [{r['region']}]" for r in rows], fontsize=7)
    axes.axvline(0.0, color="black", linewidth=0.5)
    axes.set_xlabel("extra error when the region is concealed, persons with vs without (purple: p < 0.05)")
    axes.set_title("Soft-biometric features by impact on matching" + cut)
    return _png(figure)


def plot_heatmap_grid(examples: dict[str, torch.Tensor]) -> bytes:
    """A grid of example persons: view a, its heatmap, the other view's heatmap, view b."""
    count = len(examples["person_ids"])
    figure = Figure(figsize=(1.3 * count, 6.4))
    axes = figure.subplots(4, count, squeeze=False)
    titles = ("view a", "attribution a", "attribution b", "view b")
    for i in range(count):
        panels = (
            examples["views_a"][i],
            overlay(examples["views_a"][i], examples["attributions_a"][i], smooth=SMOOTH),
            overlay(examples["views_b"][i], examples["attributions_b"][i], smooth=SMOOTH),
            examples["views_b"][i],
        )
        for row, panel in enumerate(panels):
            ax = axes[row, i]
            ax.imshow(panel.permute(1, 2, 0).clamp(0, 1).numpy())
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_ylabel(titles[row], fontsize=8)
        axes[0, i].set_title(f"person {int(examples['person_ids'][i])}", fontsize=8)
    figure.suptitle("red: pixels that support the match, blue: against it", fontsize=9)
    return _png(figure)

"""The analysis's tables, one function per table; rows are plain dicts (CSV/JSON-ready)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
import torch

from attribution.attributes import attribute_region
from attribution.pose import BAND_PARTS
from attribution.probe import linear_probe
from attribution.regions import region_scores

Row = dict[str, Any]


def p_value(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided Mann-Whitney U test of two samples (NaN when one is empty)."""
    from scipy.stats import mannwhitneyu  # half a second to import: only for an analysis's tables

    return float(mannwhitneyu(a, b).pvalue) if len(a) and len(b) else float("nan")


def attribute_columns(
    names: Sequence[str], labels: np.ndarray, minimum: int
) -> list[tuple[int, str, np.ndarray]]:
    """Attributes with at least ``minimum`` positive and negative persons: (column, name, mask)."""
    out = []
    for j, name in enumerate(names):
        positives = int(labels[:, j].sum())
        if positives >= minimum and len(labels) - positives >= minimum:
            out.append((j, name, labels[:, j].astype(bool)))
    return out


def shares(attributions: torch.Tensor, masks: dict[str, torch.Tensor]) -> torch.Tensor:
    """Per image, the share ``(N, R)`` of absolute attribution in each region."""
    absolute = region_scores(attributions.abs(), masks)
    return absolute / absolute.sum(1, keepdim=True).clamp_min(1e-12)


def region_rows(attributions: torch.Tensor, masks: dict[str, torch.Tensor]) -> list[Row]:
    """Per region: area, mean share of |attribution|, of positive and of signed attribution."""
    share_abs = shares(attributions, masks)
    positive = region_scores(attributions.clamp(min=0), masks)
    share_pos = positive / positive.sum(1, keepdim=True).clamp_min(1e-12)
    signed = region_scores(attributions, masks)
    rows = []
    for r, name in enumerate(masks):
        area = float(masks[name].float().mean())
        rows.append(
            {
                "region": name,
                "area": area,
                "share": float(share_abs[:, r].mean()),
                "share_std": float(share_abs[:, r].std()),
                "share_positive": float(share_pos[:, r].mean()),
                "share_signed": float(signed[:, r].sum() / signed.sum()),
                "density": float(share_abs[:, r].mean()) / area if area > 0 else float("nan"),
            }
        )
    return rows


def region_of(name: str, regions: Collection[str]) -> str | None:
    """The region of ``regions`` an attribute lives in: its band (:func:`attribute_region`), or
    the pose part standing for that band (:data:`attribution.pose.BAND_PARTS`) when the regions
    follow the pose; None for an attribute without a region."""
    region = attribute_region(name)
    if region is not None and region not in regions:
        return BAND_PARTS.get(region, region)
    return region


#: The columns of :func:`by_attribute_rows`, :func:`probe_rows` and :func:`impact_rows` (a CSV of
#: none has its header).
BY_ATTRIBUTE_COLUMNS = (
    "attribute",
    "region",
    "attribute_region",
    "with",
    "without",
    "difference",
    "p_value",
    "positives",
    "negatives",
)
PROBE_COLUMNS = (
    "attribute",
    "region",
    "balanced_accuracy",
    "roc_auc",
    "chance_balanced_accuracy",
    "chance_roc_auc",
    "chance_roc_auc_std",
    "null_roc_auc_std",
    "above_chance",
    "folds",
    "positives",
    "negatives",
    "auc_above_chance",
)
IMPACT_COLUMNS = (
    "attribute",
    "region",
    "positives",
    "error_increase_with",
    "error_increase_without",
    "impact",
    "p_value",
    "probe_roc_auc",
    "region_share_difference",
    "rank",
)


def by_attribute_rows(
    person_share: np.ndarray,
    regions: Sequence[str],
    names: Sequence[str],
    labels: np.ndarray,
    minimum: int,
) -> list[Row]:
    """Per attribute and region: mean share for persons with and without the attribute."""
    rows = []
    for _, name, has in attribute_columns(names, labels, minimum):
        for r, region in enumerate(regions):
            with_, without = person_share[has, r], person_share[~has, r]
            rows.append(
                {
                    "attribute": name,
                    "region": region,
                    "attribute_region": region_of(name, regions) or "",
                    "with": float(with_.mean()),
                    "without": float(without.mean()),
                    "difference": float(with_.mean() - without.mean()),
                    "p_value": p_value(with_, without),
                    "positives": int(has.sum()),
                    "negatives": int((~has).sum()),
                }
            )
    return rows


def probe_rows(
    embeddings: np.ndarray,
    person_ids: list[int],
    names: Sequence[str],
    labels: np.ndarray,
    *,
    minimum: int,
    folds: int,
    permutations: int,
    seed: int,
) -> list[Row]:
    """A linear probe per attribute; ``embeddings`` hold view a of each person, then view b."""
    groups = np.array(person_ids * 2)
    rows = []
    for j, name, _ in attribute_columns(names, labels, minimum):
        column = np.concatenate([labels[:, j], labels[:, j]])
        result = linear_probe(embeddings, column, groups, folds=folds, permutations=permutations, seed=seed)
        rows.append({"attribute": name, "region": attribute_region(name) or "", **result})
        rows[-1]["auc_above_chance"] = result["roc_auc"] - result["chance_roc_auc"]
    rows.sort(key=lambda row: -row["roc_auc"])
    return rows


def impact_rows(
    names: Sequence[str],
    labels: np.ndarray,
    errors: dict[str, torch.Tensor],
    probe: list[Row],
    by_attribute: list[Row],
    minimum: int,
) -> list[Row]:
    """Per attribute with a region: the extra error that hiding the region causes when present."""
    auc = {row["attribute"]: row["roc_auc"] for row in probe}
    share = {(row["attribute"], row["region"]): row["difference"] for row in by_attribute}
    before = errors["none"].numpy()
    rows = []
    for _, name, has in attribute_columns(names, labels, minimum):
        region = region_of(name, errors)
        if region is None or region not in errors:
            continue
        increase = errors[region].numpy() - before
        rows.append(
            {
                "attribute": name,
                "region": region,
                "positives": int(has.sum()),
                "error_increase_with": float(increase[has].mean()),
                "error_increase_without": float(increase[~has].mean()),
                "impact": float(increase[has].mean() - increase[~has].mean()),
                "p_value": p_value(increase[has], increase[~has]),
                "probe_roc_auc": auc.get(name, float("nan")),
                "region_share_difference": share.get((name, region), float("nan")),
            }
        )
    rows.sort(key=lambda row: -row["impact"])
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return rows

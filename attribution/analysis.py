"""Soft-biometric analysis: which body regions and attributes drive the embedder's matches.

For the analyzed persons (each seen in two views, each view explained against the other) it
measures (1) the share of attribution per body region, overall and split by attribute; (2) a
cross-validated linear probe of each attribute from the frozen embedding; (3) how much
concealing each region breaks matching, and per attribute how much more it breaks matching for
the persons who have the attribute (the ranking by impact).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import torch

from attribution import _tables
from attribution.attributes import AttributeTable
from attribution.concealment import region_concealment
from attribution.methods import INTERNAL_BATCH_SIZE, explain
from attribution.pairs import paired_views
from attribution.regions import body_regions
from reid_model import Embedder, Sample, embed, load_images
from reid_model.checks import check_choice

PROBE_PERSONS = ("all", "analyzed")

#: ``regions(views)``: each view's body parts for ``views (N, 3, H, W)``, as name -> ``(N, H, W)``
#: bool, and a line saying how they were made (e.g. ``deid.finder.crop_body_regions``: from each
#: view's pose).
ViewRegions = Callable[[torch.Tensor], tuple[dict[str, torch.Tensor], str]]


@dataclass(frozen=True)
class AnalysisConfig:
    """Settings of one analysis run; each ``deid analyze`` flag maps to one field.

    ``baseline`` defaults to each image's mean colour, as in :func:`explain`: a black baseline
    gives dark clothes (close to black) almost no attribution, whatever their role in matching.
    """

    method: str = "integrated_gradients"
    baseline: str = "mean"
    fill: str = "mean"
    attributes: tuple[str, ...] = ()
    min_positives: int = 10
    probe_persons: str = "all"
    probe_min_positives: int = 20
    folds: int = 5
    permutations: int = 5
    examples: int = 8
    internal_batch_size: int = INTERNAL_BATCH_SIZE
    seed: int = 0


#: Fewer persons analysed than this, and the findings say the figures move with one person.
FEW_PERSONS = 30


@dataclass
class AnalysisResult:
    """Tables (lists of row dicts), findings and the example heatmaps of one analysis."""

    config: AnalysisConfig
    persons: list[int]
    regions: list[str]
    region_shares: list[dict[str, Any]]
    shares_by_attribute: list[dict[str, Any]]
    probe: list[dict[str, Any]]
    concealment: list[dict[str, Any]]
    impact: list[dict[str, Any]]
    findings: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    examples: dict[str, torch.Tensor] = field(default_factory=dict, repr=False)

    def summary(self) -> dict[str, Any]:
        """Everything but the example images, JSON-ready."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "examples"}
        out["config"] = asdict(self.config)
        return out


def _probe_embeddings(
    model: Embedder,
    samples: Sequence[Sample],
    table: AttributeTable,
    analyzed: tuple[list[int], torch.Tensor],
    probe_persons: str,
) -> tuple[list[int], np.ndarray]:
    """Embeddings (view a of each person, then view b) of the persons the probe uses."""
    if probe_persons == "analyzed":
        return analyzed[0], analyzed[1].numpy()
    labelled = set(table.person_ids.tolist())
    ids, views_a, views_b = paired_views(samples, {s.person_id for s in samples} & labelled)
    images = load_images([s.path for s in views_a + views_b], size=model.input_size)
    return ids, embed(model, images).numpy()


def analyze(
    model: Embedder,
    samples: Sequence[Sample],
    attributes: AttributeTable,
    persons: Iterable[int],
    *,
    config: AnalysisConfig | None = None,
    regions: ViewRegions | None = None,
) -> AnalysisResult:
    """Run the soft-biometric analysis of ``model`` on ``persons`` of a dataset.

    Args:
        model: the embedder.
        samples: the whole dataset (the probe may use all its labelled persons).
        attributes: binary labels per person (:func:`load_attributes`).
        persons: ids of the persons to analyze (e.g. the model's test persons).
        config: the settings (defaults when omitted).
        regions: each view's body parts (see :data:`ViewRegions`); by default the same
            horizontal bands for every crop (:func:`body_regions`).

    Raises:
        DatasetError: the dataset is empty or fewer than two persons have two views.
        ValueError: an unknown attribute column, method or option.

    Example:
        >>> table = load_attributes(csv)  # doctest: +SKIP
        >>> result = analyze(load_default(), load_viper(root), table, test_ids)  # doctest: +SKIP
        >>> result.findings[0]  # doctest: +SKIP
    """
    config = config or AnalysisConfig()
    check_choice("probe_persons", config.probe_persons, PROBE_PERSONS)
    table = attributes.select(config.attributes) if config.attributes else attributes
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    ids, samples_a, samples_b = paired_views(samples, persons)
    labels = table.for_persons(ids)
    views_a = load_images([s.path for s in samples_a], size=model.input_size)
    views_b = load_images([s.path for s in samples_b], size=model.input_size)
    views = torch.cat([views_a, views_b])
    embeddings = embed(model, views)
    count = len(ids)
    attributions = explain(
        model,
        views,
        method=config.method,
        reference=torch.cat([embeddings[count:], embeddings[:count]]),
        baseline=config.baseline,
        internal_batch_size=config.internal_batch_size,
    )
    seconds["attribution"] = time.perf_counter() - start

    if regions is None:
        masks, how = body_regions(*views.shape[-2:]), "horizontal bands of every crop (BODY_BANDS)"
    else:
        masks, how = regions(views)
    shares = _tables.shares(attributions, masks)
    person_share = ((shares[:count] + shares[count:]) / 2).numpy()
    by_attribute = _tables.by_attribute_rows(
        person_share, list(masks), table.names, labels, config.min_positives
    )

    start = time.perf_counter()
    probe_ids, probe_embeddings = _probe_embeddings(
        model, samples, table, (ids, embeddings), config.probe_persons
    )
    probe = _tables.probe_rows(
        probe_embeddings,
        probe_ids,
        table.names,
        table.for_persons(probe_ids),
        minimum=config.probe_min_positives,
        folds=config.folds,
        permutations=config.permutations,
        seed=config.seed,
    )
    seconds["probe"] = time.perf_counter() - start

    start = time.perf_counter()
    concealment, errors = region_concealment(
        model, views_a, views_b, masks, fill=config.fill, seed=config.seed
    )
    seconds["concealment"] = time.perf_counter() - start

    pick = np.linspace(0, count - 1, min(config.examples, count)).round().astype(int).tolist()
    result = AnalysisResult(
        config=config,
        persons=ids,
        regions=list(masks),
        region_shares=_tables.region_rows(attributions, masks),
        shares_by_attribute=by_attribute,
        probe=probe,
        concealment=concealment,
        impact=_tables.impact_rows(table.names, labels, errors, probe, by_attribute, config.min_positives),
        info={
            "analyzed_persons": count,
            "regions": how,
            "images": 2 * count,
            "score": "DistanceScore: -||f(view) - f(other view of the same person)||",
            "probe_persons": len(probe_ids),
            "probe_rows": "both views of each person; folds split by person",
            "attributes_probed": len(probe),
            "attributes_skipped": len(table.names) - len(probe),
            "seconds": seconds,
        },
        examples={
            "person_ids": torch.tensor([ids[i] for i in pick]),
            "views_a": views_a[pick],
            "views_b": views_b[pick],
            "attributions_a": attributions[:count][pick],
            "attributions_b": attributions[count:][pick],
        },
    )
    result.findings = findings(result)
    return result


def _holm(p_values: list[float], alpha: float = 0.05) -> int:
    """How many of the sorted ``p_values`` stand under Holm's step-down correction at ``alpha``."""
    for i, p in enumerate(p_values):
        if p * (len(p_values) - i) >= alpha:
            return i
    return len(p_values)


def findings(result: AnalysisResult) -> list[str]:
    """A few lines that state the analysis's main answers."""
    lines = []
    shares = sorted(result.region_shares, key=lambda r: -r["share"])
    lines.append(
        "attribution share by region: "
        + ", ".join(f"{r['region']} {r['share']:.0%} (area {r['area']:.0%})" for r in shares)
    )
    regions = [r for r in result.concealment if r["region"] not in ("none", "everything")]
    before = result.concealment[0]
    if regions:  # the two measures can name two regions: each is said by its own
        by_error = max(regions, key=lambda r: r["seed_error_increase"])
        by_rank = max(regions, key=lambda r: r["rank1_drop"])
        lines.append(
            f"concealing {by_error['region']} raises the seed's triplet error most: "
            f"{before['seed_error']:.1%} -> {by_error['seed_error']:.1%} "
            f"(rank-1 {before['rank1']:.1%} -> {by_error['rank1']:.1%})"
        )
        if by_rank is not by_error:
            lines.append(
                f"concealing {by_rank['region']} lowers rank-1 most: {before['rank1']:.1%} -> "
                f"{by_rank['rank1']:.1%} (seed error {before['seed_error']:.1%} -> "
                f"{by_rank['seed_error']:.1%})"
            )
    if result.probe:
        encoded = [r for r in result.probe if r["above_chance"]]
        lines.append(
            f"{len(encoded)} of {len(result.probe)} probed attributes are linearly decodable "
            "above chance; best: "
            + ", ".join(f"{r['attribute']} (AUC {r['roc_auc']:.2f})" for r in result.probe[:5])
        )
    else:
        lines.append(
            f"the linear probe ran on no attribute: none is held by at least "
            f"{result.config.probe_min_positives} and lacked by as many of the "
            f"{result.info.get('probe_persons', '?')} persons probed (probe.csv is empty)"
        )
    if result.impact:
        tests = len(result.impact)
        held = _holm(sorted(r["p_value"] for r in result.impact))
        significant = sorted((r for r in result.impact if r["p_value"] < 0.05), key=lambda r: r["p_value"])
        top = ", ".join(
            f"{r['attribute']} (+{r['impact']:.1%} error, p {r['p_value']:.2f})" for r in result.impact[:5]
        )
        named = ", ".join(f"{r['attribute']} ({r['impact']:+.1%})" for r in significant)
        lines.append(
            f"attributes whose region matters most for the persons who have them: {top}; "
            f"p < 0.05 for {len(significant)} of the {tests} tested{': ' + named if named else ''}; "
            f"{held} after Holm's correction for {tests} tests"
        )
    moved = sorted((r for r in result.shares_by_attribute if r["p_value"] < 0.05), key=lambda r: r["p_value"])
    if moved:  # where the evidence goes for those who have it: a bag or a backpack is in no one region
        lines.append(
            "where an attribute moves the attribution (share with it vs without, p < 0.05 uncorrected: "
            f"{len(moved)} of {len(result.shares_by_attribute)} attribute-region pairs, about "
            f"{0.05 * len(result.shares_by_attribute):.0f} by chance alone): "
            + ", ".join(
                f"{r['attribute']}: {r['region']} {100 * r['difference']:+.1f} points (p {r['p_value']:.4f})"
                for r in moved[:6]
            )
        )
    count = len(result.persons)
    if not result.shares_by_attribute:
        lines.append(
            f"no attribute is held by at least {result.config.min_positives} and lacked by at least as many "
            f"of the {count} persons analysed: the by-attribute and impact tables are empty"
        )
    if count < FEW_PERSONS:
        lines.append(
            f"note: only {count} persons analysed: one person moves a rate above by {1 / max(count, 1):.0%} "
            "(the README's analysis is of the 127 VIPeR test persons)"
        )
    return lines

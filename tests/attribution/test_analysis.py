"""The soft-biometric analysis on a tiny fake dataset: tables, report files and clear errors."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from attribution import AnalysisConfig, analyze, load_attributes, write_report
from attribution._tables import PROBE_COLUMNS
from attribution.analysis import _holm, findings
from reid_model import DatasetError, load_viper, read_image

CONFIG = AnalysisConfig(min_positives=2, probe_min_positives=3, folds=2, permutations=1, examples=3)


@pytest.fixture
def result(tiny_embedder, fake_viper, attributes_csv):
    return analyze(
        tiny_embedder,
        load_viper(fake_viper),
        load_attributes(attributes_csv),
        range(12),
        config=CONFIG,
    )


def test_tables_hold_what_they_promise(result):
    assert result.persons == list(range(12))
    assert result.regions == ["head", "upper_body", "lower_body", "feet"]
    shares = [row["share"] for row in result.region_shares]
    assert sum(shares) == pytest.approx(1.0, abs=1e-5)
    assert sum(row["share_signed"] for row in result.region_shares) == pytest.approx(1.0, abs=1e-4)
    assert {row["attribute"] for row in result.shares_by_attribute} == {
        "upperBodyRed",
        "hairLong",
        "personalMale",
        "footwearWhite",
    }
    assert {row["attribute"] for row in result.probe} == {
        "upperBodyRed",
        "hairLong",
        "personalMale",
        "footwearWhite",
    }
    aucs = [row["roc_auc"] for row in result.probe]
    assert aucs == sorted(aucs, reverse=True)
    assert result.concealment[0]["region"] == "none"
    assert {row["attribute"] for row in result.impact} == {
        "upperBodyRed",
        "hairLong",
        "footwearWhite",
    }  # personal*: no region
    assert [row["rank"] for row in result.impact] == [1, 2, 3]
    assert result.info["probe_persons"] == 12 and len(result.findings) >= 3
    assert result.examples["views_a"].shape == (3, 3, 128, 48)


def test_report_files_are_written(result, tmp_path):
    written = write_report(result, tmp_path / "report")
    names = {p.name for p in written}
    for name in (
        "region_shares.csv",
        "shares_by_attribute.csv",
        "probe.csv",
        "concealment.csv",
        "impact.csv",
        "summary.json",
        "findings.txt",
        "region_shares.png",
        "probe.png",
        "concealment.png",
        "impact.png",
        "heatmaps.png",
    ):
        assert name in names and (tmp_path / "report" / name).stat().st_size > 0
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert summary["regions"] == result.regions and summary["config"]["min_positives"] == 2
    assert read_image(tmp_path / "report" / "heatmaps.png").shape[0] == 3
    header = (tmp_path / "report" / "region_shares.csv").read_text().splitlines()[0]
    assert header.startswith("region,area,share")


def test_selected_attributes_only(tiny_embedder, fake_viper, attributes_csv):
    config = AnalysisConfig(**{**CONFIG.__dict__, "attributes": ("hairLong",)})
    result = analyze(
        tiny_embedder,
        load_viper(fake_viper),
        load_attributes(attributes_csv),
        range(12),
        config=config,
    )
    assert {row["attribute"] for row in result.probe} == {"hairLong"}


def test_errors_name_the_problem(tiny_embedder, fake_viper, attributes_csv):
    samples, table = load_viper(fake_viper), load_attributes(attributes_csv)
    with pytest.raises(DatasetError, match="the dataset is empty"):
        analyze(tiny_embedder, [], table, range(12), config=CONFIG)
    with pytest.raises(
        DatasetError,
        match="need at least 2 persons seen by two cameras among the 2 requested persons, got 0",
    ):
        analyze(tiny_embedder, samples, table, [500, 501], config=CONFIG)
    config = AnalysisConfig(**{**CONFIG.__dict__, "attributes": ("carryingUmbrella",)})
    with pytest.raises(ValueError, match="unknown attribute column 'carryingUmbrella'"):
        analyze(tiny_embedder, samples, table, range(12), config=config)
    config = AnalysisConfig(**{**CONFIG.__dict__, "probe_persons": "some"})
    with pytest.raises(ValueError, match=r"probe_persons must be one of \['all', 'analyzed'\], got 'some'"):
        analyze(tiny_embedder, samples, table, range(12), config=config)


def test_tables_nobody_fills_are_written_with_their_header_and_the_findings_say_why(result, tmp_path):
    assert list(result.probe[0]) == list(PROBE_COLUMNS)  # the header of an empty probe.csv
    write_report(result, tmp_path)  # an earlier run into the same folder, with every plot
    assert (tmp_path / "probe.png").exists() and (tmp_path / "impact.png").exists()
    bare = replace(result, shares_by_attribute=[], impact=[], probe=[])
    bare.findings = findings(bare)
    assert any("the by-attribute and impact tables are empty" in line for line in bare.findings)
    assert any(line.startswith("note: only 12 persons analysed") for line in bare.findings)
    write_report(bare, tmp_path)
    assert not (tmp_path / "probe.png").exists() and not (tmp_path / "impact.png").exists()  # not stale
    assert (
        (tmp_path / "probe.csv").read_text().splitlines()[0].startswith("attribute,region,balanced_accuracy,")
    )
    assert (tmp_path / "impact.csv").read_text().splitlines() == [
        "attribute,region,positives,error_increase_with,error_increase_without,impact,p_value,"
        "probe_roc_auc,region_share_difference,rank"
    ]
    assert (
        (tmp_path / "shares_by_attribute.csv")
        .read_text()
        .startswith("attribute,region,attribute_region,with")
    )
    # the columns named are the columns the rows have
    assert list(result.impact[0]) == (tmp_path / "impact.csv").read_text().split()[0].split(",")


def test_findings_name_the_measure_each_region_is_ranked_by_and_how_sure_the_impacts_are(result):
    """A review: the findings named the background as hurting matching most (by the seed's error)
    while quoting rank-1, which hiding the legs lowered further; listed attributes whose impact
    was noise without their p-values; and said nothing when the probe ran on no attribute."""
    rows = [
        {"region": "none", "rank1": 0.38, "seed_error": 0.03, "rank1_drop": 0.0, "seed_error_increase": 0.0},
        {
            "region": "legs",
            "rank1": 0.13,
            "seed_error": 0.08,
            "rank1_drop": 0.25,
            "seed_error_increase": 0.05,
        },
        {
            "region": "background",
            "rank1": 0.22,
            "seed_error": 0.10,
            "rank1_drop": 0.16,
            "seed_error_increase": 0.07,
        },
    ]
    impact = [{**row, "p_value": p} for row, p in zip(result.impact, (0.01, 0.2, 0.9), strict=True)]
    lines = findings(replace(result, concealment=rows, probe=[], impact=impact))
    assert (
        "concealing background raises the seed's triplet error most: 3.0% -> 10.0% (rank-1 38.0% -> 22.0%)"
        in lines
    )
    assert "concealing legs lowers rank-1 most: 38.0% -> 13.0% (seed error 3.0% -> 8.0%)" in lines
    assert any(
        line.startswith("the linear probe ran on no attribute: none is held by at least") for line in lines
    )
    (said,) = [line for line in lines if line.startswith("attributes whose region matters most")]
    first = impact[0]
    assert "p 0.01" in said and said.endswith(
        f"p < 0.05 for 1 of the 3 tested: {first['attribute']} ({first['impact']:+.1%}); "
        "1 after Holm's correction for 3 tests"
    )
    by = [
        {"attribute": "carryingBackpack", "region": r, "difference": d, "p_value": p}
        for r, d, p in (("arms", 0.019, 0.0004), ("torso", -0.005, 0.44), ("background", -0.02, 0.03))
    ]
    (moved,) = [
        line for line in findings(replace(result, shares_by_attribute=by)) if line.startswith("where")
    ]
    assert moved.endswith(  # a bag is in no one region: where its evidence goes is said, smallest p first
        "2 of 3 attribute-region pairs, about 0 by chance alone): carryingBackpack: arms +1.9 points "
        "(p 0.0004), carryingBackpack: background -2.0 points (p 0.0300)"
    )


def test_holm_keeps_the_p_values_that_stand_the_step_down_correction():
    assert _holm([0.01, 0.02, 0.04]) == 3
    assert _holm([0.01, 0.03, 0.03]) == 1  # 0.03 x 2 = 0.06
    assert _holm([0.03, 0.04]) == 0 and _holm([]) == 0  # 0.03 x 2 = 0.06


def test_the_impact_and_probe_plots_keep_every_marked_row_and_say_how_many_they_show():
    """A user's review: ``impact.png`` drew the first 25 of 34 rows, leaving out four of the eight
    with p < 0.05 (the largest negative impacts) without saying so."""
    from attribution.plots import _shown, plot_impact

    rows = [
        {"attribute": f"a{i}", "region": "torso", "impact": 0.1 - i * 0.006, "p_value": 0.5}
        for i in range(34)
    ]
    rows[33]["p_value"] = rows[32]["p_value"] = 0.01  # the most negative, significant
    rows[20]["p_value"] = 0.01
    shown, cut = _shown([{**r, "marked": r["p_value"] < 0.05} for r in rows], 5, "impact", "marked")
    names = [r["attribute"] for r in shown]
    assert names == ["a0", "a1", "a2", "a20", "a32", "a33"]  # the 5 largest |impact|, a20 marked, in order
    assert cut == "\n(6 of 34: the 5 largest and every one coloured)"
    assert _shown(rows[:3], 5, "impact", "p_value")[1] == ""  # all shown: nothing added
    assert plot_impact(rows).startswith(b"\x89PNG")

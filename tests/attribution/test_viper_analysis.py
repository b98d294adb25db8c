"""The analysis on a few real VIPeR test persons with the bundled model (skipped without data)."""

from __future__ import annotations

import pytest

from attribution import AnalysisConfig, analyze, load_attributes, write_report
from reid_model import default_metadata, load_default, load_viper


@pytest.mark.viper
def test_analysis_on_real_viper_persons(viper_root, viper_attributes, tmp_path):
    attributes = viper_attributes
    persons = default_metadata()["split"]["test"][:16]
    config = AnalysisConfig(
        attributes=(
            "personalMale",
            "carryingBackpack",
            "upperBodyBlack",
            "lowerBodyJeans",
            "hairLong",
        ),
        min_positives=3,
        probe_persons="analyzed",
        probe_min_positives=3,
        folds=3,
        permutations=1,
        examples=4,
    )
    result = analyze(
        load_default(), load_viper(viper_root), load_attributes(attributes), persons, config=config
    )
    assert len(result.persons) == 16
    assert sum(row["share"] for row in result.region_shares) == pytest.approx(1.0, abs=1e-5)
    everything = result.concealment[-1]
    assert everything["region"] == "everything" and everything["rank1"] <= result.concealment[0]["rank1"]
    assert result.probe and result.impact
    written = write_report(result, tmp_path)
    assert (tmp_path / "heatmaps.png") in written


@pytest.mark.viper
def test_regions_follow_each_crops_pose(viper_root, viper_attributes):
    from deid.finder import crop_body_regions

    persons = default_metadata()["split"]["test"][:8]
    config = AnalysisConfig(
        attributes=("personalMale", "upperBodyBlack"),
        min_positives=2,
        probe_persons="analyzed",
        probe_min_positives=2,
        folds=2,
        permutations=0,
        examples=2,
    )
    result = analyze(
        load_default(),
        load_viper(viper_root),
        load_attributes(viper_attributes),
        persons,
        config=config,
        regions=crop_body_regions,
    )
    assert result.regions == ["head", "torso", "arms", "legs", "feet", "background"]
    assert result.info["regions"].startswith("body parts from each crop's pose (deid.finder) for ")
    assert sum(row["share"] for row in result.region_shares) == pytest.approx(1.0, abs=1e-5)
    areas = {row["region"]: row["area"] for row in result.region_shares}
    assert 0.05 < areas["background"] < 0.7 and areas["torso"] > areas["head"] > 0
    # an upper-body attribute is ranked by hiding the torso (its band's pose part)
    assert {(row["attribute"], row["region"]) for row in result.impact} == {("upperBodyBlack", "torso")}

"""Attribute tables: reading, selecting, the region of an attribute and clear errors."""

from __future__ import annotations

import pytest

from attribution import attribute_region, load_attributes


def test_load_and_select(attributes_csv):
    table = load_attributes(attributes_csv)
    assert table.names == ("upperBodyRed", "hairLong", "personalMale", "footwearWhite")
    assert table.values.shape == (12, 4) and set(table.values.flatten().tolist()) == {0, 1}
    assert table.for_persons([3, 0])[:, 0].tolist() == [1, 0]
    assert load_attributes(attributes_csv, columns=["hairLong"]).values.shape == (12, 1)


def test_unknown_column_names_it_and_suggests(attributes_csv):
    with pytest.raises(ValueError, match=r"unknown attribute column 'hairLnog'.*did you mean \['hairLong'\]"):
        load_attributes(attributes_csv, columns=["hairLnog"])


def test_bad_files_raise(tmp_path, attributes_csv):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_attributes(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("person_id,hairLong\n0,1\n1,yes\n")
    with pytest.raises(ValueError, match=r"row 3, column 'hairLong': expected 0 or 1, got 'yes'"):
        load_attributes(bad)
    (tmp_path / "noid.csv").write_text("id,hairLong\n0,1\n")
    with pytest.raises(ValueError, match="must have a 'person_id' column"):
        load_attributes(tmp_path / "noid.csv")
    (tmp_path / "empty.csv").write_text("person_id,hairLong\n")
    with pytest.raises(ValueError, match="no person rows"):
        load_attributes(tmp_path / "empty.csv")
    with pytest.raises(ValueError, match=r"persons \[99\] have no attribute row"):
        load_attributes(attributes_csv).for_persons([0, 99])


@pytest.mark.parametrize(
    ("name", "region"),
    [
        ("hairLong", "head"),
        ("accessorySunglasses", "head"),
        ("upperBodyRed", "upper_body"),
        ("carryingBackpack", "upper_body"),
        ("lowerBodyJeans", "lower_body"),
        ("footwearSandals", "feet"),
        ("personalMale", None),
    ],
)
def test_attribute_regions(name, region):
    assert attribute_region(name) == region


def test_an_attribute_lives_in_the_pose_part_of_its_band_where_regions_follow_the_pose():
    from attribution._tables import region_of

    assert region_of("upperBodyBlack", ["head", "upper_body", "lower_body", "feet"]) == "upper_body"
    assert region_of("upperBodyBlack", ["head", "torso", "arms", "legs", "feet", "background"]) == "torso"
    assert region_of("lowerBodyJeans", ["head", "torso", "legs"]) == "legs"
    assert region_of("hairLong", ["head", "torso"]) == "head" and region_of("personalMale", ["head"]) is None

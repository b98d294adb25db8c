"""Market-1501's protocol (query/ against bounding_box_test/) and which split fits which dataset."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest
import torch

from reid_model import (
    PROTOCOLS,
    DatasetError,
    ProtocolError,
    Sample,
    Split,
    dataset_kind,
    embed,
    evaluate_market1501,
    evaluation_split,
    load_images,
    load_market1501,
    market1501_query_gallery,
    resolve_protocol,
    seed_split,
)
from reid_model.data import DATASET_KINDS
from tests.reid_model.conftest import MARKET_GALLERY, MARKET_QUERY, write_market
from tests.reid_model.test_ranking import brute_force


def _parse(path: Path) -> tuple[int, int]:
    person, camera = path.name.split("_")[:2]  # "0002", "c1s1"
    return int(person), int(camera[1])


def test_the_gallery_keeps_distractors_and_drops_junk(fake_market):
    query, gallery = market1501_query_gallery(fake_market)
    assert [(s.person_id, s.camera_id + 1) for s in query] == MARKET_QUERY
    expected = sorted(
        (_parse(p) for p in (fake_market / "bounding_box_test").iterdir() if not p.name.startswith("-1")),
    )
    assert sorted((s.person_id, s.camera_id + 1) for s in gallery) == expected
    assert len(gallery) == len(MARKET_GALLERY) - 2 and sum(s.person_id == 0 for s in gallery) == 3
    # Training-style loading leaves the distractors out as well.
    assert {s.person_id for s in load_market1501(fake_market, "bounding_box_test")} == {2, 5, 7, 9, 11}


def test_evaluate_market1501_against_a_plain_loop(fake_market, tiny_embedder):
    metrics = evaluate_market1501(tiny_embedder, fake_market, batch_size=4)
    # The reference: every file read here, junk dropped by hand, each query ranked alone.
    query_files = sorted((fake_market / "query").iterdir())
    gallery_files = [p for p in sorted((fake_market / "bounding_box_test").iterdir()) if _parse(p)[0] != -1]
    q_ids, q_cams = zip(*map(_parse, query_files), strict=True)
    g_ids, g_cams = zip(*map(_parse, gallery_files), strict=True)
    dist = torch.cdist(
        embed(tiny_embedder, load_images([str(p) for p in query_files])),
        embed(tiny_embedder, load_images([str(p) for p in gallery_files])),
    )
    cmc, mean_ap, mean_inp, valid, skipped = brute_force(dist, q_ids, g_ids, q_cams, g_cams, max_rank=20)
    assert skipped == 1 and valid == 4  # person 9 is only seen again by its own camera
    assert [metrics[f"rank{k}"] for k in (1, 5, 10, 20)] == pytest.approx([cmc[0], cmc[4], cmc[9], cmc[19]])
    assert metrics["mAP"] == pytest.approx(mean_ap) and metrics["mINP"] == pytest.approx(mean_inp)
    assert metrics["num_skipped"] == 1 and metrics["num_queries"] == 5
    assert metrics["num_gallery"] == len(gallery_files) == 16 and metrics["num_persons"] == 4


def test_the_same_picture_in_the_gallery_scores_one(tmp_path, tiny_embedder):
    """Each person's gallery images are copies of their query image: every match ranks first,
    ahead of the distractors and of person 11, whom no query looks for."""
    root = write_market(
        tmp_path / "market", query=[(2, 1), (5, 1)], gallery=[(2, 2), (5, 3), (0, 1), (11, 2)]
    )
    pictures = {_parse(p)[0]: p.read_bytes() for p in (root / "query").iterdir()}
    for path in (root / "bounding_box_test").iterdir():
        if _parse(path)[0] in pictures:
            path.write_bytes(pictures[_parse(path)[0]])
    metrics = evaluate_market1501(tiny_embedder, root)
    assert metrics["rank1"] == metrics["mAP"] == metrics["mINP"] == 1.0
    assert (metrics["num_skipped"], metrics["num_gallery"]) == (0, 4)


def test_missing_market_folders_are_named(tmp_path):
    with pytest.raises(DatasetError, match=f"Market-1501 'query' folder {tmp_path / 'query'} does not exist"):
        market1501_query_gallery(tmp_path)
    write_market(tmp_path, gallery=[])
    with pytest.raises(
        DatasetError, match=f"'bounding_box_test' folder {tmp_path / 'bounding_box_test'} does"
    ):
        market1501_query_gallery(tmp_path)


def test_auto_finds_a_market_test_tree(fake_market, fake_viper, tmp_path):
    assert dataset_kind(fake_market) == "market1501"
    assert dataset_kind(fake_viper) == "viper"
    (tmp_path / "people" / "alice").mkdir(parents=True)
    assert dataset_kind(tmp_path / "people") == "folder"
    assert dataset_kind(tmp_path / "anything", "viper") == "viper"  # an explicit kind is kept


def test_every_dataset_kind_has_a_protocol():
    assert set(PROTOCOLS) == set(DATASET_KINDS)


@pytest.mark.parametrize(
    ("dataset", "expected"), [("viper", "seed"), ("market1501", "market1501"), ("folder", "seed")]
)
def test_auto_is_the_dataset_s_own_protocol(dataset, expected):
    assert resolve_protocol(dataset) == resolve_protocol(dataset, "auto") == expected
    for protocol in PROTOCOLS[dataset]:
        assert resolve_protocol(dataset, protocol) == protocol


@pytest.mark.parametrize(
    ("dataset", "split", "made_for"),
    [
        ("market1501", "viper316", "is for viper datasets"),
        ("market1501", "seed", "is for viper and folder datasets"),
        ("viper", "market1501", "is for market1501 datasets"),
        ("folder", "viper316", "is for viper datasets"),
        ("folder", "market1501", "is for market1501 datasets"),
    ],
)
def test_a_protocol_of_another_dataset_is_refused(dataset, split, made_for):
    with pytest.raises(
        ProtocolError, match=f"split '{split}' {made_for}, not for this {dataset} dataset"
    ) as info:
        resolve_protocol(dataset, split)
    for allowed in PROTOCOLS[dataset]:
        assert f"'{allowed}' (" in str(info.value)


def test_unknown_dataset_is_refused():
    with pytest.raises(ValueError, match=r"dataset must be one of .* got 'cuhk03'"):
        resolve_protocol("cuhk03")


def _samples(ids: range) -> list[Sample]:
    return [Sample(f"{pid}_{cam}.png", pid, cam) for pid in ids for cam in (0, 1)]


def test_the_checkpoint_s_own_split_of_this_dataset_is_used():
    split = seed_split(range(20), sizes=(10, 4, 6))
    meta = {"split": asdict(split)}
    assert evaluation_split(meta, _samples(range(20)), dataset="folder", protocol="seed") == split


def test_a_viper_split_is_not_applied_to_other_persons():
    meta = {"split": asdict(seed_split(range(632)))}  # a split of VIPeR's 632 persons
    with pytest.raises(
        ProtocolError,
        match=r"divides 632 persons \(ids 0..631\), but this folder dataset "
        r"has 751 persons \(ids 2..752\) \(630 in the split\): a split is applied only",
    ):
        evaluation_split(meta, _samples(range(2, 753)), dataset="folder", protocol="seed")
    with pytest.raises(ProtocolError, match="this dataset also allows 'viper316'"):
        evaluation_split(meta, _samples(range(12)), dataset="viper", protocol="seed")


def test_splits_made_here():
    samples = _samples(range(12))
    fresh = evaluation_split({}, samples, dataset="viper", protocol="seed")
    assert fresh.persons == set(range(12)) and fresh.train  # the seed's proportions
    other = {"split": asdict(Split("seed", 0, (100,)))}  # trained elsewhere: no bearing on viper316
    viper316 = evaluation_split(other, samples, dataset="viper", protocol="viper316")
    assert (viper316.name, len(viper316.train), len(viper316.test)) == ("viper316", 6, 6)
    with pytest.raises(ProtocolError, match=r"'market1501' .* has no split of persons"):
        evaluation_split({}, samples, dataset="market1501", protocol="market1501")
    with pytest.raises(ProtocolError, match="split 'viper316' is for viper datasets, not for this folder"):
        evaluation_split({}, samples, dataset="folder", protocol="viper316")

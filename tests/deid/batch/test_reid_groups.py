"""``--group-by reid``: crops grouped by the adversary's link rule, by complete linkage."""

import json
from pathlib import Path

import pytest
import torch

from deid.adversary import Adversary
from deid.batch import BatchConfig, run_batch
from deid.batch.grouping import group_files
from deid.batch.inputs import BatchError, InputFile
from deid.batch.reid_groups import group_by_reid, link_groups
from deid.batch.wiring import build_adversary
from deid.loop import ConcealConfig
from deid.loop.grouping import match_embeddings
from reid_model import embed, load_images, write_image
from tests.deid.conftest import write_crop


def test_complete_linkage_never_chains_two_people_through_a_look_alike():
    # a ~ b and b ~ c, but a and c are strangers: a connected-components rule would join all three
    match = torch.tensor(
        [[0.0, 0.97, 0.5, 0.1], [0.97, 0.0, 0.97, 0.1], [0.5, 0.97, 0.0, 0.1], [0.1] * 3 + [0.0]]
    )
    labels = link_groups(match, 0.95).tolist()
    assert labels[0] == labels[1] != labels[2] and len(set(labels)) == 3
    assert len(set(link_groups(match, 0.4).tolist())) == 2  # a looser cut joins a, b, c; d stays alone
    at_edge = torch.full((3, 3), 0.95).fill_diagonal_(0.0)
    assert len(set(link_groups(at_edge, 0.95).tolist())) == 1  # a pair exactly at the threshold links


def test_match_embeddings_is_the_fraction_of_the_gallery_each_partner_beats_both_ways(tiny_embedder):
    g = torch.Generator().manual_seed(5)
    adversary = Adversary([tiny_embedder], [torch.randn(40, 8, generator=g)])
    emb = torch.randn(6, 8, generator=g)
    match = match_embeddings(adversary, [emb])
    gallery = adversary.galleries[0]
    for a in range(6):
        for b in range(6):
            if a == b:
                assert match[a, b] == 0
                continue
            ways = [
                ((emb[q] - emb[p]).norm() < (emb[q] - gallery).norm(dim=1)).float().mean()
                for q, p in ((a, b), (b, a))
            ]
            assert match[a, b] == min(ways)  # exactly: counts over the gallery's size


def _files(root: Path) -> list[InputFile]:
    return [InputFile(p, p.relative_to(root)) for p in sorted(root.rglob("*.png"))]


def test_crops_the_adversary_sees_as_one_person_share_a_key_frames_and_bad_files_stay_alone(
    tiny_embedder, tmp_path
):
    root = tmp_path / "in"
    for person in range(3):
        crop = write_crop(root / f"p{person}_a.png", seed=person)
        image = load_images([crop])[0]
        write_image(root / f"p{person}_b.png", (image * 0.98).clamp(0, 1))  # the same look, a little darker
    write_crop(root / "frame.png", seed=9, size=(360, 480))
    (root / "broken.png").write_bytes(b"not an image")
    gallery = embed(tiny_embedder, torch.rand(30, 3, 128, 48, generator=torch.Generator().manual_seed(2)))
    groups = group_by_reid(_files(root), Adversary([tiny_embedder], [gallery]))
    named = {key: sorted(f.relative.as_posix() for f in members) for key, members in groups.items()}
    pairs = sorted(members for key, members in named.items() if key.startswith("reid:"))
    assert pairs == [["p0_a.png", "p0_b.png"], ["p1_a.png", "p1_b.png"], ["p2_a.png", "p2_b.png"]]
    assert named["file:frame.png"] == ["frame.png"] and named["file:broken.png"] == ["broken.png"]
    assert list(named)[:2] == ["file:broken.png", "file:frame.png"]  # in the order first seen
    with pytest.raises(ValueError, match=r"min_match must be in \(0, 1\], got 0"):
        group_by_reid(_files(root), Adversary([tiny_embedder], [gallery]), min_match=0)


def test_reid_needs_the_adversary_and_makes_it_check_own_originals_too():
    with pytest.raises(BatchError, match="group_by 'reid' groups by the adversary's embeddings"):
        group_files([], "reid")
    assert build_adversary(BatchConfig(inputs=("in",), output="out", group_by="reid")).include_self
    assert not build_adversary(BatchConfig(inputs=("in",), output="out")).include_self


@pytest.mark.viper
def test_a_reid_grouped_run_on_viper_crops_records_its_groups_and_verifies(viper_root, tmp_path):
    """Unlabeled copies of 6 VIPeR persons' crops (both cameras, names removed): the run groups
    them by the adversary, records each group, and ``deid verify`` agrees with every verdict."""
    from deid.batch import verify

    root = tmp_path / "in"
    names = {}
    for person in ("000", "001", "002", "003", "004", "005"):
        for camera in ("cam_a", "cam_b"):
            source = next((viper_root / camera).glob(f"{person}_*.bmp"))
            target = root / f"{len(names):02d}.png"
            write_image(target, load_images([source])[0])
            names[target.name] = person
    summary = run_batch(
        BatchConfig(
            inputs=(str(root),),
            output=str(tmp_path / "out"),
            group_by="reid",
            loop=ConcealConfig(seed=0),
            progress=False,
        )
    )
    records = json.loads(summary.report_json.read_text())["records"]
    assert len(records) == 12 and all(r["status"] == "ok" for r in records)
    keys = {Path(r["input"]).name: r["group"] for r in records}
    assert all(k.startswith(("reid:", "file:")) for k in keys.values())
    assert any(k.startswith("reid:") for k in keys.values())  # some crops were grouped
    for key in {k for k in keys.values() if k.startswith("reid:")}:  # every group has 2+ crops
        assert sum(1 for k in keys.values() if k == key) >= 2
    result = verify(tmp_path / "out")
    assert result.counts()["contradicted"] == 0


@pytest.mark.viper
def test_a_resumed_run_whose_grouping_changed_never_mixes_its_groups_with_the_kept_ones(viper_root, tmp_path):
    """Person 000 (both cameras) and one view of 002 first; the other view of 002 is added and the
    run resumed: 002's new group must not take the key 000's kept records carry (the numbered
    keys of a first version did, and verify then judged the two people as one)."""
    from deid.batch import verify

    root = tmp_path / "in"

    def add(camera, person, name):
        source = next((viper_root / camera).glob(f"{person}_*.bmp"))
        write_image(root / name, load_images([source])[0])

    add("cam_a", "000", "a1.png")
    add("cam_b", "000", "a2.png")
    add("cam_a", "002", "a0.png")
    out = tmp_path / "out"

    def run(resume):
        config = BatchConfig(
            inputs=(str(root),),
            output=str(out),
            group_by="reid",
            loop=ConcealConfig(seed=0),
            resume=resume,
            progress=False,
        )
        return json.loads(run_batch(config).report_json.read_text())["records"]

    first = {Path(r["input"]).name: r["group"] for r in run(False)}
    assert first["a1.png"] == first["a2.png"] != first["a0.png"]
    add("cam_b", "002", "a3.png")
    second = {Path(r["input"]).name: r["group"] for r in run(True)}
    assert second["a1.png"] == second["a2.png"] == first["a1.png"]  # kept, under their own key
    assert second["a0.png"] == second["a3.png"] != second["a1.png"]  # the new pair, a key of its own
    assert verify(out).counts()["contradicted"] == 0

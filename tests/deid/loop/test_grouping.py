"""Grouping is evidence: a layout only when the whole input has it, a group only if the adversary agrees."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

from deid import Adversary
from deid.batch.grouping import detect_layout, group_files
from deid.batch.inputs import InputFile
from deid.loop.grouping import MIN_PARTNER_MATCH, partner_match, split_group, split_groups
from reid_model import embed, load_images, load_viper, select
from tests.conftest import TinyEmbedder


def _files(*names: str) -> list[InputFile]:
    return [InputFile(Path("/data") / n, Path(n)) for n in names]


def _keys(names, group_by="auto"):
    return {k: [f.relative.as_posix() for f in v] for k, v in group_files(_files(*names), group_by).items()}


VIPER = ("cam_a/000_45.bmp", "cam_b/000_90.bmp", "cam_a/001_0.bmp", "cam_b/001_180.bmp")
MARKET = ("q/0002_c1s1_000451_03.jpg", "g/0002_c3s1_000551_01.jpg", "g/0000_c1s1_000001_01.jpg")


def test_auto_groups_a_whole_viper_input():
    assert detect_layout(_files(*VIPER)) == "viper"
    assert _keys(VIPER) == {
        "viper:000": ["cam_a/000_45.bmp", "cam_b/000_90.bmp"],
        "viper:001": ["cam_a/001_0.bmp", "cam_b/001_180.bmp"],
    }


def test_auto_groups_a_whole_market_input_and_leaves_junk_alone():
    assert detect_layout(_files(*MARKET)) == "market"
    assert _keys(MARKET) == {
        "market:0002": ["q/0002_c1s1_000451_03.jpg", "g/0002_c3s1_000551_01.jpg"],
        "file:g/0000_c1s1_000001_01.jpg": ["g/0000_c1s1_000001_01.jpg"],
    }


@pytest.mark.parametrize(
    "names",
    [
        ("20240101_000001.bmp", "20240101_000002.bmp"),  # issue 9, case 1: phone photo names
        ("cam_a/20240101_000001.bmp", "cam_b/20240101_000002.bmp"),
        ("000_45.bmp", "000_90.bmp"),  # VIPeR names outside cam_a/ and cam_b/
        ("cam_a/000_45.png", "cam_b/000_90.png"),  # VIPeR ships BMP
        (*VIPER, "extra/x.png"),  # one file that is not VIPeR: the input is not VIPeR
        (*MARKET, "g/0002_c1s1_000451_03_copy.jpg"),
        ("q/0002_c1s1_000451_03.png", "q/0002_c2s1_000451_03.png"),
    ],
)
def test_auto_leaves_every_file_alone_unless_the_whole_input_has_a_layout(names):
    assert detect_layout(_files(*names)) == "none"
    assert _keys(names) == {f"file:{n}": [n] for n in names}


def test_an_explicit_layout_groups_only_the_files_that_have_it():
    names = (*VIPER, "extra/x.png", "cam_a/20240101_000001.bmp")
    keys = _keys(names, "viper")
    assert keys["viper:000"] == ["cam_a/000_45.bmp", "cam_b/000_90.bmp"]
    assert keys["file:extra/x.png"] == ["extra/x.png"]
    assert keys["file:cam_a/20240101_000001.bmp"] == ["cam_a/20240101_000001.bmp"]


# ----------------------------------------------------------------------------- the adversary's consent


def _image(seed: int) -> torch.Tensor:
    return torch.rand(3, 128, 48, generator=torch.Generator().manual_seed(seed))


def _adversary(model, images, extra=()):
    """A gallery of near-copies of each image's embedding: a different person beats about 1/4 of it."""
    base = embed(model, torch.stack(list(images)))
    g = torch.Generator().manual_seed(9)
    gallery = torch.cat([e + 1e-4 * torch.randn(10, base.shape[1], generator=g) for e in base])
    return Adversary([model, *extra], [gallery, *[gallery for _ in extra]])


def test_partner_match_is_symmetric_and_beats_the_gallery_for_a_copy(tiny_embedder):
    x, y = _image(1), _image(2)
    match = partner_match(_adversary(tiny_embedder, [x, y]), [x, x.clone(), y])
    assert torch.equal(match, match.T) and torch.equal(match.diagonal(), torch.zeros(3))
    assert match[0, 1] == 1.0  # a copy is nearer than every other person
    assert match[0, 2] < MIN_PARTNER_MATCH and match[1, 2] < MIN_PARTNER_MATCH


def test_split_keeps_what_the_adversary_links_and_says_why(tiny_embedder):
    x, y = _image(1), _image(2)
    adversary = _adversary(tiny_embedder, [x, y])
    split = split_group(adversary, [x, y, x.clone()])
    assert sorted(split.parts) == [[0, 2], [1]]
    assert split.reasons[0].startswith("split from its group of 3: concealed with 1 other")
    assert split.reasons[1].startswith("split from its group of 3: the adversary does not see it")
    assert "concealed on its own" in split.reasons[1]
    whole = split_group(adversary, [x, x.clone()])
    assert whole.parts == [[0, 1]] and all(r.startswith("grouped") for r in whole.reasons)
    alone = split_group(adversary, [x])
    assert alone.parts == [[0]] and alone.reasons == [None]


def test_every_model_must_link(tiny_embedder):
    """Linked by one model, not by another: split (the rule takes the least over models)."""
    x, y = _image(1), _image(2)
    torch.manual_seed(1)
    other = TinyEmbedder().eval()
    # The second model's gallery puts everyone far away, so it links anything to anything.
    far = embed(other, torch.stack([x, y])) + 1e3
    unlinked = Adversary([tiny_embedder], [_adversary(tiny_embedder, [x, y]).galleries[0]])
    assert split_group(unlinked, [x, y]).parts == [[0], [1]]
    linked = Adversary([other], [far])
    assert split_group(linked, [x, y]).parts == [[0, 1]]
    both = Adversary([tiny_embedder, other], [unlinked.galleries[0], far])
    assert split_group(both, [x, y]).parts == [[0], [1]]


@pytest.mark.viper
def test_the_rule_on_the_viper_test_persons(viper_root):
    """The numbers in deid/_grouping.py: true pairs linked, pairs of different persons not."""
    from reid_model import default_metadata

    test_ids = default_metadata()["split"]["test"]
    samples = select(load_viper(viper_root), test_ids)
    first, second = sorted({s.camera_id for s in samples})
    cam_a = sorted((s for s in samples if s.camera_id == first), key=lambda s: s.person_id)
    cam_b = sorted((s for s in samples if s.camera_id == second), key=lambda s: s.person_id)
    assert [s.person_id for s in cam_a] == [s.person_id for s in cam_b] and len(cam_a) == 127
    images = load_images([s.path for s in cam_a + cam_b])
    for fused, apart in ((False, 14726), (True, 14812)):
        match = partner_match(Adversary.default(fused=fused), list(images))[:127, 127:]
        linked = match >= MIN_PARTNER_MATCH
        same = torch.eye(127, dtype=torch.bool)
        assert int(linked[same].sum()) == 113  # of 127 true pairs
        assert int((~linked[~same]).sum()) == apart  # of 16002 pairs of different persons


def test_split_groups_matches_split_group_one_by_one(tiny_embedder):
    x, y = _image(1), _image(2)
    adversary = _adversary(tiny_embedder, [x, y])
    people = [[x], [x, y], [y, y.clone(), x], [x, x.clone()]]
    assert split_groups(adversary, people) == [split_group(adversary, person) for person in people]


def test_two_people_given_as_one_are_each_checked_against_their_own_original(tiny_embedder):
    """A new user's review gave ``deid.conceal_person`` two VIPeR persons as one: each was checked
    against the other only, and came back private with 16-19% changed. Where the adversary does
    not see the appearances as one person, each is checked against its own original too."""
    from deid import ConcealConfig, NotOnePersonWarning, conceal_people, conceal_person

    x, y = _image(1), _image(2)
    adversary = _adversary(tiny_embedder, [x, y])
    config = ConcealConfig(budget=0, shape="box", head="keep")
    with pytest.warns(NotOnePersonWarning, match=r"person\(s\) \[0\]") as said:
        checked = conceal_person([x, y], adversary=adversary, config=config)
    assert said[0].filename == __file__  # the warning points at the caller's line
    trusted = conceal_people([[x, y]], adversary=adversary, config=config, claimed=False)[0]
    # the original as it is: matched against itself, not against the other person
    assert checked.scores_before["rank"] == 1 and trusted.scores_before["rank"] > 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", NotOnePersonWarning)
        conceal_person([x, x.clone()], adversary=adversary, config=config)  # one person: no warning

"""A person's concealment rendered again on their appearances gives the loop's own images."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from deid.adversary import resolve_adversary
from deid.loop import ConcealConfig, conceal_people, render_person
from deid.loop.bodies import Body, find_bodies
from deid.loop.heads import ellipse_mask
from deid.loop.replay import person_covers
from deid.loop.results import PersonResult
from deid.operators.filling import Fill
from reid_model import read_image


@pytest.mark.viper
def test_render_person_reproduces_the_loop(viper_root: Path) -> None:
    adversary = resolve_adversary(None)
    crops = [read_image(viper_root / "cam_a" / "000_45.bmp"), read_image(viper_root / "cam_b" / "000_45.bmp")]
    result = conceal_people([crops], config=ConcealConfig(seed=0), adversary=adversary)[0]
    again = render_person(result, crops, find_bodies(crops), adversary, head="blur")
    for loop_image, replayed in zip(result.images, again, strict=True):
        assert torch.equal(loop_image, replayed)
    assert result.operator is not None


def test_render_person_refuses_a_result_without_operator() -> None:
    result = PersonResult([], None, 0, True, False, None, 0.0, {}, {})
    adversary = resolve_adversary(None)
    with pytest.raises(ValueError, match="conceal loop"):
        render_person(result, [torch.rand(3, 128, 48)], [], adversary, head="blur")


def test_person_covers_are_the_body_widened_and_the_head_even_where_the_fill_kept_the_pixels() -> None:
    adversary = resolve_adversary(None)
    crop = torch.rand(3, 128, 48, generator=torch.Generator().manual_seed(0))
    crop[:, 80:] = 0.0  # black trousers
    silhouette = torch.zeros(128, 48, dtype=torch.bool)
    silhouette[20:120, 16:32] = True
    body = Body(silhouette, None)  # no pose: the head is the crop's top band
    result = PersonResult(
        [], torch.ones(1, 128, 48), 1, True, False, None, 0.0, {}, {}, operator=Fill(color=0.0), shape="body"
    )
    result.margin = 0.0
    (image,) = render_person(result, [crop], [body], adversary, head="fill")
    (cover,) = person_covers(result, [crop], [body], adversary, head="fill")
    head = ellipse_mask(128, 48, body.head())
    assert torch.equal(cover, silhouette | head)
    changed = (image != crop).any(0)
    assert not bool(changed[~cover].any())  # nothing outside the cover changes
    assert bool(cover[80:120, 16:32].all()) and not bool(changed[80:120, 16:32].any())  # black on black
    result.shape = "box"
    (cover,) = person_covers(result, [crop], [body], adversary, head="keep")
    assert bool(cover.all())

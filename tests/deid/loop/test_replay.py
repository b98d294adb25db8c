"""A person's concealment rendered again on their appearances gives the loop's own images."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from deid.adversary import resolve_adversary
from deid.loop import ConcealConfig, conceal_people, render_person
from deid.loop.bodies import find_bodies
from deid.loop.results import PersonResult
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

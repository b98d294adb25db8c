"""The stand-in figure: a grey figure in the person's pose, of standard build, on their outfit."""

import numpy as np
import pytest
import torch

from deid.adversary import Adversary
from deid.loop.appearances import People
from deid.loop.bodies import Body
from deid.loop.config import ConcealConfig
from deid.loop.fallback import fallback_operators
from deid.operators import Compose, Figure, Noise, OutfitFill
from deid.operators.figure import GREY, INK, figure_mask, standing
from deid.operators.outfit import COLORS
from tests.conftest import TinyEmbedder


def _pose(shoulders: float = 6.0, dx: float = 0.0) -> np.ndarray:
    """A walking person 100 pixels tall in a 120 x 50 crop, shifted ``dx`` to the right, their
    shoulders ``2 * shoulders`` pixels apart."""
    k = np.zeros((33, 3))
    k[:, 2] = 1.0
    points = {
        0: (25, 10),
        11: (25 - shoulders, 28),
        12: (25 + shoulders, 28),
        13: (20, 45),
        14: (31, 45),
        15: (18, 60),
        16: (34, 58),
        23: (22, 62),
        24: (28, 62),
        25: (16, 82),
        26: (33, 82),
        27: (12, 104),
        28: (37, 104),
        29: (11, 106),
        30: (38, 106),
        31: (15, 110),
        32: (41, 110),
    }
    for i, (x, y) in points.items():
        k[i, :2] = (x + dx, y)
    return k


def _outfit() -> OutfitFill:
    return OutfitFill(COLORS[[2]], COLORS[[6]])  # blue over green, plain


def test_the_figure_follows_the_pose_and_the_outfit_stays_around_it() -> None:
    pose = torch.from_numpy(_pose())
    drawn = Figure(_outfit()).for_poses([pose])(torch.rand(1, 3, 120, 50), torch.ones(1, 1, 120, 50))[0]
    for a, b in ((23, 25), (25, 27), (11, 13), (0, 0)):  # along a thigh, a shin, an arm; the head
        x, y = ((pose[a, :2] + pose[b, :2]) / 2).round().long().tolist()
        assert drawn[:, y, x].tolist() == [GREY] * 3
    # blue over green at half their contrast: halfway to the canvas's mean (a blue-green)
    assert drawn[:, 5, 2].tolist() == [0.0, 0.25, 0.75] and drawn[:, 115, 48].tolist() == [0.0, 0.75, 0.25]


def test_the_figure_is_outlined_in_dark_grey() -> None:
    drawn = Figure(_outfit()).for_poses([torch.from_numpy(_pose())])(
        torch.rand(1, 3, 120, 50), torch.ones(1, 1, 120, 50)
    )[0]
    body = torch.from_numpy(figure_mask(_pose(), (120, 50)))
    ink = (drawn == INK).all(0)

    def near(k: int) -> torch.Tensor:  # within k pixels of the figure (in x and y)
        return torch.nn.functional.max_pool2d(body[None, None].float(), 2 * k + 1, 1, k)[0, 0].bool()

    assert bool(ink[near(1) & ~body].all())  # every pixel beside the figure is the outline's
    assert bool(ink[near(2) & ~near(1)].float().mean() > 0.5)  # most of the next ring too
    assert not bool(ink[~near(2)].any())  # and none further: 2 pixels (0.02 of 100)


def test_the_figure_moves_with_the_person() -> None:
    still, moved = (figure_mask(_pose(dx=dx), (120, 50)) for dx in (0.0, 5.0))
    shifted = np.zeros_like(still)
    shifted[:, 5:] = still[:, :-5]
    # OpenCV's thick lines round their edges by where they lie: a few pixels differ
    assert (shifted & moved).sum() / (shifted | moved).sum() > 0.97
    assert not (moved[:, :5].any() or still[:, -5:].any())


def test_the_figure_has_a_standard_build_whoever_the_person_is() -> None:
    # broad and narrow shoulders: the same torso below the shoulders
    broad, narrow = (figure_mask(_pose(shoulders=s), (120, 50)) for s in (10.0, 3.0))
    assert np.array_equal(broad[40:62, 22:29], narrow[40:62, 22:29])
    row = narrow[50]
    assert 0.15 * 100 <= row.sum() <= 0.3 * 100  # the torso's width at the waist: a fraction of the height


def test_a_person_without_a_pose_stands_upright_in_their_box() -> None:
    mask = figure_mask(standing((120, 50)), (120, 50))
    rows, cols = np.nonzero(mask)
    assert rows.min() < 12 and rows.max() > 108  # head to feet
    assert cols.min() > 0 and cols.max() < 49  # inside the box
    drawn = Figure(_outfit())(torch.rand(1, 3, 120, 50), torch.ones(1, 1, 120, 50))[0]
    assert torch.equal((drawn == GREY).all(0), torch.from_numpy(mask))
    broken = torch.from_numpy(_pose())
    broken[25, 0] = float("nan")  # a keypoint that is not a number: drawn standing too
    drawn = Figure(_outfit()).for_poses([broken])(torch.rand(1, 3, 120, 50), torch.ones(1, 1, 120, 50))[0]
    assert torch.equal((drawn == GREY).all(0), torch.from_numpy(mask))


def test_figures_are_narrowed_to_people_and_need_one_pose_per_image() -> None:
    figure = Figure(OutfitFill(COLORS[[2, 6]], COLORS[[6, 2]]))
    one = figure.for_poses([torch.from_numpy(_pose()), None]).for_people(torch.tensor([1]))
    assert one.poses is None and one.outfits.tops.tolist() == [COLORS[6].tolist()]
    with pytest.raises(ValueError, match="poses must be one per image"):
        figure.for_poses([None])(torch.rand(2, 3, 120, 50), torch.ones(2, 1, 120, 50))
    noisy = Compose(figure, Noise(std=0.1, seed=1)).for_poses([None, None])
    assert isinstance(noisy.operators[0], Figure) and noisy.operators[0].poses == (None, None)


def _drawn_in_the_loop(figure: Figure) -> list[torch.Tensor]:
    """``figure`` drawn by the loop on two appearances of one person, posed ``_pose(dx)`` for
    ``dx`` 0 and 8: the pixels in the figure's grey."""
    adversary = Adversary([TinyEmbedder()], [torch.zeros(4, 8)])
    generator = torch.Generator().manual_seed(0)
    images = [torch.rand(3, 120, 50, generator=generator) for _ in range(2)]
    bodies = [
        Body(torch.ones(120, 50, dtype=torch.bool), torch.from_numpy(_pose(dx=dx)).float()) for dx in (0, 8)
    ]
    drawn = People([images], adversary, bodies=bodies).draw(figure, torch.ones(1, 1, 128, 48))
    return [((image - GREY).abs() <= 1 / 255).all(0) for image in drawn]  # the loop writes uint8 levels


def test_the_loop_draws_each_appearance_in_its_own_pose() -> None:
    for grey, dx in zip(_drawn_in_the_loop(Figure(_outfit())), (0, 8), strict=True):
        assert torch.equal(grey, torch.from_numpy(figure_mask(_pose(dx=dx), (120, 50))))


def test_an_upright_figure_stands_where_the_person_is_whatever_their_pose() -> None:
    first, moved = _drawn_in_the_loop(Figure(_outfit(), upright=True))
    assert torch.equal(first, torch.from_numpy(figure_mask(standing((120, 50), _pose()), (120, 50))))
    assert torch.equal(moved, torch.from_numpy(figure_mask(standing((120, 50), _pose(dx=8)), (120, 50))))
    # moved right as far as the crop lets it stay whole
    assert moved.nonzero()[:, 1].float().mean() > first.nonzero()[:, 1].float().mean() + 2
    assert not moved[:, -1].any()
    rows, cols = np.nonzero(first.numpy())
    assert rows.min() < 10 - 3 and 110 - 4 < rows.max() < 110 + 3  # the head above the nose, feet at theirs
    assert abs(cols.mean() - 25) < 1  # centred on the shoulders and hips
    assert not torch.equal(first, torch.from_numpy(figure_mask(_pose(), (120, 50))))  # not in their pose
    assert Figure(_outfit(), upright=True).for_people(torch.tensor([0])).upright  # kept when narrowed


def test_an_upright_figure_keeps_a_person_s_build_in_a_wide_box() -> None:
    wide = figure_mask(standing((100, 90)), (100, 90))
    cols = np.nonzero(wide.any(0))[0]
    assert cols.min() > 20 and cols.max() < 70 and abs(cols.mean() - 45) < 1  # not stretched
    narrow = figure_mask(standing((128, 48)), (128, 48))  # a VIPeR crop's proportions: filled
    assert narrow.any(0).sum() > 0.65 * 48
    tall = figure_mask(standing((120, 50), _pose() * [1, 1.5, 1]), (120, 50))  # taller than the crop
    assert tall.any(1).sum() > 0.9 * 120 and not (tall[0].any() or tall[-1].any())  # shrunk to fit, whole
    lying = _pose()
    lying[:, 1] = 60  # nose and feet at one height: not a pose to stand up in; the box's figure
    drawn = Figure(_outfit(), upright=True).for_poses([torch.from_numpy(lying)])(
        torch.rand(1, 3, 120, 50), torch.ones(1, 1, 120, 50)
    )[0]
    assert torch.equal((drawn == GREY).all(0), torch.from_numpy(figure_mask(standing((120, 50)), (120, 50))))


def test_the_palette_offers_the_figure_first_for_the_box_only() -> None:
    config, outfit, worn = ConcealConfig(), _outfit(), OutfitFill(COLORS[[5]], COLORS[[7]])
    palette = fallback_operators(config, outfit, figure=worn)
    assert [n for n, _ in palette][:2] == ["figure", "fill"]
    assert palette[0][1].describe(0) == worn.describe(0)  # the figure wears the outfits it is given
    assert next(n for n, _ in fallback_operators(config, outfit)) == "fill"  # a body's whole fill
    for pose, upright in (("upright", True), ("own", False)):
        figure = fallback_operators(ConcealConfig(figure_pose=pose), outfit, figure=worn)[0][1]
        assert isinstance(figure, Figure) and figure.upright is upright
    with pytest.raises(ValueError, match="figure_pose"):
        ConcealConfig(figure_pose="sitting")
    for off in (
        ConcealConfig(figure=False),
        ConcealConfig(shape="body-only"),
        ConcealConfig(fallback_operator="own"),
    ):
        assert "figure" not in [n for n, _ in fallback_operators(off, outfit, figure=worn)]

"""The conceal loop's settings, with the measured reasons for their defaults."""

from __future__ import annotations

import math
from dataclasses import dataclass

from attribution import METHODS
from deid.loop.bodies import SHAPES
from deid.loop.heads import HEADS, check_head_scale
from deid.operators.figure import FIGURE_POSES
from deid.operators.registry import OPERATORS, build_operator
from reid_model.checks import check_choice

#: With ``shape="body"``, whoever is still matched is concealed again with the margin widened by
#: these factors in turn, then by box.
WIDER = (4.0,)
#: Operators that wear each person's drawn outfit with ``colors="outfit"``.
OUTFIT_OPERATORS = ("fill", "redress")


@dataclass(frozen=True)
class ConcealConfig:
    """Settings of the conceal loop; each ``deid conceal`` flag sets one field.

    The mask grows on a geometric schedule: after step ``t`` it holds about
    ``first_cells * growth**t`` grid cells, each step's new cells being the ones the latest
    attribution ranks highest. The step that reaches privacy is then refined: the smallest prefix
    of that step's cells (in attribution order) that still defeats the adversary is kept. The
    default first step takes half of the 96 cells: at the chance-level target the VIPeR test
    persons need 87% of the crop on average, so smaller first steps only add checks (on the 127 VIPeR
    test persons in one call, 16 first cells gave 85.8% of the crop at 15.7 crops/s, 48 gave
    87.2% at 21.8 crops/s).

    The privacy target (``max_match_rate``, ``top_k``) is not a loop setting: the adversary that
    judges the loop owns it (:class:`deid.adversary.Adversary`).

    Attributes:
        operator: operator name (``deid.OPERATORS``), or several joined by ``+``.
        strength: the operator's strength in (0, 1], 1 the strongest (for ``fill`` with outfits,
            their opacity; see :func:`deid.build_operator` for the others).
        method: attribution method that ranks the cells (``attribution.METHODS``); methods with a
            baseline take the fully concealed image as it. Integrated Gradients is the most
            faithful in ``benchmarks/faithfulness.py`` and defeats the loop's adversary with less
            area (79.0% of the crop on the VIPeR test persons against 87.6% with saliency), but
            that tighter mask leaks more to attackers the loop never saw (hand-crafted rank-1
            6.3% against 1.6%) and runs about 2x slower, so the default is ``saliency``.
        ig_steps: integration steps when ``method`` is Integrated Gradients.
        grid: rows and columns of mask cells over the crop.
        first_cells: cells in the mask after the first step.
        growth: factor by which the mask grows per step (> 1).
        budget: largest number of steps before the whole-crop fallback.
        refine: binary-search the shortest private prefix of the last step's cells.
        fallback_operator: what the fallback tries on the whole crop after the configured
            operator: ``"auto"`` tries grey, black and white fills and colour-shifted noise and
            keeps the first that defeats the adversary (else the one matched least); an
            operator name tries that one; ``"own"`` none but the configured operator at its
            strength (the look is what ``operator`` and ``strength`` say, and whoever stays
            matched is reported so).
        colors: the colours when ``operator`` is ``"fill"`` or ``"redress"``: ``"outfit"`` gives each
            person a two-tone outfit (top and bottom colour) drawn at random among those that
            defeat the adversary on the whole crop (see :mod:`deid.operators.outfit`); ``"fixed"`` fills
            everyone with mid grey. A fill that tells nothing about the person leaves about half
            of the people ranked in the better half of the gallery, so ``"fixed"`` often ends in
            the fallback under the chance-level target.
        seed: seeds the outfit draw for a reproducible run; None draws from the operating
            system's entropy, so nobody can replay the draw.
        shape: ``"body"``: the mask is cut to the person's silhouette (from the pose model on
            the crop) widened by ``margin``, and the background beyond it is left alone; a
            person the adversary still matches after the body-shaped loop and its fallback is
            concealed again with the margin widened four times, then with ``"box"`` shape (the
            whole crop, background included), privacy first, and the result says so.
            ``"body-only"``: the same without the box, so the form is always kept and a person
            still matched is reported not private. ``"box"``: the mask covers the crop.
        margin: how far beyond the silhouette the body-shaped mask reaches, as a fraction of
            the crop's width.
        head: what is done to every appearance's head (from its keypoints, or the crop's top
            band without a pose), inside the loop so the adversary judges it: ``"blur"``,
            ``"pixelate"``, ``"fill"`` (the head's mean colour) or ``"keep"``. A face
            identifies a person to any viewer whatever the adversary says.
        head_scale: the head's ellipse (and the box grown to hold it) scaled about its centre,
            in [0.25, 4]: 1 is about twice a head's width, a margin for keypoints that drift
            (:func:`deid.loop.heads.head_ellipse`).
        figure: with ``shape="body"``, ``fallback_operator="auto"`` and outfits, whoever must be
            concealed by box or by a widened body gets it with a stand-in figure first
            (:class:`deid.operators.Figure`, standing as ``figure_pose`` says: they stay a
            person to a viewer and to a people detector), then the fallback's palette on the whole box (or
            widened body) where the adversary still matches the figure. False: the box of before (the loop's search
            over the crop's cells, then the palette).
        figure_draws: how many outfits the figure tries: the person's own (where the figure
            shows on it), then draws among those private with a figure standing on them
            (:data:`deid.operators.figure.FIGURE_OUTFITS`); a person wears the first their
            figure is private in.
        figure_pose: how the figure stands: ``"upright"`` (where the person stands and as
            tall, inside their box, the same posture for everyone:
            :func:`deid.operators.figure.standing`) or ``"own"`` (in the person's own pose,
            where it is known). Upright, OpenCV's people detector found a person in more
            concealed crops and frames (the 127 VIPeR test persons: 62.2% against 44.5%; the
            Penn-Fudan frames: 0.80 of the people it found on the originals against 0.72),
            and a posture or a gait identifies a person too; ``"own"`` keeps the pose for
            analyses that need it (keypoints within 0.1 of the height: 70.4% against 63.5% on
            VIPeR, 0.67 against 0.53 on Penn-Fudan).
    """

    operator: str = "fill"
    strength: float = 1.0
    method: str = "saliency"
    ig_steps: int = 4
    grid: tuple[int, int] = (16, 6)
    first_cells: int = 48
    growth: float = 2.0
    budget: int = 6
    refine: bool = True
    fallback_operator: str = "auto"
    colors: str = "outfit"
    seed: int | None = None
    shape: str = "body"
    margin: float = 0.05
    head: str = "blur"
    head_scale: float = 1.0
    figure: bool = True
    figure_draws: int = 8
    figure_pose: str = "upright"

    def __post_init__(self) -> None:
        build_operator(self.operator, self.strength)  # validates name and strength
        check_choice("fallback_operator", self.fallback_operator, {"auto", "own", *OPERATORS})
        check_choice("method", self.method, METHODS)
        check_choice("colors", self.colors, {"outfit", "fixed"})
        check_choice("shape", self.shape, SHAPES)
        check_choice("head", self.head, HEADS)
        check_head_scale(self.head_scale)
        if not 0.0 <= self.margin <= 1.0:
            raise ValueError(f"margin must be a fraction of the crop's width in [0, 1], got {self.margin}")
        if self.budget < 0:
            raise ValueError(f"budget must be >= 0, got {self.budget}")
        check_choice("figure_pose", self.figure_pose, FIGURE_POSES)
        if self.figure_draws < 1:
            raise ValueError(f"figure_draws must be >= 1, got {self.figure_draws}")
        if self.first_cells < 1:
            raise ValueError(f"first_cells must be >= 1, got {self.first_cells}")
        if not self.growth > 1.0:
            raise ValueError(f"growth must be > 1, got {self.growth}")

    def schedule(self, n_cells: int) -> list[int]:
        """Cells in the mask after each step: ``[0, n_1, n_2, ...]``, strictly growing, capped."""
        counts = [0]
        while counts[-1] < n_cells and len(counts) <= self.budget:
            step = len(counts) - 1
            counts.append(min(n_cells, max(counts[-1] + 1, math.ceil(self.first_cells * self.growth**step))))
        return counts

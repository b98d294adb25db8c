"""Faithfulness: deletion curves. Hiding pixels in attribution order should lower the score
faster than hiding them in random order; the area under the curve (AUC) says how much faster.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from attribution._fills import filler
from attribution.scores import MatchScore
from reid_model.checks import check_images, check_positive


@dataclass(frozen=True)
class DeletionCurves:
    """Scores while deleting pixels, for ``B`` images at ``K + 1`` deleted fractions.

    Attributes:
        fractions: ``(K + 1,)`` deleted fractions, 0 to 1.
        attribution: ``(B, K + 1)`` scores, deleting the most positive attributions first.
        random: ``(B, K + 1)`` scores, deleting in random order (mean over the repeats).
    """

    fractions: torch.Tensor
    attribution: torch.Tensor
    random: torch.Tensor

    def normalized(self, curves: torch.Tensor) -> torch.Tensor:
        """Curves scaled to start at 1 and end at 0 (NaN where the score does not change)."""
        start, end = self.attribution[:, :1], self.attribution[:, -1:]
        span = start - end
        span = torch.where(span.abs() > 1e-8, span, torch.full_like(span, float("nan")))
        return (curves - end) / span

    def auc(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalized areas ``(B,)`` under the attribution-order and random-order curves.

        Lower is faster deletion; a faithful attribution has ``auc_attribution < auc_random``.
        An area below 0 means that deleting the top pixels alone lowers the score below that
        of the fully deleted image (the pixels deleted last were holding it down).
        """
        return (
            torch.trapezoid(self.normalized(self.attribution), self.fractions, dim=1),
            torch.trapezoid(self.normalized(self.random), self.fractions, dim=1),
        )


def _ranks(order_keys: torch.Tensor) -> torch.Tensor:
    """The rank ``(B, N)`` of each pixel when sorted by descending key (0 = first deleted)."""
    order = order_keys.argsort(dim=1, descending=True, stable=True)
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(order.shape[1], device=order.device).expand_as(order))
    return ranks


def _curve(
    score: MatchScore,
    images: torch.Tensor,
    args: tuple[torch.Tensor, ...],
    ranks: torch.Tensor,
    counts: list[int],
    fill: str,
    batch_size: int,
) -> torch.Tensor:
    b, _, h, w = images.shape
    fill_images = filler(images, fill)
    out = torch.empty(b, len(counts), dtype=images.dtype, device=images.device)
    for start in range(0, b, max(1, batch_size // len(counts))):
        part = slice(start, start + max(1, batch_size // len(counts)))
        rows = ranks[part]
        masks = torch.stack([(rows < n).view(-1, 1, h, w) for n in counts], dim=1).to(images.dtype)
        x = images[part, None]
        batch = (x * (1 - masks) + fill_images[part, None] * masks).flatten(0, 1)
        expanded = tuple(a[part].repeat_interleave(len(counts), dim=0) for a in args)
        out[part] = score(batch, *expanded).view(-1, len(counts))
    return out


def deletion_curves(
    score: MatchScore,
    images: torch.Tensor,
    attributions: torch.Tensor,
    *,
    steps: int = 16,
    repeats: int = 3,
    fill: str = "mean",
    seed: int = 0,
    batch_size: int = 256,
) -> DeletionCurves:
    """Delete pixels in attribution order and in random order, scoring each step.

    A pixel is deleted by replacing it with the image's mean colour (``fill="mean"``) or its
    blur (``"blur"``). Ties in the attribution order are broken at random.

    Args:
        score: the match score the attributions explain (its forward args, one row per image).
        images: ``(B, 3, H, W)`` in [0, 1].
        attributions: ``(B, 1, H, W)``, the most positive pixels are deleted first.
        steps: number of deletion steps ``K`` (fractions ``0, 1/K, ..., 1``).
        repeats: random orders averaged for the random curve.
        fill: ``"mean"`` or ``"blur"``.
        seed: seeds the random orders and the tie breaking.
        batch_size: images per model call.

    Example:
        >>> curves = deletion_curves(score, images, explain(score, images))  # doctest: +SKIP
        >>> auc_attribution, auc_random = curves.auc()  # doctest: +SKIP
    """
    check_images(images)
    check_positive("steps", steps)
    check_positive("repeats", repeats)
    b, _, h, w = images.shape
    if attributions.shape != (b, 1, h, w):
        raise ValueError(f"attributions must have shape ({b}, 1, {h}, {w}), got {tuple(attributions.shape)}")
    score.check_batch(b)
    args = tuple(a.expand(b, -1) for a in score.forward_args())
    generator = torch.Generator().manual_seed(seed)
    n = h * w
    counts = [round(k * n / steps) for k in range(steps + 1)]
    # A random permutation first, then a stable sort: ties fall in random order.
    shuffle = torch.stack([torch.randperm(n, generator=generator) for _ in range(b)]).to(images.device)
    keys = attributions.flatten(1).gather(1, shuffle)
    ranks = _ranks(keys)
    ranks = torch.empty_like(ranks).scatter_(1, shuffle, ranks)
    with torch.no_grad():
        by_attribution = _curve(score, images, args, ranks, counts, fill, batch_size)
        random_curves = []
        for _ in range(repeats):
            random_ranks = torch.stack([torch.randperm(n, generator=generator) for _ in range(b)])
            random_curves.append(
                _curve(score, images, args, random_ranks.to(images.device), counts, fill, batch_size)
            )
    fractions = torch.tensor(counts, dtype=images.dtype, device=images.device) / n
    return DeletionCurves(fractions, by_attribution, torch.stack(random_curves).mean(dim=0))

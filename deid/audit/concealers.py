"""Concealers for the audit: the usual anonymizers (baselines) and the conceal loop, one interface.

A concealer is a callable that takes one person's appearances (a list of ``(3, H, W)`` tensors)
and returns the concealed appearances and the mask: either a pair ``(images, mask)`` or an object
with ``.images`` and ``.mask`` (such as :class:`deid.PersonResult`, whose ``.fallback`` the audit
reports too). A concealer that also has ``conceal_people(people)`` is given many persons at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Protocol

import torch

from deid.adversary import Adversary
from deid.loop.config import ConcealConfig
from deid.loop.results import PersonResult
from deid.loop.search import conceal_people
from deid.operators.blurring import blur
from deid.operators.filling import fill
from deid.operators.pixelation import pixelate
from deid.operators.registry import OPERATORS, build_operator
from reid_model.checks import check_choice

#: Baseline names: whole-crop blur, pixelation with 8 and 16 pixel blocks, blackout, head-only blur.
BASELINES = ("blur", "pixelate8", "pixelate16", "blackout", "head_blur")
#: The head band of a pedestrian crop: its top sixth (the head is about 1/7 of the body height).
HEAD_FRACTION = 1 / 6


class Concealer(Protocol):
    """Conceals one person's appearances ``(3, H, W)``; returns ``(images, mask)`` or a result."""

    def __call__(self, images: Sequence[torch.Tensor]) -> Any: ...


class MaskConcealer:
    """A fixed-region concealer: an operator over the whole crop or over its head band.

    Args:
        operator: ``(images (B, 3, H, W), mask (B, 1, H, W)) -> images``, e.g. a deid operator.
        region: ``"whole"`` (the whole crop) or ``"head"`` (the top ``head_fraction`` rows).
        head_fraction: height of the head band as a fraction of the crop's height.

    Example:
        >>> concealer = MaskConcealer(lambda x, m: x * (1 - m), region="head")
        >>> images, mask = concealer([torch.rand(3, 128, 48), torch.rand(3, 128, 48)])
        >>> images.shape, mask.shape, round(float(mask.mean()), 3)
        (torch.Size([2, 3, 128, 48]), torch.Size([2, 1, 128, 48]), 0.164)
    """

    def __init__(
        self,
        operator: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        *,
        region: str = "whole",
        head_fraction: float = HEAD_FRACTION,
    ) -> None:
        check_choice("region", region, ("whole", "head"))
        if not 0 < head_fraction <= 1:
            raise ValueError(f"head_fraction must be in (0, 1], got {head_fraction}")
        self.operator = operator
        self.region = region
        self.head_fraction = head_fraction

    def mask(self, height: int, width: int, *, device: torch.device | None = None) -> torch.Tensor:
        """The region as a mask ``(1, 1, height, width)``, 1 = concealed."""
        mask = torch.zeros(1, 1, height, width, device=device)
        rows = height if self.region == "whole" else max(1, round(height * self.head_fraction))
        mask[..., :rows, :] = 1.0
        return mask

    def __call__(
        self, images: Sequence[torch.Tensor]
    ) -> tuple[torch.Tensor | list[torch.Tensor], torch.Tensor | list[torch.Tensor]]:
        outputs, masks = [], []
        for image in images:  # appearances may differ in size
            mask = self.mask(*image.shape[-2:], device=image.device).to(image.dtype)
            outputs.append(self.operator(image[None], mask)[0])
            masks.append(mask[0])
        if len({tuple(o.shape) for o in outputs}) == 1:
            return torch.stack(outputs), torch.stack(masks)
        return outputs, masks


def baseline_concealers(
    *, blur_sigma: float | None = None, head_fraction: float = HEAD_FRACTION
) -> dict[str, MaskConcealer]:
    """The usual anonymizers as concealers, by the names in :data:`BASELINES`.

    Args:
        blur_sigma: Gaussian sigma in pixels for ``blur`` and ``head_blur``; by default the
            conceal loop's strongest blur (``deid.build_operator("blur", 1.0)``: 0.2 x the width,
            9.6 pixels on a 48-pixel-wide crop).
        head_fraction: height of the head band of ``head_blur``.

    Example:
        >>> sorted(baseline_concealers())
        ['blackout', 'blur', 'head_blur', 'pixelate16', 'pixelate8']
    """
    strong_blur: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    if blur_sigma is None:
        strong_blur = build_operator("blur", 1.0)
    else:
        sigma = blur_sigma
        strong_blur = lambda x, m: blur(x, m, sigma=sigma)  # noqa: E731
    return {
        "blur": MaskConcealer(strong_blur),
        "pixelate8": MaskConcealer(lambda x, m: pixelate(x, m, block=8)),
        "pixelate16": MaskConcealer(lambda x, m: pixelate(x, m, block=16)),
        "blackout": MaskConcealer(lambda x, m: fill(x, m, color=0.0)),
        "head_blur": MaskConcealer(strong_blur, region="head", head_fraction=head_fraction),
    }


class LoopConcealer:
    """The conceal loop (:func:`deid.conceal_people`) as an audit concealer.

    Args:
        config: the loop's settings; ``options`` override its fields (e.g. ``operator="pixelate"``).
        adversary: the loop's adversary; the bundled default when None.
        device: where the default adversary runs.

    Example:
        >>> concealer = LoopConcealer(operator="pixelate")  # doctest: +SKIP
        >>> result = concealer([cam_a_image, cam_b_image])  # doctest: +SKIP
    """

    def __init__(
        self,
        config: ConcealConfig | None = None,
        *,
        adversary: Adversary | None = None,
        device: str | torch.device = "cpu",
        **options: Any,
    ) -> None:
        self.config = replace(config or ConcealConfig(), **options)
        self.adversary = adversary
        self.device = device

    def conceal_people(self, people: Sequence[Sequence[torch.Tensor]]) -> list[PersonResult]:
        """Conceal several persons at once (the loop runs them batched)."""
        if self.adversary is None:
            self.adversary = Adversary.default(device=self.device)
        return conceal_people(
            people, config=self.config, adversary=self.adversary, device=self.device, claimed=False
        )  # VIPeR's persons: the grouping is known

    def __call__(self, images: Sequence[torch.Tensor]) -> PersonResult:
        return self.conceal_people([list(images)])[0]


def loop_concealers(operators: Sequence[str] | None = None, **options: Any) -> dict[str, LoopConcealer]:
    """The conceal loop with each operator, named ``loop_<operator>``.

    Args:
        operators: operator names (default: every one in ``deid.OPERATORS``).
        options: :class:`deid.ConcealConfig` fields and ``adversary``/``device`` for every loop.

    Example:
        >>> sorted(loop_concealers(["blur", "fill"]))
        ['loop_blur', 'loop_fill']
    """
    names = list(operators) if operators is not None else list(OPERATORS)
    for name in names:
        build_operator(name)  # validates
    return {f"loop_{name}": LoopConcealer(operator=name, **options) for name in names}

"""The operator contract: ``operator(images, mask)`` conceals ``images`` where ``mask`` is 1.

Every operator returns ``images * (1 - mask) + effect(images) * mask``: the same shape, dtype
and device as ``images``, values in [0, 1], and exactly ``images`` wherever ``mask`` is 0.
``images`` is ``(B, 3, H, W)`` float RGB in [0, 1]; ``mask`` is ``(B, 1, H, W)`` or
``(1, 1, H, W)`` float in [0, 1] (1 = conceal) or bool.

The classes hold settings; ``relative=True`` gives a size (blur sigma, pixel block, inpaint
radius) as a fraction of the image width, so one setting means the same at 48x128 and on a
larger crop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch

from reid_model.checks import RANGE_TOLERANCE, check_images, check_mask, check_positive

Color = float | tuple[float, float, float] | str


def checked(images: object, mask: object) -> tuple[torch.Tensor, torch.Tensor]:
    """``images`` and ``mask`` checked (shapes, device, values in [0, 1] within
    :data:`~reid_model.checks.RANGE_TOLERANCE`); the mask in the images' dtype."""
    images = check_images(images)  # finite and in [0, 1]: one pass over the pixels
    mask = check_mask(mask, images)
    if mask.device != images.device:
        raise ValueError(f"mask must be on the images' device {images.device}, got {mask.device}")
    mask = mask.to(images.dtype)
    if mask.numel():
        low, high = torch.aminmax(mask.detach())
        if not (low >= -RANGE_TOLERANCE and high <= 1 + RANGE_TOLERANCE):
            got = f"[{low.item():.4g}, {high.item():.4g}]"
            raise ValueError(f"mask must have values in [0, 1], got values in {got}")
    return images, mask


def blend(images: torch.Tensor, mask: torch.Tensor, effect: torch.Tensor) -> torch.Tensor:
    """``images`` where ``mask`` is 0, ``effect`` (clamped to [0, 1]) where it is 1, linear between."""
    # lerp is exact at both ends: weight 0 returns images, weight 1 returns the effect.
    return torch.lerp(images, effect.clamp(0.0, 1.0), mask)


def check_size(name: str, value: float, relative: bool) -> None:
    """Refuse a size (sigma, block, radius) that is not positive, or over 1 when relative to the width."""
    check_positive(name, value)
    if relative and value > 1:
        raise ValueError(
            f"{name} is a fraction of the width when relative=True, expected (0, 1], got {value}"
        )


def to_pixels(value: float, relative: bool, width: int) -> float:
    """A size in pixels: ``value`` itself, or ``value`` times ``width`` when relative."""
    return value * width if relative else value


class Operator:
    """A configured operator: ``operator(images, mask)`` conceals ``images`` where ``mask`` is 1.

    Subclasses implement :meth:`transform`, the unmasked effect on the whole image.
    """

    name: ClassVar[str] = ""

    def transform(self, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The effect on the whole of ``images (B, 3, H, W)``, before blending with ``mask``."""
        raise NotImplementedError

    def for_people(self, persons: torch.Tensor) -> Operator:
        """The operator for a batch whose image ``i`` shows person ``persons[i]`` (``(B,)`` long).

        The same operator unless its settings differ per person (each person's outfit, say):
        the conceal loop calls this for every batch it renders, so it knows only ``Operator``.
        """
        return self

    def for_poses(self, keypoints: Sequence[torch.Tensor | None]) -> Operator:
        """The operator for a batch whose image ``i`` shows a person in the pose ``keypoints[i]``
        (``(33, 3)`` in the image's pixels; None: not known).

        The same operator unless it draws the pose (:class:`deid.operators.Figure`): the conceal
        loop calls this with each appearance's body after :meth:`for_people`.
        """
        return self

    def __call__(self, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        images, mask = checked(images, mask)
        return blend(images, mask, self.transform(images, mask))


@dataclass(frozen=True, init=False)
class Compose(Operator):
    """Several operators chained on the whole image, then blended once with the mask.

    Example:
        >>> from deid.operators import Blur, ColorShift
        >>> op = Compose(Blur(sigma=2.0), ColorShift(saturation=0.0))
        >>> op(torch.rand(1, 3, 32, 16), torch.ones(1, 1, 32, 16)).shape
        torch.Size([1, 3, 32, 16])
    """

    operators: tuple[Operator, ...]
    name: ClassVar[str] = "compose"

    def __init__(self, *operators: Operator) -> None:
        if not operators or not all(isinstance(op, Operator) for op in operators):
            raise TypeError(f"Compose needs one or more Operator instances, got {operators!r}")
        object.__setattr__(self, "operators", tuple(operators))

    def for_people(self, persons: torch.Tensor) -> Compose:
        """Each operator narrowed to ``persons`` (an outfit per person, say), in the same order."""
        return Compose(*(op.for_people(persons) for op in self.operators))

    def for_poses(self, keypoints: Sequence[torch.Tensor | None]) -> Compose:
        """Each operator given the poses, in the same order."""
        return Compose(*(op.for_poses(keypoints) for op in self.operators))

    def transform(self, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        for op in self.operators:
            images = op.transform(images, mask).clamp(0.0, 1.0)
        return images

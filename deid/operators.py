"""Concealing operators: pure functions of ``(images, mask)`` plus small configured classes.

Every operator returns ``images * (1 - mask) + effect(images) * mask``: the same shape, dtype
and device as ``images``, values in [0, 1], and exactly ``images`` wherever ``mask`` is 0.
``images`` is ``(B, 3, H, W)`` float RGB in [0, 1]; ``mask`` is ``(B, 1, H, W)`` or
``(1, 1, H, W)`` float in [0, 1] (1 = conceal) or bool.

The classes hold settings; ``relative=True`` gives a size (blur sigma, pixel block, inpaint
radius) as a fraction of the image width, so one setting means the same at 48x128 and on a
larger crop. :func:`build_operator` maps one ``strength`` knob in (0, 1] to such settings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from deid import _filters
from reid_model._check import check_choice, check_images, check_mask, check_positive

Color = float | tuple[float, float, float] | str

#: How far outside [0, 1] input values may stray (float rounding upstream) before we refuse them.
_RANGE_TOLERANCE = 1e-4


def _checked(images: object, mask: object) -> tuple[torch.Tensor, torch.Tensor]:
    images = check_images(images)
    mask = check_mask(mask, images)
    if mask.device != images.device:
        raise ValueError(f"mask must be on the images' device {images.device}, got {mask.device}")
    mask = mask.to(images.dtype)
    for name, tensor in (("images", images), ("mask", mask)):
        if tensor.numel() == 0:
            continue
        low, high = torch.aminmax(tensor.detach())
        if not (low >= -_RANGE_TOLERANCE and high <= 1 + _RANGE_TOLERANCE):
            got = f"[{low.item():.4g}, {high.item():.4g}]"
            raise ValueError(f"{name} must have values in [0, 1], got values in {got}")
    return images, mask


def _blend(images: torch.Tensor, mask: torch.Tensor, effect: torch.Tensor) -> torch.Tensor:
    # lerp is exact at both ends: weight 0 returns images, weight 1 returns the effect.
    return torch.lerp(images, effect.clamp(0.0, 1.0), mask)


def _check_size(name: str, value: float, relative: bool) -> None:
    check_positive(name, value)
    if relative and value > 1:
        raise ValueError(
            f"{name} is a fraction of the width when relative=True, expected (0, 1], got {value}"
        )


def _pixels(value: float, relative: bool, width: int) -> float:
    return value * width if relative else value


def _fill_color(images: torch.Tensor, color: Color) -> torch.Tensor:
    if isinstance(color, str):
        check_choice("color", color, {"mean"})
        return images.mean(dim=(2, 3), keepdim=True)
    values = (float(color),) * 3 if isinstance(color, int | float) else tuple(float(c) for c in color)
    if len(values) != 3 or not all(0.0 <= v <= 1.0 for v in values):
        raise ValueError(f"color must be a value or an (r, g, b) triple in [0, 1] or 'mean', got {color!r}")
    return torch.tensor(values, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)


# ----------------------------------------------------------------------------- pure functions


def blur(images: torch.Tensor, mask: torch.Tensor, *, sigma: float = 3.0) -> torch.Tensor:
    """Gaussian blur of standard deviation ``sigma`` pixels inside the mask.

    Args:
        images: ``(B, 3, H, W)`` float RGB in [0, 1].
        mask: ``(B, 1, H, W)`` or ``(1, 1, H, W)`` in [0, 1], 1 = conceal.
        sigma: the Gaussian's standard deviation in pixels (> 0).

    Example:
        >>> out = blur(torch.rand(2, 3, 128, 48), torch.ones(1, 1, 128, 48), sigma=4.0)
        >>> out.shape
        torch.Size([2, 3, 128, 48])
    """
    images, mask = _checked(images, mask)
    check_positive("sigma", sigma)
    return _blend(images, mask, _filters.gaussian_blur(images, sigma))


def pixelate(images: torch.Tensor, mask: torch.Tensor, *, block: int = 8) -> torch.Tensor:
    """Replace ``block x block`` cells (anchored top left) by their mean colour inside the mask.

    Args:
        images: ``(B, 3, H, W)`` float RGB in [0, 1].
        mask: ``(B, 1, H, W)`` or ``(1, 1, H, W)`` in [0, 1], 1 = conceal.
        block: the cell size in pixels (an integer >= 1); the last row and column of cells
            may be smaller.

    Example:
        >>> pixelate(torch.rand(1, 3, 128, 48), torch.ones(1, 1, 128, 48), block=16).shape
        torch.Size([1, 3, 128, 48])
    """
    images, mask = _checked(images, mask)
    if isinstance(block, bool) or not isinstance(block, int) or block < 1:
        raise ValueError(f"block must be an integer >= 1, got {block!r}")
    return _blend(images, mask, _filters.block_average(images, block))


def fill(
    images: torch.Tensor, mask: torch.Tensor, *, color: Color = 0.5, opacity: float = 1.0
) -> torch.Tensor:
    """Paint a solid colour over the mask.

    Args:
        images: ``(B, 3, H, W)`` float RGB in [0, 1].
        mask: ``(B, 1, H, W)`` or ``(1, 1, H, W)`` in [0, 1], 1 = conceal.
        color: a grey level, an ``(r, g, b)`` triple in [0, 1], or ``"mean"`` for each image's
            mean colour.
        opacity: how much of the colour covers the image, in (0, 1].

    Example:
        >>> fill(torch.rand(1, 3, 8, 4), torch.ones(1, 1, 8, 4)).unique()
        tensor([0.5000])
    """
    images, mask = _checked(images, mask)
    if not 0 < opacity <= 1:
        raise ValueError(f"opacity must be in (0, 1], got {opacity}")
    effect = torch.lerp(images, _fill_color(images, color).expand_as(images), opacity)
    return _blend(images, mask, effect)


def noise(
    images: torch.Tensor,
    mask: torch.Tensor,
    *,
    std: float = 0.2,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Add Gaussian noise of standard deviation ``std`` inside the mask (clipped to [0, 1]).

    Args:
        images: ``(B, 3, H, W)`` float RGB in [0, 1].
        mask: ``(B, 1, H, W)`` or ``(1, 1, H, W)`` in [0, 1], 1 = conceal.
        std: the noise's standard deviation (> 0).
        generator: a CPU ``torch.Generator`` for reproducible noise.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> noise(torch.rand(1, 3, 8, 4), torch.ones(1, 1, 8, 4), std=0.1, generator=g).shape
        torch.Size([1, 3, 8, 4])
    """
    images, mask = _checked(images, mask)
    check_positive("std", std)
    draws = torch.randn(images.shape, generator=generator, dtype=images.dtype)
    return _blend(images, mask, images + std * draws.to(images.device))


def inpaint(
    images: torch.Tensor, mask: torch.Tensor, *, radius: float = 3.0, method: str = "telea"
) -> torch.Tensor:
    """Fill the masked region from its surroundings with OpenCV's inpainting.

    Pixels with any mask value > 0 are inpainted, then blended with the mask. Not differentiable.

    Args:
        images: ``(B, 3, H, W)`` float RGB in [0, 1].
        mask: ``(B, 1, H, W)`` or ``(1, 1, H, W)`` in [0, 1], 1 = conceal.
        radius: the neighbourhood considered around each inpainted pixel, in pixels (> 0).
        method: ``"telea"`` (fast marching) or ``"ns"`` (Navier-Stokes).

    Example:
        >>> mask = torch.zeros(1, 1, 32, 16); mask[..., 8:24, 4:12] = 1
        >>> inpaint(torch.rand(1, 3, 32, 16), mask).shape
        torch.Size([1, 3, 32, 16])
    """
    images, mask = _checked(images, mask)
    check_positive("radius", radius)
    check_choice("method", method, _filters.INPAINT_METHODS)
    return _blend(images, mask, _filters.inpaint_images(images, mask, radius=radius, method=method))


def color_shift(
    images: torch.Tensor, mask: torch.Tensor, *, hue: float = 0.0, saturation: float = 0.0
) -> torch.Tensor:
    """Rotate hue by ``hue`` degrees and scale saturation by ``saturation`` inside the mask.

    ``saturation=0`` removes colour (each pixel becomes its luma), which hides the clothing
    colours re-identification relies on; ``hue`` rotates colours about the grey axis.

    Args:
        images: ``(B, 3, H, W)`` float RGB in [0, 1].
        mask: ``(B, 1, H, W)`` or ``(1, 1, H, W)`` in [0, 1], 1 = conceal.
        hue: the hue rotation in degrees.
        saturation: the saturation factor in [0, 1].

    Example:
        >>> grey = color_shift(torch.rand(1, 3, 8, 4), torch.ones(1, 1, 8, 4))
        >>> bool(torch.allclose(grey[:, 0], grey[:, 1], atol=1e-6))
        True
    """
    images, mask = _checked(images, mask)
    if not 0 <= saturation <= 1:
        raise ValueError(f"saturation must be in [0, 1], got {saturation}")
    matrix = _filters.hue_saturation_matrix(hue, saturation, dtype=images.dtype, device=images.device)
    return _blend(images, mask, _filters.color_transform(images, matrix))


# ----------------------------------------------------------------------------- classes


class Operator:
    """A configured operator: ``operator(images, mask)`` conceals ``images`` where ``mask`` is 1.

    Subclasses implement :meth:`transform`, the unmasked effect on the whole image.
    """

    name: ClassVar[str] = ""

    def transform(self, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The effect on the whole of ``images (B, 3, H, W)``, before blending with ``mask``."""
        raise NotImplementedError

    def __call__(self, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        images, mask = _checked(images, mask)
        return _blend(images, mask, self.transform(images, mask))


@dataclass(frozen=True)
class Blur(Operator):
    """Gaussian blur; ``sigma`` in pixels, or a fraction of the width with ``relative=True``.

    Example:
        >>> op = Blur(sigma=0.1, relative=True)  # sigma = 4.8 pixels on a 48-pixel-wide crop
        >>> op(torch.rand(1, 3, 128, 48), torch.ones(1, 1, 128, 48)).shape
        torch.Size([1, 3, 128, 48])
    """

    sigma: float = 3.0
    relative: bool = False
    name: ClassVar[str] = "blur"

    def __post_init__(self) -> None:
        _check_size("sigma", self.sigma, self.relative)

    def transform(self, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return _filters.gaussian_blur(images, _pixels(self.sigma, self.relative, images.shape[-1]))


@dataclass(frozen=True)
class Pixelate(Operator):
    """Block averaging; ``block`` in pixels, or a fraction of the width with ``relative=True``.

    A relative block becomes ``round(1 / block)`` cells across the width (at least 2 pixels each).

    Example:
        >>> Pixelate(block=8)(torch.rand(1, 3, 128, 48), torch.ones(1, 1, 128, 48)).shape
        torch.Size([1, 3, 128, 48])
    """

    block: float = 8
    relative: bool = False
    name: ClassVar[str] = "pixelate"

    def __post_init__(self) -> None:
        _check_size("block", self.block, self.relative)
        if not self.relative and self.block != int(self.block):
            raise ValueError(f"block must be a whole number of pixels when relative=False, got {self.block}")

    def transform(self, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        width = images.shape[-1]
        if not self.relative:
            return _filters.block_average(images, int(self.block))
        # A whole number of cells across, so the grid scales exactly with the crop; a cell is
        # at least 2 pixels, since 1-pixel cells would change nothing.
        cells = max(1, round(1 / self.block))
        return _filters.block_average(images, max(2, math.ceil(width / cells)))


@dataclass(frozen=True)
class Fill(Operator):
    """Solid colour: a grey level, an ``(r, g, b)`` triple or ``"mean"``, at ``opacity``.

    Example:
        >>> Fill(color=(0.0, 0.0, 0.0))(torch.rand(1, 3, 8, 4), torch.ones(1, 1, 8, 4)).max()
        tensor(0.)
    """

    color: Color = 0.5
    opacity: float = 1.0
    name: ClassVar[str] = "fill"

    def __post_init__(self) -> None:
        if not 0 < self.opacity <= 1:
            raise ValueError(f"opacity must be in (0, 1], got {self.opacity}")
        _fill_color(torch.zeros(1, 3, 1, 1), self.color)  # validates the colour

    def transform(self, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.lerp(images, _fill_color(images, self.color).expand_as(images), self.opacity)


@dataclass(frozen=True)
class Noise(Operator):
    """Gaussian noise of ``std``, seeded: the same images and seed give the same noise.

    Every image of one size gets the same noise field, so an image's result does not depend on
    which other images share its batch (the conceal loop renders people in varying batches and
    must get the same pixels each time).

    Example:
        >>> op = Noise(std=0.3, seed=1)
        >>> x, m = torch.rand(1, 3, 8, 4), torch.ones(1, 1, 8, 4)
        >>> bool(torch.equal(op(x, m), op(x, m)))
        True
    """

    std: float = 0.2
    seed: int = 0
    name: ClassVar[str] = "noise"

    def __post_init__(self) -> None:
        check_positive("std", self.std)

    def transform(self, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        generator = torch.Generator().manual_seed(self.seed)
        draws = torch.randn((1, *images.shape[1:]), generator=generator, dtype=images.dtype)
        return images + self.std * draws.to(images.device)


@dataclass(frozen=True)
class Inpaint(Operator):
    """OpenCV inpainting (``"telea"`` or ``"ns"``); ``radius`` in pixels or relative to the width.

    Example:
        >>> Inpaint(radius=3)(torch.rand(1, 3, 32, 16), torch.ones(1, 1, 32, 16)).shape
        torch.Size([1, 3, 32, 16])
    """

    radius: float = 3.0
    method: str = "telea"
    relative: bool = False
    name: ClassVar[str] = "inpaint"

    def __post_init__(self) -> None:
        _check_size("radius", self.radius, self.relative)
        check_choice("method", self.method, _filters.INPAINT_METHODS)

    def transform(self, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        radius = max(1.0, _pixels(self.radius, self.relative, images.shape[-1]))
        return _filters.inpaint_images(images, mask, radius=radius, method=self.method)


@dataclass(frozen=True)
class ColorShift(Operator):
    """Hue rotation by ``hue`` degrees and saturation scaled by ``saturation`` (0 = grey).

    Example:
        >>> ColorShift(saturation=0.0)(torch.rand(1, 3, 8, 4), torch.ones(1, 1, 8, 4)).shape
        torch.Size([1, 3, 8, 4])
    """

    hue: float = 0.0
    saturation: float = 0.0
    name: ClassVar[str] = "color_shift"

    def __post_init__(self) -> None:
        if not 0 <= self.saturation <= 1:
            raise ValueError(f"saturation must be in [0, 1], got {self.saturation}")

    def transform(self, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        matrix = _filters.hue_saturation_matrix(
            self.hue, self.saturation, dtype=images.dtype, device=images.device
        )
        return _filters.color_transform(images, matrix)


@dataclass(frozen=True, init=False)
class Compose(Operator):
    """Several operators chained on the whole image, then blended once with the mask.

    Example:
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

    def transform(self, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        for op in self.operators:
            images = op.transform(images, mask).clamp(0.0, 1.0)
        return images


#: Operator classes by name, as the CLI's ``--operator`` spells them.
OPERATORS: dict[str, type[Operator]] = {
    cls.name: cls for cls in (Blur, Pixelate, Fill, Noise, Inpaint, ColorShift)
}


def build_operator(name: str, strength: float = 1.0) -> Operator:
    """Build an operator from a name and one ``strength`` knob in (0, 1] (1 = strongest).

    Sizes scale with the image width, so one strength means the same at any crop size:

    ============  ===================================================
    blur          sigma = 0.2 x strength x width
    pixelate      round(3 / strength) blocks across the width (3 at 1)
    fill          mid grey at opacity = strength
    noise         std = 0.5 x strength, seed 0
    inpaint       Telea, radius = 0.15 x strength x width
    color_shift   saturation = 1 - strength, hue rotated 180 x strength degrees
    ============  ===================================================

    Names joined by ``+`` (``"blur+color_shift"``) give a :class:`Compose`.

    Example:
        >>> build_operator("pixelate", 0.5)
        Pixelate(block=0.16666666666666666, relative=True)
    """
    if not isinstance(strength, int | float) or isinstance(strength, bool) or not 0 < strength <= 1:
        raise ValueError(f"strength must be a number in (0, 1], got {strength!r}")
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be one of {sorted(OPERATORS)} or several joined by '+', got {name!r}")
    parts = name.split("+")
    for part in parts:
        check_choice("operator name", part, OPERATORS)
    ops = [_build_one(part, float(strength)) for part in parts]
    return ops[0] if len(ops) == 1 else Compose(*ops)


def _build_one(name: str, s: float) -> Operator:
    if name == "blur":
        return Blur(sigma=0.2 * s, relative=True)
    if name == "pixelate":
        return Pixelate(block=s / 3, relative=True)
    if name == "fill":
        return Fill(color=0.5, opacity=s)
    if name == "noise":
        return Noise(std=0.5 * s, seed=0)
    if name == "inpaint":
        return Inpaint(radius=0.15 * s, relative=True)
    return ColorShift(hue=180.0 * s, saturation=1.0 - s)

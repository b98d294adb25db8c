"""Operators by name, and one ``strength`` knob mapped to each one's settings."""

from __future__ import annotations

from deid.operators.base import Compose, Operator
from deid.operators.blurring import Blur
from deid.operators.colour import ColorShift
from deid.operators.filling import Fill
from deid.operators.inpainting import Inpaint
from deid.operators.noising import Noise
from deid.operators.pixelation import Pixelate
from deid.operators.redressing import Redress
from reid_model.checks import check_choice

#: Operator classes by name, as the CLI's ``--operator`` spells them.
OPERATORS: dict[str, type[Operator]] = {
    cls.name: cls for cls in (Blur, Pixelate, Fill, Redress, Noise, Inpaint, ColorShift)
}


def build_operator(name: str, strength: float = 1.0) -> Operator:
    """Build an operator from a name and one ``strength`` knob in (0, 1] (1 = strongest).

    Sizes scale with the image width, so one strength means the same at any crop size:

    ============  ===================================================
    blur          sigma = 0.2 x strength x width
    pixelate      round(3 / strength) blocks across the width (3 at 1)
    fill          mid grey at opacity = strength
    redress       mid grey shaded at contrast = 1 - 0.6 x strength (0.4 at 1)
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
    if name == "redress":
        return Redress(color=0.5, contrast=1.0 - 0.6 * s)
    if name == "noise":
        return Noise(std=0.5 * s, seed=0)
    if name == "inpaint":
        return Inpaint(radius=0.15 * s, relative=True)
    return ColorShift(hue=180.0 * s, saturation=1.0 - s)

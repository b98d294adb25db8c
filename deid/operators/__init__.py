"""Concealing operators: pure functions of ``(images, mask)``, each with a small configured class.

One family per module (blur, pixelate, fill, redress, noise, inpaint, colour, each person's drawn
outfit, and a stand-in figure, upright or in their pose); :mod:`deid.operators.base` holds the contract every
operator keeps, :mod:`deid.operators.registry` the names the CLI uses.
"""

from deid.operators.base import Compose, Operator
from deid.operators.blurring import Blur, blur
from deid.operators.colour import ColorShift, color_shift
from deid.operators.figure import Figure
from deid.operators.filling import Fill, fill
from deid.operators.inpainting import Inpaint, inpaint
from deid.operators.noising import Noise, noise
from deid.operators.outfit import OutfitFill
from deid.operators.pixelation import Pixelate, pixelate
from deid.operators.redressing import Redress, shading
from deid.operators.registry import OPERATORS, build_operator

__all__ = [
    "OPERATORS",
    "Blur",
    "ColorShift",
    "Compose",
    "Figure",
    "Fill",
    "Inpaint",
    "Noise",
    "Operator",
    "OutfitFill",
    "Pixelate",
    "Redress",
    "blur",
    "build_operator",
    "color_shift",
    "fill",
    "inpaint",
    "noise",
    "pixelate",
    "shading",
]

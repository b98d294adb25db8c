"""deid: conceal what makes a person re-identifiable, checked against a re-id adversary."""

from deid.adversary import Adversary, PrivacyCheck
from deid.conceal import ConcealConfig, FrameResult, PersonResult, conceal, conceal_people, conceal_person
from deid.operators import (
    OPERATORS,
    Blur,
    ColorShift,
    Compose,
    Fill,
    Inpaint,
    Noise,
    Operator,
    Pixelate,
    blur,
    build_operator,
    color_shift,
    fill,
    inpaint,
    noise,
    pixelate,
)

__all__ = [
    "OPERATORS",
    "Adversary",
    "Blur",
    "ColorShift",
    "Compose",
    "ConcealConfig",
    "Fill",
    "FrameResult",
    "Inpaint",
    "Noise",
    "Operator",
    "PersonResult",
    "Pixelate",
    "PrivacyCheck",
    "blur",
    "build_operator",
    "color_shift",
    "conceal",
    "conceal_people",
    "conceal_person",
    "fill",
    "inpaint",
    "noise",
    "pixelate",
]

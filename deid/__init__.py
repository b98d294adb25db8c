"""deid: conceal what makes a person re-identifiable, checked against a re-id adversary.

The rooms: :mod:`deid.operators` (what changes pixels), :mod:`deid.loop` (the conceal loop and
the one path from an image to its concealed people), :mod:`deid.batch` (folders, the report and
``deid verify``), :mod:`deid.audit` (attackers and utility), :mod:`deid.finder` (people in
frames), :mod:`deid.cli` (the ``deid`` command); :mod:`deid.adversary`, :mod:`deid.boxes`,
:mod:`deid.detection` and :mod:`deid.environment` (what a report records of its run) are shared
by them.
"""

from deid.adversary import Adversary, PrivacyCheck
from deid.audit import (
    Attacker,
    adaptive_attacker,
    area_concealed,
    checkpoint_attacker,
    finetune,
    handcrafted_attacker,
    model_attacker,
    person_detected,
    psnr,
    run_audit,
    ssim,
)
from deid.batch import (
    BatchConfig,
    BatchError,
    BatchSummary,
    CropResult,
    Verification,
    VerifyError,
    run_batch,
    verify,
)
from deid.batch.boxes import load_boxes
from deid.boxes import Box, BoxesError, crop_boxes, nearest_last_order, paste_crops
from deid.detection import detect_people, is_person_crop, taken_as_crop
from deid.loop import (
    ConcealConfig,
    FrameResult,
    NotOnePersonWarning,
    NotPrivateWarning,
    PersonResult,
    conceal,
    conceal_people,
    conceal_person,
)
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
    "Attacker",
    "BatchConfig",
    "BatchError",
    "BatchSummary",
    "Blur",
    "Box",
    "BoxesError",
    "ColorShift",
    "Compose",
    "ConcealConfig",
    "CropResult",
    "Fill",
    "FrameResult",
    "Inpaint",
    "Noise",
    "NotOnePersonWarning",
    "NotPrivateWarning",
    "Operator",
    "PersonResult",
    "Pixelate",
    "PrivacyCheck",
    "Verification",
    "VerifyError",
    "adaptive_attacker",
    "area_concealed",
    "blur",
    "build_operator",
    "checkpoint_attacker",
    "color_shift",
    "conceal",
    "conceal_people",
    "conceal_person",
    "crop_boxes",
    "detect_people",
    "fill",
    "finetune",
    "handcrafted_attacker",
    "inpaint",
    "is_person_crop",
    "load_boxes",
    "model_attacker",
    "nearest_last_order",
    "noise",
    "paste_crops",
    "person_detected",
    "pixelate",
    "psnr",
    "run_audit",
    "run_batch",
    "ssim",
    "taken_as_crop",
    "verify",
]

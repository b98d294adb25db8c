"""The privacy audit: conceal test persons, then let attackers the loop never saw re-identify them."""

from deid.audit.attackers import (
    Attacker,
    adaptive_attacker,
    checkpoint_attacker,
    finetune,
    handcrafted_attacker,
    model_attacker,
)
from deid.audit.run import run_audit
from deid.audit.table import format_table, write_report
from deid.audit.utility import area_concealed, person_detected, psnr, ssim

__all__ = [
    "Attacker",
    "adaptive_attacker",
    "area_concealed",
    "checkpoint_attacker",
    "finetune",
    "format_table",
    "handcrafted_attacker",
    "model_attacker",
    "person_detected",
    "psnr",
    "run_audit",
    "ssim",
    "write_report",
]

"""The privacy audit: conceal test persons, then let attackers the loop never saw re-identify them.

Set an audit up by name (:func:`audit_split`, :func:`build_concealers`, :func:`choose_attackers`,
:func:`build_attackers`), run it (:func:`run_audit`) and write its table (:func:`write_report`).
"""

from deid.audit.attackers import (
    Attacker,
    adaptive_attacker,
    checkpoint_attacker,
    finetune,
    handcrafted_attacker,
    model_attacker,
)
from deid.audit.concealers import (
    BASELINES,
    Concealer,
    LoopConcealer,
    MaskConcealer,
    baseline_concealers,
    loop_concealers,
)
from deid.audit.run import audited_persons, check_audited, run_audit
from deid.audit.setup import (
    ATTACKER_WEIGHTS,
    ATTACKERS,
    SPLITS,
    AuditSetupError,
    audit_split,
    build_attackers,
    build_concealers,
    choose_attackers,
)
from deid.audit.table import LEGEND, format_table, write_report
from deid.audit.utility import area_concealed, person_detected, psnr, ssim

__all__ = [
    "ATTACKERS",
    "ATTACKER_WEIGHTS",
    "BASELINES",
    "LEGEND",
    "SPLITS",
    "Attacker",
    "AuditSetupError",
    "Concealer",
    "LoopConcealer",
    "MaskConcealer",
    "adaptive_attacker",
    "area_concealed",
    "audit_split",
    "audited_persons",
    "baseline_concealers",
    "build_attackers",
    "build_concealers",
    "check_audited",
    "checkpoint_attacker",
    "choose_attackers",
    "finetune",
    "format_table",
    "handcrafted_attacker",
    "loop_concealers",
    "model_attacker",
    "person_detected",
    "psnr",
    "run_audit",
    "ssim",
    "write_report",
]

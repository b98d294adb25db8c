"""Batch concealment behind ``deid conceal INPUT... -o OUTDIR``, its report, and ``deid verify``."""

from deid.batch.config import BatchConfig
from deid.batch.inputs import BatchError
from deid.batch.results import ConcealBatch, ConcealGroup, CropResult, HeatmapWriter, per_group
from deid.batch.run import BatchSummary, run_batch
from deid.batch.verification import Verification, VerifyError, verify

__all__ = [
    "BatchConfig",
    "BatchError",
    "BatchSummary",
    "ConcealBatch",
    "ConcealGroup",
    "CropResult",
    "HeatmapWriter",
    "Verification",
    "VerifyError",
    "per_group",
    "run_batch",
    "verify",
]

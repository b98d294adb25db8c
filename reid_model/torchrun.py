"""``deid train --nproc N``: the training run on N processes of this machine, started by torchrun.

    python -m reid_model._ddp_process RUN/ddp_config.json [--no-resume]   # what each process runs

:func:`train_on_processes` writes the run's :class:`~reid_model.training.TrainConfig` into its
folder and starts ``torchrun --standalone --nproc-per-node N`` on :mod:`reid_model._ddp_process`;
each process joins the gloo group and trains its shard (:mod:`reid_model.distributed`); the first
process writes the checkpoints and ``metrics.json``, which are returned.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from reid_model.data import dataset_kind
from reid_model.io import write_bytes_atomic
from reid_model.training import TrainConfig, check_resume, train


class DistributedTrainingError(RuntimeError):
    """A training process failed; torchrun's exit code and the run folder say more."""


def train_on_processes(config: TrainConfig, nproc: int, *, resume: bool = True) -> dict[str, Any]:
    """Train ``config`` on ``nproc`` processes of this machine (gloo); the metrics of the run.

    Each process gets ``config.threads`` torch threads, or an equal share of the CPUs.

    Raises:
        ValueError: ``nproc`` is below 1.
        DistributedTrainingError: a process failed.
    """
    if nproc < 1:
        raise ValueError(f"nproc must be >= 1, got {nproc}")
    if nproc == 1:
        return train(config, resume=resume)
    if "WORLD_SIZE" in os.environ:
        raise ValueError(
            f"nproc {nproc}: this process was started by torchrun already (WORLD_SIZE is set); "
            "leave --nproc out and let torchrun's --nproc-per-node say how many"
        )
    dataset_kind(config.data, config.dataset)  # a missing or unknown dataset said once, here
    if resume:
        check_resume(config)  # so is a run that cannot be resumed so
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    config_file = out / "ddp_config.json"
    write_bytes_atomic(config_file, json.dumps(asdict(config), indent=1).encode())
    threads = config.threads or max(1, (os.cpu_count() or 1) // nproc)
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={nproc}",
        "-m",
        "reid_model._ddp_process",
        str(config_file),
        *([] if resume else ["--no-resume"]),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    done = subprocess.run(command, env=env, check=False)
    if done.returncode != 0:
        raise DistributedTrainingError(
            f"training on {nproc} processes failed (torchrun exit code {done.returncode}); "
            f"see the messages above; the run folder is {out}"
        )
    return dict(json.loads((out / "metrics.json").read_text()))

"""Data-parallel training on several processes (``torchrun``, gloo on CPU) that trains the model
one process would, with the same global batch.

Each process embeds its shard (a contiguous block of rows) of every batch. The shards'
embeddings are gathered so that every process computes the loss of the *whole* batch: the same
triplets, mined over the whole batch, from the same random draws. Each process's gradient is then
the loss's gradient through its own shard, and their sum (one all-reduce per step) is the whole
batch's gradient. Two layers look across a batch and are made to do so across the shards:
dropout draws the whole batch's mask from the (identically seeded) random stream and keeps its
shard's rows (:class:`ShardedDropout`), and batch normalization takes its statistics over the whole
batch, all-reduced with their gradients (:class:`ShardedBatchNorm`). With these, N processes follow
one process's training within floating-point rounding (tested on both architectures).

Example (two processes on this machine)::

    torchrun --standalone --nproc-per-node 2 -m deid.cli train --epochs 40 --out runs/ddp
    deid train --nproc 2 --epochs 40 --out runs/ddp        # the same, torchrun started for you
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class World:
    """This process's place among the training processes."""

    rank: int = 0
    size: int = 1

    @property
    def main(self) -> bool:
        """The process that evaluates and writes the run's files."""
        return self.rank == 0

    def bounds(self, n: int) -> list[int]:
        """Where each process's rows of an ``n``-row batch start, and the end: contiguous
        blocks whose sizes differ by at most one."""
        return [n * r // self.size for r in range(self.size + 1)]

    def shard(self, n: int) -> slice:
        """This process's rows of an ``n``-row batch."""
        edges = self.bounds(n)
        return slice(edges[self.rank], edges[self.rank + 1])


def current_world() -> World:
    """The process group torch.distributed runs in, or a world of one."""
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size())
    return World()


def leave(*, together: bool = True) -> None:
    """Leave the process group joined by :func:`join_from_environment` (if any); with
    ``together``, once every process has come here, so that none tears its connections down while
    another still works (the main process evaluates after the last step: a helper process that
    left then aborted once at its teardown, "terminate called without an active exception").
    ``together=False`` after a failure, when the others may never come."""
    if dist.is_available() and dist.is_initialized():
        if together:
            dist.barrier()
        dist.destroy_process_group()


def join_from_environment() -> World:
    """Join the process group ``torchrun`` describes in the environment (gloo), once; a world of
    one when not started by ``torchrun``."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("gloo")
    return current_world()


# The global batch being trained on, set around each step: (rows in all, this shard's first row).
_BATCH: list[tuple[int, int]] = []


@contextlib.contextmanager
def sharded_batch(total: int, start: int) -> Iterator[None]:
    """Within this, the sharded layers know the whole batch has ``total`` rows and this
    process's shard starts at row ``start``."""
    _BATCH.append((total, start))
    try:
        yield
    finally:
        _BATCH.pop()


class ShardedDropout(nn.Dropout):
    """Dropout whose mask is the whole batch's (drawn as one process would), cut to the shard."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0 or not _BATCH:
            return super().forward(x)
        total, start = _BATCH[-1]
        whole = torch.empty(
            (total, *x.shape[1:]), dtype=x.dtype, device=x.device, memory_format=_memory_format(x)
        )
        keep = whole.bernoulli_(1 - self.p)[start : start + len(x)]
        return x * keep.div_(1 - self.p)


def _memory_format(x: torch.Tensor) -> torch.memory_format:
    if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        return torch.channels_last
    return torch.contiguous_format


class _SumOverProcesses(torch.autograd.Function):
    """The sum of a tensor over the processes; its gradient is the sum of theirs."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        total = x.clone()
        dist.all_reduce(total)
        return total

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        total = grad.clone()
        dist.all_reduce(total)
        return total


class ShardedBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch normalization over the whole batch of all processes (mean, then variance, each
    all-reduced with its gradient); the same parameters, buffers and running-statistics update
    as :class:`torch.nn.BatchNorm1d`/``2d``. Evaluation uses the running statistics."""

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() not in (2, 3, 4):
            raise ValueError(f"expected 2-D to 4-D input, got {x.dim()}-D")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or not dist.is_initialized():
            return super().forward(x)
        all_reduce = _SumOverProcesses.apply
        dims = [d for d in range(x.dim()) if d != 1]
        shape = [1, -1] + [1] * (x.dim() - 2)
        count = all_reduce(torch.tensor(float(x.numel() // x.shape[1])))
        mean = all_reduce(x.sum(dims)) / count
        centred = x - mean.view(shape)
        var = all_reduce(centred.square().sum(dims)) / count
        if self.track_running_stats and self.running_mean is not None and self.running_var is not None:
            with torch.no_grad():
                if self.num_batches_tracked is not None:
                    self.num_batches_tracked.add_(1)
                momentum = self.momentum  # None: the cumulative average, as BatchNorm does
                if momentum is None:
                    momentum = 1.0 / float(
                        self.num_batches_tracked if self.num_batches_tracked is not None else 1
                    )
                self.running_mean.lerp_(mean.detach(), momentum)
                self.running_var.lerp_(var.detach() * count / (count - 1), momentum)
        out = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        return out


def shard_layers(model: nn.Module) -> nn.Module:
    """``model`` with its dropout and batch-norm layers replaced in place by their sharded
    forms (same parameters and buffers, so the state dict is unchanged)."""
    for name, child in list(model.named_children()):
        if type(child) is nn.Dropout:
            setattr(model, name, ShardedDropout(child.p))
        elif isinstance(child, nn.BatchNorm1d | nn.BatchNorm2d):
            sharded = ShardedBatchNorm(child.num_features, child.eps, child.momentum, child.affine)
            sharded.load_state_dict(child.state_dict())
            setattr(model, name, sharded)
        else:
            shard_layers(child)
    return model


def gather_rows(local: torch.Tensor, world: World, total: int) -> torch.Tensor:
    """The ``total`` rows of every process's shard, in order; only this process's rows carry its
    autograd graph (the others' gradients are theirs to take)."""
    if world.size == 1:
        return local
    edges = world.bounds(total)
    widest = max(b - a for a, b in itertools.pairwise(edges))
    padded = local.detach().new_zeros((widest, *local.shape[1:]))
    padded[: len(local)] = local.detach()
    parts = [torch.empty_like(padded) for _ in range(world.size)]
    dist.all_gather(parts, padded.contiguous())
    rows = [part[: b - a] for part, (a, b) in zip(parts, itertools.pairwise(edges), strict=True)]
    rows[world.rank] = local
    return torch.cat(rows)


def sum_gradients(parameters: Sequence[nn.Parameter], world: World) -> None:
    """Add up each parameter's gradient over the processes (one all-reduce for all)."""
    if world.size == 1:
        return
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()

"""Training and inference throughput of the embedders on this CPU, as a fraction of the
machine's own float32 peak measured in the same run.

    python benchmarks/model_speed.py [--threads N] [--rounds R]

FLOPs per image are counted by torch's FlopCounterMode (a multiply-add is 2 FLOPs); a training
step costs forward + backward (counted the same way).

The peak is the fastest of two float32 kernels, each timed alone with the thread count the models
run with: a --peak-size square matmul (torch.mm, MKL in this build) and a 3x3 convolution with
256 channels in and out on a channels-last (16, 256, 32, 16) batch (oneDNN, the models' own
kernel). A matmul alone is not the peak on every CPU: on this 2-core AMD EPYC the best matmul
timings reach 196 to 203 GFLOP/s (1024 and 2048; 95 to 99 on one thread at 1024 to 4096), the
convolution about 239, and the models' inference ran faster than the matmul.

The machine may be shared, so every figure is a sample of several timings and its spread
(min / median / max) is printed. The peak kernels' turns (--peak-runs timings of each) alternate
with the models' (peak, train, peak, inference, peak, ... over every model and layout, --rounds
times, then a last peak), so a change of load hits both. A model figure is one timed step
(--repeats of them a turn). A ratio is a model's best FLOP/s over the best peak: the best of each
is the timing least slowed by other jobs. A ratio above 100% means the peak was measured too
low, and comes with a warning line.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from reid_model import SoftmaxTripletLoss, build_embedder


@dataclass
class PeakKernel:
    """A float32 kernel timed alone; ``flops_per_second`` keeps every timing."""

    name: str
    step: Callable[[], object]
    flops: float
    flops_per_second: list[float] = field(default_factory=list)

    def run(self, runs: int) -> None:
        self.step()  # untimed: caches and threads after a model turn
        for _ in range(runs):
            start = time.perf_counter()
            self.step()
            self.flops_per_second.append(self.flops / (time.perf_counter() - start))


def matmul_kernel(n: int) -> PeakKernel:
    a, b, out = torch.randn(n, n), torch.randn(n, n), torch.empty(n, n)
    return PeakKernel(f"matmul {n}x{n}", lambda: torch.mm(a, b, out=out), 2 * n**3)


def conv_kernel(*, channels: int = 256, batch: int = 16, height: int = 32, width: int = 16) -> PeakKernel:
    features = torch.randn(batch, channels, height, width).contiguous(memory_format=torch.channels_last)
    weight = torch.randn(channels, channels, 3, 3).contiguous(memory_format=torch.channels_last)
    return PeakKernel(
        f"conv 3x3 {channels}->{channels} channels-last",
        lambda: F.conv2d(features, weight, padding=1),
        2 * batch * height * width * channels * channels * 9,
    )


def _flops(fn: Callable[[], object]) -> float:
    with FlopCounterMode(display=False) as counter:
        fn()
    return float(counter.get_total_flops())


def _seconds(step: Callable[[], object], repeats: int) -> list[float]:
    step()  # untimed: the model has just switched between train and eval
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - start)
    return seconds


@dataclass
class ModelRun:
    """One embedder in one memory layout, with the timings of its training and inference steps."""

    arch: str
    channels_last: bool
    batch: int
    train_step: Callable[[], None]
    infer_step: Callable[[], object]
    train_flops_per_image: float
    infer_flops_per_image: float
    train_seconds: list[float] = field(default_factory=list)
    infer_seconds: list[float] = field(default_factory=list)

    @property
    def layout(self) -> str:
        return "channels-last" if self.channels_last else "contiguous"


def build_run(arch: str, *, batch: int, channels_last: bool) -> ModelRun:
    model = build_embedder(arch)
    images = torch.rand(batch, 3, 128, 48)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)
    loss_fn = SoftmaxTripletLoss()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    third = batch // 3

    def train_step() -> None:
        model.train()
        embeddings = model(images)
        loss = loss_fn(embeddings[:third], embeddings[third : 2 * third], embeddings[2 * third : 3 * third])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    def infer_step() -> object:
        model.eval()
        with torch.inference_mode():
            return model(images)

    return ModelRun(
        arch=arch,
        channels_last=channels_last,
        batch=batch,
        train_step=train_step,
        infer_step=infer_step,
        train_flops_per_image=_flops(train_step) / batch,
        infer_flops_per_image=_flops(infer_step) / batch,
    )


def _spread(values: list[float], fmt: str) -> str:
    return " / ".join(format(v, fmt) for v in (min(values), statistics.median(values), max(values)))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--batch", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=4, help="timed steps a model turn")
    parser.add_argument("--rounds", type=int, default=3, help="turns of every model and layout")
    parser.add_argument("--peak-size", type=int, default=2048, help="size of the peak matmul")
    parser.add_argument("--peak-runs", type=int, default=10, help="timings of each peak kernel a turn")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    kernels = [matmul_kernel(args.peak_size), conv_kernel()]
    runs = [
        build_run(arch, batch=args.batch, channels_last=channels_last)
        for arch in ("triplet", "stripe")
        for channels_last in (False, True)
    ]

    def peak_turn() -> None:
        for kernel in kernels:
            kernel.run(args.peak_runs)

    for _ in range(args.rounds):
        for run in runs:
            peak_turn()
            run.train_seconds += _seconds(run.train_step, args.repeats)
            peak_turn()
            run.infer_seconds += _seconds(run.infer_step, args.repeats)
    peak_turn()

    best_peak = max(max(kernel.flops_per_second) for kernel in kernels)
    print(
        f"threads {torch.get_num_threads()}; float32 peak {best_peak / 1e9:.1f} GFLOP/s (the best "
        f"timing of {len(kernels)} kernels, run between the model runs)"
    )
    for kernel in kernels:
        gflops = [f / 1e9 for f in kernel.flops_per_second]
        print(f"  {kernel.name}: GFLOP/s min / median / max {_spread(gflops, '.1f')} ({len(gflops)} timings)")
    print(
        f"img/s: min / median / max of {args.rounds * args.repeats} timed steps of {args.batch} "
        f"images; of peak: best img/s x FLOPs per image / best peak"
    )
    print(
        f"{'model':8s} {'layout':13s} {'train img/s':>24s} {'of peak':>7s} "
        f"{'infer img/s':>24s} {'of peak':>7s}"
    )
    warnings = []
    for run in runs:
        cells = []
        for task, seconds, flops_per_image in (
            ("training", run.train_seconds, run.train_flops_per_image),
            ("inference", run.infer_seconds, run.infer_flops_per_image),
        ):
            images_per_second = [run.batch / s for s in seconds]
            model_flops = max(images_per_second) * flops_per_image
            ratio = model_flops / best_peak
            cells.append(f"{_spread(images_per_second, '6.1f')} {ratio:7.1%}")
            if ratio > 1:
                warnings.append(
                    f"WARNING: {run.arch} {run.layout} {task} ran at {model_flops / 1e9:.1f} GFLOP/s, "
                    f"{ratio:.1%} of the measured peak {best_peak / 1e9:.1f} GFLOP/s: the peak "
                    f"measurement was too low (it missed the quiet moments, or its kernels are slower than "
                    f"this model's; try more --peak-runs)"
                )
        print(f"{run.arch:8s} {run.layout:13s} {cells[0]} {cells[1]}")
    for warning in warnings:
        print(warning)


if __name__ == "__main__":
    main()

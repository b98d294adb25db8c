"""Training and inference throughput of the embedders on this CPU, as a fraction of the
machine's own float32 matrix-multiply peak measured in the same run.

    python benchmarks/model_speed.py [--threads N]

FLOPs per image are counted by torch's FlopCounterMode (a multiply-add is 2 FLOPs); a training
step costs forward + backward (counted the same way). Ratios compare FLOP/s with the FLOP/s
of a 2048x2048 float32 matmul.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

from reid_model import SoftmaxTripletLoss, build_embedder


def matmul_flops_per_second(n: int = 2048, repeats: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - start)


def _flops(fn: Callable[[], object]) -> float:
    with FlopCounterMode(display=False) as counter:
        fn()
    return float(counter.get_total_flops())


def measure(arch: str, *, batch: int, channels_last: bool, repeats: int) -> dict[str, float]:
    model = build_embedder(arch)
    images = torch.rand(batch, 3, 128, 48)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)
    loss_fn = SoftmaxTripletLoss()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def train_step() -> None:
        embeddings = model(images)
        third = batch // 3
        loss = loss_fn(embeddings[:third], embeddings[third : 2 * third], embeddings[2 * third : 3 * third])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    model.train()
    train_flops = _flops(train_step) / batch
    train_step()
    start = time.perf_counter()
    for _ in range(repeats):
        train_step()
    train_ips = batch * repeats / (time.perf_counter() - start)

    model.eval()
    with torch.inference_mode():
        infer_flops = _flops(lambda: model(images)) / batch
        model(images)
        start = time.perf_counter()
        for _ in range(repeats):
            model(images)
        infer_ips = batch * repeats / (time.perf_counter() - start)
    return {
        "train_img_s": train_ips,
        "train_gflop_img": train_flops / 1e9,
        "infer_img_s": infer_ips,
        "infer_gflop_img": infer_flops / 1e9,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--batch", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=4)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    peak = matmul_flops_per_second()
    print(f"threads {torch.get_num_threads()}; float32 matmul peak {peak / 1e9:.1f} GFLOP/s")
    print(
        f"{'model':8s} {'layout':13s} {'train img/s':>11s} {'of peak':>7s} {'infer img/s':>11s} {'of peak':>7s}"
    )
    for arch in ("triplet", "stripe"):
        for channels_last in (False, True):
            m = measure(arch, batch=args.batch, channels_last=channels_last, repeats=args.repeats)
            train_ratio = m["train_img_s"] * m["train_gflop_img"] * 1e9 / peak
            infer_ratio = m["infer_img_s"] * m["infer_gflop_img"] * 1e9 / peak
            layout = "channels-last" if channels_last else "contiguous"
            print(
                f"{arch:8s} {layout:13s} {m['train_img_s']:11.1f} {train_ratio:7.1%} "
                f"{m['infer_img_s']:11.1f} {infer_ratio:7.1%}"
            )


if __name__ == "__main__":
    main()

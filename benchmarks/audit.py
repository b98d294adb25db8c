"""Time the privacy audit on real VIPeR (seed split test persons) and print its table.

    python benchmarks/audit.py --data ../shared/data/viper [--methods baselines,loop_fill]
        [--independent-weights W.safetensors] [--finetune-epochs 3]
        [--loop-method integrated_gradients] [--network-only | --fast] [--loop-seed 0]
        [--attackers adversary,fused,handcrafted,independent_stripe,independent,adaptive]

Attackers: the loop's adversary (the bundled model), the bundled fused model (the network with
LOMO + XQDA, the loop's strongest member), the two bundled independent embedders
(``independent``: the seed network; ``independent_stripe``: the default's architecture with
another seed and loss), the hand-crafted LOMO + XQDA matcher, and the independent embedder
fine-tuned on concealed training persons (adaptive). The loop's outfits are drawn with
``--loop-seed`` (0).
Prints the time of each phase, crops concealed per second per method, and the audit table;
writes audit.csv/json/png to --out.
"""

from __future__ import annotations

import argparse
import textwrap
import time
from typing import Any

import torch

from deid import Adversary
from deid.audit import (
    LEGEND,
    audit_split,
    build_attackers,
    build_concealers,
    choose_attackers,
    format_table,
    run_audit,
    write_report,
)
from reid_model import INDEPENDENT_STRIPE_WEIGHTS, INDEPENDENT_WEIGHTS, load_viper

#: The default attackers, in the table's order (the audit builds them in the order named).
ATTACKER_ORDER = "adversary,fused,handcrafted,independent_stripe,independent,adaptive"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default="../shared/data/viper")
    parser.add_argument("--methods", default="baselines")
    parser.add_argument("--attackers", default=ATTACKER_ORDER, help="Comma-separated, in the table's order.")
    parser.add_argument("--independent-weights", default=str(INDEPENDENT_WEIGHTS))
    parser.add_argument("--independent-stripe-weights", default=str(INDEPENDENT_STRIPE_WEIGHTS))
    parser.add_argument("--finetune-epochs", type=int, default=3)
    parser.add_argument("--finetune-persons", type=int, default=200)
    parser.add_argument("--out", default="runs/audit_benchmark")
    parser.add_argument("--loop-method", default="saliency", help="The loop's attribution method.")
    parser.add_argument("--loop-seed", type=int, default=0, help="Seeds the loop's outfit draw.")
    parser.add_argument(
        "--network-only",
        action="store_true",
        help="The loop's adversary without the colour matcher.",
    )
    parser.add_argument(
        "--fast",
        action="store_true",
        help="The loop's adversary without the fused model (deid conceal --adversary fast).",
    )
    args = parser.parse_args()

    timings: dict[str, float] = {}
    started = time.perf_counter()
    samples = load_viper(args.data)
    split = audit_split(samples, "seed")
    timings["load data"] = time.perf_counter() - started

    t = time.perf_counter()
    names, _ = choose_attackers(
        args.attackers,
        independent_weights=args.independent_weights or None,
        independent_stripe_weights=args.independent_stripe_weights or None,
    )
    attackers = build_attackers(
        names,
        samples,
        split,
        independent_weights=args.independent_weights or None,
        independent_stripe_weights=args.independent_stripe_weights or None,
        finetune_epochs=args.finetune_epochs,
    )
    timings["build attackers (LOMO + XQDA fit on 404 persons)"] = time.perf_counter() - t

    loop: dict[str, Any] = {"method": args.loop_method, "seed": args.loop_seed}
    if args.network_only or args.fast:
        loop["adversary"] = Adversary.default(color=not args.network_only, fused=not args.fast)
    methods = build_concealers(args.methods, **loop)
    t = time.perf_counter()
    rows = run_audit(
        methods,
        samples,
        split,
        attackers,
        adapt_persons=args.finetune_persons,
        log=lambda line: print(line, flush=True),
    )
    timings["audit"] = time.perf_counter() - t
    write_report(rows, args.out, metadata={"timings": timings, "methods": list(methods)})
    timings["total"] = time.perf_counter() - started

    print(f"torch threads: {torch.get_num_threads()}; test persons: {len(split.test)}")
    for name, seconds in timings.items():
        print(f"{name:50s} {seconds:7.1f} s")
    crops = 2 * len(split.test)
    for row in rows[:: len(attackers)]:
        rate = crops / row["conceal_seconds"] if row["conceal_seconds"] > 0 else float("inf")
        print(f"  conceal {row['method']:16s} {row['conceal_seconds']:6.1f} s  ({rate:8.1f} crops/s)")
    per_attacker = {
        a.name: sum(r["attack_seconds"] for r in rows if r["attacker"] == a.name) for a in attackers
    }
    for name, seconds in per_attacker.items():
        print(f"  attack  {name:16s} {seconds:6.1f} s  (all methods; adaptive includes fine-tuning)")
    conceal = sum(r["conceal_seconds"] for r in rows[:: len(attackers)])
    other = timings["audit"] - conceal - sum(per_attacker.values())
    print(f"  other: utility, HOG, before-metrics, concealing training persons {other:6.1f} s")
    print(format_table(rows))
    print(textwrap.fill(LEGEND, width=100))
    print(f"wrote {args.out}/audit.csv, audit.json, audit.png")


if __name__ == "__main__":
    main()

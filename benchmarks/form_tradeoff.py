"""Privacy against form: the audit over operator strengths, one table (issue 12).

    python -m benchmarks.form_tradeoff --data ../shared/data/viper
        [--operators fill,redress] [--strengths 0.25,0.5,0.75,1] [--shape body-only]
        [--fallback own|auto]
        [--attackers adversary,fused,handcrafted,independent_stripe,independent,adaptive]

Every (operator, strength) is the conceal loop in ``--shape`` (``body-only`` by default: the mask
is the person's silhouette and nobody falls back to the box) with ``--fallback`` (``own`` by
default: whoever the loop leaves matched gets the operator over the whole silhouette at that
strength, not the stronger treatments of ``auto``), so each row is what that strength buys on
its own; outfits drawn with seed 0, both views of the 127 VIPeR test persons concealed together. ``strength`` is the outfit's opacity for ``fill`` and ``1 - 0.6 x strength`` of the
garment's shading contrast for ``redress`` (see :func:`deid.build_operator`).

For each row: rank-1 of every attacker (concealed cam_a queries against cam_b originals, chance
0.8%; goal at most twice chance), then the form kept: HOG's and the pose model's detection rates
on the concealed crops as a fraction of their rates on the originals, PCK@0.1 against the
originals' keypoints, the background changed and the mask's area of the crop. Prints the table
and each row's seconds; writes every audit row to ``--out``.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from deid.audit import (
    audit_split,
    build_attackers,
    build_concealers,
    choose_attackers,
    run_audit,
    write_report,
)
from reid_model import load_viper

ATTACKER_ORDER = "adversary,fused,handcrafted,independent_stripe,independent,adaptive"


def _floats(text: str) -> list[float]:
    return [float(part) for part in text.split(",") if part.strip()]


def _row(rows: list[dict[str, Any]], name: str, attackers: list[str]) -> str:
    """One line of the table: the method's rank-1 per attacker, then its form columns."""
    mine = {r["attacker"]: r for r in rows if r["method"] == name}
    first = mine[attackers[0]]
    chance = first["rank1_chance"]
    ranks = " ".join(f"{100 * mine[a]['rank1']:5.1f}" for a in attackers)
    worst = max(mine[a]["rank1"] for a in attackers) / chance
    hog = first["detected"] / first["detected_before"]
    pose = first["pose_detected"] / first["pose_detected_before"]
    return (
        f"{name:18s} {ranks}  {worst:5.1f}x  {100 * hog:5.1f}% {100 * pose:5.1f}% "
        f"{100 * first['pck']:5.1f}% {100 * first['background_changed']:5.1f}% {100 * first['area']:5.1f}%"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default="../shared/data/viper")
    parser.add_argument("--operators", default="fill,redress")
    parser.add_argument("--strengths", type=_floats, default=[0.25, 0.5, 0.75, 1.0])
    parser.add_argument("--shape", default="body-only", choices=["body", "body-only", "box"])
    parser.add_argument("--fallback", default="own", help="The loop's fallback_operator.")
    parser.add_argument("--attackers", default=ATTACKER_ORDER, help="Comma-separated, in the table's order.")
    parser.add_argument("--persons", type=int, default=None, help="Only the first N test persons.")
    parser.add_argument(
        "--out", default="runs/form_tradeoff", help="Folder for the rows (audit.csv/json/png)."
    )
    args = parser.parse_args()

    samples = load_viper(args.data)
    split = audit_split(samples, "seed")
    names, _ = choose_attackers(args.attackers)
    attackers = build_attackers(names, samples, split)
    rows: list[dict[str, Any]] = []
    seconds: dict[str, float] = {}
    for operator in [o.strip() for o in args.operators.split(",") if o.strip()]:
        for strength in args.strengths:
            name = f"{operator} {strength:g}"
            concealers = build_concealers(
                f"loop_{operator}",
                seed=0,
                shape=args.shape,
                strength=strength,
                fallback_operator=args.fallback,
            )
            started = time.perf_counter()
            found = run_audit(
                {name: concealers[f"loop_{operator}"]},
                samples,
                split,
                attackers,
                max_persons=args.persons,
                adapt_persons=200,
                log=lambda line: print(line, flush=True),
            )
            seconds[name] = time.perf_counter() - started
            rows += found
            print(_row(found, name, names), flush=True)

    print(
        f"\nshape {args.shape}; rank-1 (%) per attacker: {', '.join(names)}; chance {100 * rows[0]['rank1_chance']:.1f}%"
    )
    print(
        f"{'operator strength':18s} {' '.join(f'{a[:5]:>5s}' for a in names)}  worst   HOG   pose   PCK   bgChg  area"
    )
    for name in seconds:
        print(_row(rows, name, names) + f"  ({seconds[name]:.0f} s)")
    write_report(rows, args.out, metadata={"shape": args.shape, "fallback_operator": args.fallback})
    print(f"wrote {args.out}/audit.csv, audit.json, audit.png")


if __name__ == "__main__":
    main()

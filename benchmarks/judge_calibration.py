"""How often an image with nothing of the person in it passes the adversary's per-person rule.

    python -m benchmarks.judge_calibration [--viper ../shared/data/viper]
        [--pennfudan ../shared/data/pennfudan] [--canvases 24] [--seed 0] [--shifts 1 7 23]

The loop's verdict (:meth:`deid.adversary.Adversary.check`) calls a concealed appearance
private when the person's original ranks in the worse half of the adversary's gallery (and
outside its top 10) under every model. An image that holds no pixel of the person carries no
appearance of theirs, so how often such an image passes shows what the rule asks beyond "nothing
of the person is left". Each person's crop is replaced whole by each of ``--canvases`` flat
two-tone canvases (a random colour above, another below, drawn once for everyone; the shape of
the outfits the loop fills with, without looking at the person) and by flat grey, black and white;
the bundled strong adversary (:meth:`Adversary.default`, ``fused=True``) judges each against the
person's original, as the loop does for a person seen once (:meth:`Adversary.check_shared`).

Prints, for the VIPeR test persons (the audit's, their camera A view) and the Penn-Fudan
people (their labelled boxes): the fraction of (canvas, person) pairs private; the people
private under at least half of the canvases and under none; the median match rate (chance:
0.5) and its quartiles over people; the same for the three flat fills.

Then two checks of what the rule tells apart, with the same adversary (all members judging):

- strangers: each person's untouched crop judged against another person's original (``--shifts``
  derangements of the people). None of them shows the person, so the rule should call them
  private about as often as it calls the canvases private; the fraction matched is how often it
  mistakes one of the set's people for another.
- body fill: each person's silhouette (the pose model's, widened by the loop's default margin)
  filled flat grey, the background left as it is, judged against the person's original, and
  against the person's original pasted on other people's backgrounds (the same derangements; a
  pair is private only under all of them). If the background the two share were what keeps a
  body-shaped concealment matched, the second would pass far more often than the first.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from benchmarks._video import DATA
from benchmarks.person_finder import load_pennfudan
from deid.adversary import Adversary
from deid.audit.setup import audit_split
from deid.boxes import crop_boxes
from deid.loop import ConcealConfig
from deid.loop.bodies import find_bodies
from reid_model import load_viper, select
from reid_model.io import read_image


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--viper", type=Path, default=DATA / "viper")
    parser.add_argument("--pennfudan", type=Path, default=DATA / "pennfudan")
    parser.add_argument("--canvases", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shifts", type=int, nargs="+", default=[1, 7, 23])
    args = parser.parse_args()

    adversary = Adversary.default(fused=True)
    canvases = _canvases(args.canvases, args.seed)
    flats = [torch.full((3, 128, 48), level) for level in (0.5, 0.0, 1.0)]
    people = {"VIPeR test persons": _viper(args.viper), "Penn-Fudan people": _pennfudan(args.pennfudan)}
    for name, crops in people.items():
        originals = adversary.embed(adversary.views(crops))
        groups = torch.arange(len(crops))
        for what, images in (("two-tone canvases", canvases), ("flat grey, black, white", flats)):
            check = adversary.check_shared(adversary.embed(adversary.views(images)), originals, groups)
            private = check.private.float()  # (canvases, people)
            per_person = private.mean(0)
            quartiles = np.quantile(check.match_rate.median(0).values.numpy(), [0.25, 0.5, 0.75])
            print(
                f"{name} ({len(crops)}), {len(images)} {what}: pairs private {private.mean():.1%}; "
                f"people private under >= half of them {(per_person >= 0.5).float().mean():.1%}, "
                f"under none {(per_person == 0).float().mean():.1%}; median match rate "
                f"{check.match_rate.median():.3f} (per person, quartiles {' / '.join(f'{q:.3f}' for q in quartiles)})"
            )
        _apart(name, adversary, crops, args.shifts)


def _apart(name: str, adversary: Adversary, crops: list[torch.Tensor], shifts: list[int]) -> None:
    """Print how the rule judges strangers, and a body fill against the person on another
    background (see the module's docstring)."""
    views = adversary.views(crops)
    regions = torch.stack(
        [
            F.interpolate(body.region(ConcealConfig().margin)[None], size=adversary.input_size)[0]
            for body in find_bodies(crops)
        ]
    )
    groups = torch.arange(len(crops))
    originals = adversary.embed(views)

    def judged(
        concealed: list[torch.Tensor], references: list[torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        check = adversary.check(concealed, references, groups)
        return check.private, check.match_rate

    strangers = [judged(originals, [o.roll(shift, 0) for o in originals]) for shift in shifts]
    private = torch.stack([p for p, _ in strangers]).float()
    rates = torch.stack([r for _, r in strangers])
    print(
        f"{name}, untouched against {len(shifts)} strangers' originals each: pairs private {private.mean():.1%}; "
        f"median match rate {rates.median():.3f}"
    )
    filled = adversary.embed(views * (1 - regions) + 0.5 * regions)
    own_private, own_rate = judged(filled, originals)
    elsewhere = [
        judged(filled, adversary.embed(views * regions + views.roll(shift, 0) * (1 - regions)))
        for shift in shifts
    ]
    other_private = torch.stack([p for p, _ in elsewhere]).all(0)
    other_rate = torch.stack([r for _, r in elsewhere]).amax(0)
    print(
        f"{name}, silhouette filled grey, background kept: private against the own original "
        f"{own_private.float().mean():.1%} (median match rate {own_rate.median():.3f}); against the person "
        f"pasted on {len(shifts)} other backgrounds {other_private.float().mean():.1%} "
        f"(worst match rate, median {other_rate.median():.3f})"
    )


def _canvases(count: int, seed: int) -> list[torch.Tensor]:
    """Flat two-tone crops: one colour on the upper half, another on the lower."""
    generator = torch.Generator().manual_seed(seed)
    canvases = []
    for _ in range(count):
        top, bottom = torch.rand(3, generator=generator), torch.rand(3, generator=generator)
        canvas = torch.empty(3, 128, 48)
        canvas[:, :64], canvas[:, 64:] = top[:, None, None], bottom[:, None, None]
        canvases.append(canvas)
    return canvases


def _viper(root: Path) -> list[torch.Tensor]:
    """The camera A view of each of the audit's VIPeR test persons."""
    samples = load_viper(root)
    return [read_image(s.path) for s in select(samples, audit_split(samples).test) if s.camera_id == 0]


def _pennfudan(root: Path) -> list[torch.Tensor]:
    """Every labelled person of Penn-Fudan, cut out at their box."""
    crops: list[torch.Tensor] = []
    for frame in load_pennfudan(root):
        crops += crop_boxes(frame.image, frame.boxes)[0]
    return crops


if __name__ == "__main__":
    main()

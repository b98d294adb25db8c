"""How often an image with nothing of the person in it passes the adversary's per-person rule.

    python -m benchmarks.judge_calibration [--viper ../shared/data/viper]
        [--pennfudan ../shared/data/pennfudan] [--canvases 24] [--seed 0]

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
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from benchmarks._video import DATA
from benchmarks.person_finder import load_pennfudan
from deid.adversary import Adversary
from deid.audit.setup import audit_split
from deid.boxes import crop_boxes
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

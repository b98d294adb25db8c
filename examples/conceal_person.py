"""Conceal one person seen by two cameras, with one mask, and print what the adversary sees.

python examples/conceal_person.py [examples/images/cam_a/016_0.bmp examples/images/cam_b/016_90.bmp]
"""

from __future__ import annotations

import sys
from pathlib import Path

import deid
from reid_model import read_image, write_image

HERE = Path(__file__).parent


def main() -> None:
    paths = sys.argv[1:] or [HERE / "images/cam_a/016_0.bmp", HERE / "images/cam_b/016_90.bmp"]
    result = deid.conceal_person([read_image(p) for p in paths])
    print(
        f"steps {result.steps}, area concealed {result.area:.0%}, fallback {result.fallback}, "
        f"success {result.success}"
    )
    print(f"adversary before: {result.scores_before}; after: {result.scores_after}")
    out = Path("runs/examples")
    for path, image in zip(paths, result.images, strict=True):
        write_image(out / f"{Path(path).stem}.concealed.png", image)
    print(f"wrote {len(paths)} images to {out}")


if __name__ == "__main__":
    main()

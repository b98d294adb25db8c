"""Why does the bundled model match a probe with a gallery image? Writes a side-by-side heatmap.

python examples/explain_pair.py [PROBE GALLERY]
"""

from __future__ import annotations

import sys
from pathlib import Path

import attribution
import reid_model

HERE = Path(__file__).parent


def main() -> None:
    given = sys.argv[1:]
    if len(given) not in (0, 2):
        sys.exit(
            f"usage: python examples/explain_pair.py [PROBE GALLERY]: two images or none, got {len(given)}"
        )
    probe_path, gallery_path = given or [HERE / "images/cam_a/014_0.bmp", HERE / "images/cam_b/014_90.bmp"]
    model = reid_model.load_default()
    probe = reid_model.load_images([probe_path])
    gallery = reid_model.load_images([gallery_path])
    probe_map = attribution.explain(model, probe, reference=gallery, method="integrated_gradients")
    gallery_map = attribution.explain(model, gallery, reference=probe, method="integrated_gradients")
    regions = attribution.body_regions(128, 48)
    shares = attribution.region_scores(probe_map.clamp(min=0), attribution.stack_regions(regions))[0]
    for name, share in zip(regions, (shares / shares.sum()).tolist(), strict=True):
        print(f"{name:12s} {share:6.1%} of the evidence for the match")
    out = Path("runs/examples/pair_heatmap.png")
    attribution.save_pair_heatmap(out, probe[0], probe_map[0], gallery[0], gallery_map[0])
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

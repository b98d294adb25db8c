"""Embed the conceal loop's fill outfits with the default adversary and ship them.

    python scripts/bundle_outfits.py

Run it after bundling a new default model or colour matcher; ``tests/deid/operators/test_outfits.py``
fails while the shipped file is out of date.
"""

from __future__ import annotations

from deid import Adversary
from deid.operators.outfit import BUNDLED, save_outfit_embeddings


def main() -> None:
    default = Adversary.default()  # --adversary fast is its first two members
    adversary = Adversary([*default.models], [*default.galleries])
    save_outfit_embeddings(adversary, BUNDLED)
    print(f"wrote {BUNDLED}")


if __name__ == "__main__":
    main()

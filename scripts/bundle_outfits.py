"""Embed the conceal loop's fill outfits, alone and with the stand-in figure on them, with the
default adversary and ship them.

    python scripts/bundle_outfits.py

Run it after bundling a new default model or colour matcher; ``tests/deid/operators/test_outfits.py``
fails while the shipped file is out of date.
"""

from __future__ import annotations

from deid import Adversary
from deid.operators.figure import FIGURE_OUTFITS
from deid.operators.outfit import PLAIN, save_outfit_embeddings


def main() -> None:
    default = Adversary.default()  # --adversary fast is its first two members
    adversary = Adversary([*default.models], [*default.galleries])
    for table in (PLAIN, FIGURE_OUTFITS):
        assert table.bundled is not None
        save_outfit_embeddings(adversary, table.bundled, table)
        print(f"wrote {table.bundled}")


if __name__ == "__main__":
    main()

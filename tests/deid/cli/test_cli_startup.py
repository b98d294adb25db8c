"""What the command line loads before it conceals: not the analysis's libraries."""

from __future__ import annotations

import subprocess
import sys

#: Libraries only the analysis, superpixels and ``--masks`` use; together about a second to
#: import on this project's 2-core machine, paid by every ``deid conceal`` before.
ANALYSIS_ONLY = ("scipy", "sklearn", "skimage")


def test_importing_the_cli_leaves_the_analysis_libraries_unloaded():
    code = (
        "import sys, deid, deid.cli.app\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({ANALYSIS_ONLY!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", f"imported with the command line: {out.stdout.strip()}"

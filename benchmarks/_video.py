"""What the video benchmarks share: where the data is, and their common arguments."""

from __future__ import annotations

import argparse
from pathlib import Path

#: ``../shared/data`` beside the repository.
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def video_parser(
    doc: str | None, *, frames: int | None, help_frames: str | None = None
) -> argparse.ArgumentParser:
    """A parser with ``--video`` (PETS 2009 S2.L1 by default) and ``--frames`` (default ``frames``)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", type=Path, default=DATA / "video" / "pets09_s2l1.avi")
    parser.add_argument("--frames", type=int, default=frames, help=help_frames)
    return parser

"""Grouping a batch's inputs by person: VIPeR and Market-1501 names, folders, or each file alone
(by the adversary's embeddings: :mod:`deid.batch.reid_groups`).

A group is a claim, not a verdict: the conceal step still splits a group whose appearances the
adversary does not see as one person (:func:`deid.loop.grouping.split_groups`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from deid.batch.inputs import BatchError, InputFile

GROUP_BY = ("auto", "folder", "viper", "market", "reid", "none")
#: VIPeR: ``cam_a/000_45.bmp``: a 3-digit person id and the viewpoint angle, in cam_a/ or cam_b/.
_VIPER = re.compile(r"^(\d{3})_(\d{1,3})$")
_VIPER_FOLDERS = ("cam_a", "cam_b")
#: Market-1501: ``0002_c1s1_000451_03.jpg``: person (ids 0000 and -1 are junk), camera, sequence,
#: frame and box; exactly so, with nothing before or after.
_MARKET = re.compile(r"^(-1|\d{4})_c(\d)s(\d)_(\d{6})_(\d{2})$")


def _viper_id(file: InputFile) -> str | None:
    match = _VIPER.match(file.path.stem)
    if match is None or file.path.suffix.lower() != ".bmp" or file.path.parent.name not in _VIPER_FOLDERS:
        return None
    return match.group(1)


def _market_id(file: InputFile) -> int | None:
    match = _MARKET.match(file.path.stem)
    if match is None or file.path.suffix.lower() not in (".jpg", ".jpeg"):
        return None
    return int(match.group(1))


def detect_layout(files: Sequence[InputFile]) -> str:
    """The dataset layout that every one of ``files`` has: ``"viper"``, ``"market"`` or ``"none"``.

    A layout is recognised only when the whole input has it, so a folder of phone photos named
    ``20240101_000001.bmp`` is not taken for VIPeR because two of its names look alike.
    """
    if files and all(_viper_id(f) is not None for f in files):
        return "viper"
    if files and all(_market_id(f) is not None for f in files):
        return "market"
    return "none"


def group_key(file: InputFile, group_by: str) -> str:
    """The person an image belongs to, as a label: ``viper:000``, ``folder:cam_a``, ``file:x.png``.

    ``viper`` and ``market`` read the exact file names of those datasets (``cam_a/000_45.bmp``,
    ``0002_c1s1_000451_03.jpg``; Market's junk ids 0 and -1 stay alone); a file that does not
    have the name is its own person. ``auto`` is decided over the whole input by
    :func:`group_files`; for a single file it leaves the file alone.
    """
    alone = f"file:{file.relative.as_posix()}"
    if group_by == "folder":
        return f"folder:{file.relative.parent.as_posix()}"
    if group_by == "viper":
        person = _viper_id(file)
        return alone if person is None else f"viper:{person}"
    if group_by == "market":
        market = _market_id(file)
        return alone if market is None or market <= 0 else f"market:{market:04d}"
    return alone


def group_files(files: Sequence[InputFile], group_by: str) -> dict[str, list[InputFile]]:
    """Group images by person, keeping the order in which groups first appear.

    ``auto`` groups by the VIPeR or Market-1501 names only when every file has them
    (:func:`detect_layout`); otherwise each file is its own person. A group is a claim, not a
    verdict: the conceal step still splits a group whose appearances the adversary does not
    see as one person (:func:`deid.loop.grouping.split_groups`).
    """
    if group_by not in GROUP_BY:
        raise BatchError(f"group_by must be one of {list(GROUP_BY)}, got {group_by!r}", param="group_by")
    if group_by == "reid":
        raise BatchError(
            "group_by 'reid' groups by the adversary's embeddings: use deid.batch.reid_groups.group_by_reid",
            param="group_by",
        )
    if group_by == "auto":
        group_by = detect_layout(files)
    groups: dict[str, list[InputFile]] = {}
    for file in files:
        groups.setdefault(group_key(file, group_by), []).append(file)
    return groups

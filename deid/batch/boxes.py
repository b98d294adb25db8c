"""User-given person boxes (``--boxes FILE``): read the JSON and match its keys to the inputs."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deid.boxes import Box, BoxesError

if TYPE_CHECKING:
    pass


def load_boxes(path: str | os.PathLike[str]) -> dict[str, list[Box]]:
    """Read user-provided person boxes from a JSON file.

    The file is one object mapping an image to its boxes. The key is the image's path relative
    to an input folder, its full path, or its bare file name when no other input has that name
    (see :func:`match_boxes`). Each
    box is ``[x, y, w, h]``, ``[x, y, w, h, score]`` or ``{"x": .., "y": .., "w": .., "h": ..}``
    (optional ``"score"``), or a person of ``deid detect --json`` (``{"box": [x, y, w, h],
    "score": ..}``, other keys ignored), in pixels of the image; an empty list says there is nobody::

        {
          "street/0001.jpg": [[212, 40, 96, 192], {"x": 20, "y": 33, "w": 60, "h": 150}],
          "street/0002.jpg": []
        }

    Raises:
        BoxesError: the file is missing or not JSON, or an entry is malformed.

    Example:
        >>> load_boxes("boxes.json")["street/0001.jpg"][0]  # doctest: +SKIP
        Box(x=212, y=40, w=96, h=192, score=1.0)
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BoxesError(f"boxes file {path}: no such file") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BoxesError(f"boxes file {path}: not a readable JSON file ({exc})") from exc
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise BoxesError(
            f"boxes file {path}: expected an object mapping image paths to box lists, got {kind}"
        )
    out = {}
    for key, entries in data.items():
        if not isinstance(entries, list):
            kind = type(entries).__name__
            raise BoxesError(f"boxes file {path}: {key!r} must map to a list of boxes, got {kind}")
        out[key] = [_parse_box(entry, f"boxes file {path}: {key!r}[{i}]") for i, entry in enumerate(entries)]
    return out


def _parse_box(entry: Any, where: str) -> Box:
    if isinstance(entry, Mapping) and "box" in entry:  # a person of ``deid detect --json``
        box = entry["box"]
        if not (isinstance(box, list) and len(box) == 4):
            raise BoxesError(f'{where}: "box" must be [x, y, w, h], got {box!r}')
        values = [*box, entry.get("score", 1.0)]
    elif isinstance(entry, Mapping):
        missing = [k for k in ("x", "y", "w", "h") if k not in entry]
        if missing:
            raise BoxesError(f"{where} lacks {missing}; a box needs x, y, w, h (and optionally score)")
        values = [entry["x"], entry["y"], entry["w"], entry["h"], entry.get("score", 1.0)]
    elif isinstance(entry, list) and len(entry) in (4, 5):
        values = [*entry, 1.0] if len(entry) == 4 else list(entry)
    else:
        raise BoxesError(f"{where} must be [x, y, w, h], [x, y, w, h, score] or an object, got {entry!r}")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in values):
        raise BoxesError(f"{where} must hold finite numbers, got {entry!r}")
    x, y, w, h, score = values
    if w <= 0 or h <= 0:
        raise BoxesError(f"{where} must have a positive width and height, got w={w}, h={h}")
    return Box(round(x), round(y), max(1, round(w)), max(1, round(h)), float(score))


def match_boxes(
    boxes: Mapping[str, list[Box]], files: Sequence[Path], roots: Sequence[Path], *, source: str = "boxes"
) -> tuple[dict[Path, list[Box]], list[str]]:
    """Assign each key of a boxes file (see :func:`load_boxes`) to the one input it names.

    A key names an input by its path relative to one of ``roots`` (the input folders), by its
    full path (or a path relative to the working folder), or by its bare file name. A key that
    names more than one input, or two keys with different boxes for one input, is an error:
    boxes are never applied to a file they were not meant for.

    Args:
        boxes: boxes by key, as :func:`load_boxes` returns them.
        files: the input files, absolute.
        roots: the folders the inputs were given under (absolute).
        source: how errors name the boxes file.

    Returns:
        The boxes of each matched input, and the keys that name no input.

    Raises:
        BoxesError: a key names several inputs, or one input gets two different box lists.

    Example:
        >>> found, unused = match_boxes({"camA/f.png": []}, [Path("/in/camA/f.png")], [Path("/in")])
        >>> found, unused
        ({PosixPath('/in/camA/f.png'): []}, [])
    """
    names: dict[str, set[Path]] = {}  # every way a key may name each file
    for file in files:
        for name in _names(file, roots):
            names.setdefault(name, set()).add(file)
    out: dict[Path, list[Box]] = {}
    by: dict[Path, str] = {}
    unused = []
    for key, entries in boxes.items():
        matches = set().union(*(names.get(k, set()) for k in _key_forms(key)))
        if len(matches) > 1:
            listed = ", ".join(sorted(str(m) for m in matches))
            raise BoxesError(
                f"{source}: key {key!r} matches {len(matches)} inputs ({listed}); expected one: key them "
                "by their path relative to the input folder or by their full path"
            )
        if not matches:
            unused.append(key)
            continue
        file = matches.pop()
        if file in out and out[file] != entries:
            raise BoxesError(
                f"{source}: keys {by[file]!r} and {key!r} both name {file} with different boxes; "
                "expected one entry per image"
            )
        out[file], by[file] = list(entries), key
    return out, unused


def _names(file: Path, roots: Sequence[Path]) -> set[str]:
    out = {file.name, os.fspath(file), os.path.realpath(file)}
    for root in roots:
        if root in file.parents:
            out.add(file.relative_to(root).as_posix())
    return out


def _key_forms(key: str) -> set[str]:
    if os.path.isabs(key):
        return {os.path.normpath(key), os.path.realpath(key)}
    relative = os.path.normpath(key)
    return {relative, os.path.abspath(key), os.path.realpath(key)}

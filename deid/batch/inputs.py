"""A batch's inputs: files, folders (recursively) and globs, symlink loops; and where outputs may go.

Grouping the inputs by person is :mod:`deid.batch.grouping`.
"""

from __future__ import annotations

import fnmatch
import glob
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from deid.video import VIDEO_SUFFIXES
from reid_model.io import is_image_file


class BatchError(ValueError):
    """The batch cannot start: bad output folder, report path or options.

    Attributes:
        param: the option at fault (``"output"``, ``"report"``, ``"boxes"``...), or None.
    """

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class InputFile:
    """An image to conceal: its path as found (absolute) and its path mirrored under the output."""

    path: Path
    relative: Path


@dataclass(frozen=True)
class InputProblem:
    """An input that is not processed, with the reason (reported, never silently dropped)."""

    path: Path
    status: str  # "failed" or "skipped"
    error: str


@dataclass
class Inputs:
    """What :func:`collect_inputs` found."""

    files: list[InputFile] = field(default_factory=list)
    problems: list[InputProblem] = field(default_factory=list)
    #: Folder inputs, glob bases and their patterns, file inputs: what the output must stay out of.
    folders: list[Path] = field(default_factory=list)
    patterns: list[str] = field(default_factory=list)
    input_files: list[Path] = field(default_factory=list)
    #: The folders the inputs were given under (folders, glob bases, files' parents) and the
    #: folder the outputs mirror: what a ``--boxes`` key may be relative to.
    roots: list[Path] = field(default_factory=list)


def _glob_base(pattern: str) -> Path:
    parts = Path(pattern).parts
    literal = parts[: next((i for i, p in enumerate(parts) if glob.has_magic(p)), len(parts))]
    return Path(os.path.abspath(Path(*literal) if literal else Path(".")))


def collect_inputs(inputs: Sequence[str | os.PathLike[str]], *, output: Path) -> Inputs:
    """Expand ``inputs`` into image files, each with its path mirrored under ``output``.

    Folders are walked recursively following symlinks, but each real folder is entered once:
    a symlink back to a folder already seen (a loop) is reported and not followed. Folders
    inside ``output`` are not entered. The mirrored paths are relative to the deepest folder
    that holds every input.
    """
    found = Inputs()
    roots: list[Path] = []
    pending: list[Path] = []  # image files, in order
    out_real = Path(os.path.realpath(output))
    for raw in inputs:
        text = os.fspath(raw)
        path = Path(os.path.abspath(text))
        if os.path.lexists(path):
            _collect_path(path, found, roots, pending, out_real, top=True)
        elif glob.has_magic(text):
            base = _glob_base(text)
            roots.append(base)
            found.patterns.append(os.path.abspath(text))
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                found.problems.append(
                    InputProblem(path, "failed", f"no file or folder matches the pattern {text!r}")
                )
            for match in matches:
                _collect_path(Path(os.path.abspath(match)), found, [], pending, out_real, top=True)
        else:
            found.problems.append(InputProblem(path, "failed", "no such file or folder"))
    found.roots = list(dict.fromkeys(roots))
    if pending:
        common = Path(os.path.commonpath([str(r) for r in roots]))
        found.roots.append(common)
        seen: set[Path] = set()
        for file in pending:
            if file not in seen:
                seen.add(file)
                found.files.append(InputFile(file, file.relative_to(common)))
    return found


def _collect_path(
    path: Path,
    found: Inputs,
    roots: list[Path],
    pending: list[Path],
    out_real: Path,
    *,
    top: bool,
) -> None:
    try:
        is_dir = path.is_dir()
        exists = path.exists()
    except OSError as exc:
        found.problems.append(InputProblem(path, "failed", f"cannot access: {exc.strerror or exc}"))
        return
    if not exists:
        reason = "a symlink loop" if _is_loop(path) else "a broken symlink"
        found.problems.append(InputProblem(path, "failed", f"cannot read: {reason}"))
        return
    if is_dir:
        roots.append(path)
        found.folders.append(path)
        before = len(pending)
        _walk(path, found, pending, out_real)
        if top and len(pending) == before and not any(_is_under(p.path, path) for p in found.problems):
            found.problems.append(InputProblem(path, "skipped", "empty folder: no files found"))
        return
    roots.append(path.parent)
    found.input_files.append(path)
    _add_file(path, found, pending)


def _add_file(path: Path, found: Inputs, pending: list[Path]) -> None:
    if is_image_file(path):
        pending.append(path)
    elif path.suffix.lower() in VIDEO_SUFFIXES:  # people in it, left as they are: a failure, not a skip
        found.problems.append(
            InputProblem(
                path,
                "failed",
                f"a video (suffix {path.suffix}): not concealed among images; conceal it on its own "
                f"(deid conceal {path} -o OUT)",
            )
        )
    else:
        suffix = path.suffix or "(no suffix)"
        found.problems.append(
            InputProblem(path, "skipped", f"not an image file (suffix {suffix}); not processed")
        )


def _is_loop(path: Path) -> bool:
    try:
        os.stat(path)
    except OSError as exc:
        return exc.errno == 40  # ELOOP
    return False


def _is_under(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _walk(top: Path, found: Inputs, pending: list[Path], out_real: Path) -> None:
    visited: dict[tuple[int, int], Path] = {}
    stack = [top]
    while stack:
        folder = stack.pop()
        real = Path(os.path.realpath(folder))
        if _is_under(real, out_real):
            found.problems.append(
                InputProblem(folder, "skipped", f"inside the output folder {out_real}; not entered")
            )
            continue
        try:
            stat = folder.stat()
        except OSError as exc:
            found.problems.append(
                InputProblem(folder, "failed", f"cannot access folder: {exc.strerror or exc}")
            )
            continue
        key = (stat.st_dev, stat.st_ino)
        if key in visited:
            first = visited[key]
            kind = "a symlink loop" if _is_under(first, folder) or _is_under(folder, first) else "a duplicate"
            found.problems.append(
                InputProblem(
                    folder,
                    "skipped",
                    f"{kind}: leads to {real}, already scanned as {first}; not followed",
                )
            )
            continue
        visited[key] = folder
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            found.problems.append(
                InputProblem(folder, "failed", f"cannot list folder: {exc.strerror or exc}")
            )
            continue
        subfolders = []
        for entry in entries:
            path = folder / entry.name
            try:
                is_dir = entry.is_dir()
                is_file = entry.is_file()
            except OSError:
                is_dir = is_file = False
            if is_dir:
                subfolders.append(path)
            elif is_file:
                _add_file(path, found, pending)
            else:
                reason = "a symlink loop" if _is_loop(path) else "not a regular file or a broken symlink"
                found.problems.append(InputProblem(path, "failed", f"cannot read: {reason}"))
        stack.extend(reversed(subfolders))


def _pattern_matches(pattern: str, path: Path) -> bool:
    """Whether glob ``pattern`` (absolute) could match ``path``; ``**`` matches any depth."""
    parts, target = Path(pattern).parts, path.parts
    if "**" in parts:
        base = _glob_base(pattern)
        return _is_under(path, base)
    return len(parts) == len(target) and all(
        fnmatch.fnmatchcase(t, p) for p, t in zip(parts, target, strict=True)
    )


def check_output(found: Inputs, output: Path, reports: Iterable[Path]) -> None:
    """Refuse an output folder or report that could overwrite, or be read back as, an input."""
    out_real = Path(os.path.realpath(output))
    for folder in found.folders:
        real = Path(os.path.realpath(folder))
        if _is_under(out_real, real):
            raise BatchError(
                f"output folder {output} is inside the input folder {folder}; choose another",
                param="output",
            )
        if _is_under(real, out_real):
            raise BatchError(
                f"input folder {folder} is inside the output folder {output}; choose another",
                param="output",
            )
    for file in found.input_files + [f.path for f in found.files]:
        if _is_under(Path(os.path.realpath(file)), out_real):
            raise BatchError(
                f"input {file} is inside the output folder {output}; choose another", param="output"
            )
    for pattern in found.patterns:
        for f in found.files:
            if _pattern_matches(pattern, out_real / f.relative):
                target = out_real / f.relative
                raise BatchError(
                    f"output {target} would match the input pattern {pattern!r}; choose another",
                    param="output",
                )
    for report in reports:
        real = Path(os.path.realpath(report))
        for folder in found.folders:
            if _is_under(real, Path(os.path.realpath(folder))):
                raise BatchError(
                    f"report {report} is inside the input folder {folder}; choose another",
                    param="report",
                )
        if any(real == Path(os.path.realpath(f.path)) for f in found.files):
            raise BatchError(f"report {report} is one of the inputs; choose another", param="report")

"""A killed video run picks up at its last finished segment.

The work of a run is kept in a folder beside the output (``.NAME.deid``): the follower's state
every ``segment`` frames (:class:`SavedFollower`), and the treatments of each chunk of tracks
once decided. A run given ``resume=True`` whose source and settings are those of the saved work
takes it up from there (the same seed gives the same video as a run never stopped); any other
run starts over.
Writing and judging, about a fifth of a run, are done again in full. The folder goes once the
video and its report are written.
"""

from __future__ import annotations

import io
import json
import pickle
import shutil
from pathlib import Path
from typing import Any

import torch

from deid.video.follow import Follower, Sighting
from reid_model.io import write_bytes_atomic

_KEY = "key.json"
#: The end of the name of a run's work folder (``.NAME.deid`` beside the video ``NAME``).
WORK_SUFFIX = ".deid"


def work_folder(output: Path) -> Path:
    """Where a run writing the video ``output`` keeps its work: ``.NAME.deid`` beside it."""
    return output.with_name(f".{output.name}{WORK_SUFFIX}")


def working_on(work: Path) -> Path:
    """The video whose run keeps its work in ``work`` (:func:`work_folder` turned around)."""
    return work.with_name(work.name[1 : -len(WORK_SUFFIX)])


class Checkpoints:
    """The saved work of one video run.

    Args:
        output: the video the run writes.
        key: the source and the settings (JSON-able): saved work made under another key is
            not used.
        resume: take up saved work; False clears it.
    """

    def __init__(self, output: Path, key: dict[str, Any], *, resume: bool) -> None:
        self.folder = work_folder(output)
        self.key = json.loads(json.dumps(key, default=str))
        #: What happened to the saved work (for the report's notes).
        self.notes: list[str] = []
        if resume and self.folder.is_dir():
            saved = _read_key(self.folder / _KEY)
            if saved == self.key:
                self.notes.append(f"resumed from the work saved in {self.folder}")
                return
            self.notes.append(
                f"the work saved in {self.folder} was made with another source or settings: started over"
            )
        elif resume:
            self.notes.append(f"nothing saved in {self.folder} to resume: started from the beginning")
        self.clear()

    def load(self, name: str) -> Any | None:
        """What was saved under ``name``, or None (nothing saved, or it cannot be read back: that
        part of the work is done again, and :attr:`notes` says so)."""
        path = self.folder / f"{name}.pt"
        if not path.is_file():
            return None
        try:
            return torch.load(path, weights_only=False)
        except (OSError, EOFError, RuntimeError, pickle.UnpicklingError, AttributeError, ImportError) as exc:
            self.notes.append(f"the work saved in {path} cannot be read back ({exc}): done again")
            return None

    def save(self, name: str, state: Any) -> None:
        """Keep ``state`` under ``name`` (written whole or not at all)."""
        if not (self.folder / _KEY).is_file():
            write_bytes_atomic(self.folder / _KEY, json.dumps(self.key, indent=2).encode())
        buffer = io.BytesIO()
        torch.save(state, buffer)
        write_bytes_atomic(self.folder / f"{name}.pt", buffer.getvalue())

    def clear(self) -> None:
        """Remove the saved work."""
        shutil.rmtree(self.folder, ignore_errors=True)


class SavedFollower:
    """The follower of a run, saved every segment without writing the same frames twice: the
    sightings of frames no later step changes (:attr:`Follower.settled`) go once into pieces of
    their own (``follow-frames-K``, K the first frame), the rest of its state (tracks, recent
    frames, the frames still open) into ``follow``, rewritten each time. Saving stays as quick
    at the end of a long video as at its start.

    Args:
        saved: the run's saved work.
    """

    def __init__(self, saved: Checkpoints) -> None:
        self.saved = saved
        self.pieces = 0  # frames saved in pieces

    def load(self) -> Follower | None:
        """The follower saved, with all its frames, or None (nothing saved, or a piece missing
        or unreadable: following starts over, and the run's notes say so)."""
        state = self.saved.load("follow")
        if state is None:
            return None
        if not (isinstance(state, tuple) and len(state) == 2):  # saved by an earlier release
            self.saved.notes.append("the saved following is of another release: followed again")
            return None
        pieces, rest = state
        earlier: list[list[Sighting]] = []
        while len(earlier) < pieces:
            piece = self.saved.load(f"follow-frames-{len(earlier)}")
            if piece is None:
                self.saved.notes.append(
                    f"frames {len(earlier)}- of the saved following are missing: followed again"
                )
                return None
            earlier += piece
        if len(earlier) != pieces:
            self.saved.notes.append("the saved following's pieces do not fit together: followed again")
            return None
        self.pieces = pieces
        return Follower.resumed(rest, earlier)

    def save(self, follower: Follower) -> None:
        """Save the follower: its newly settled frames as a piece, then the rest of its state."""
        settled = follower.settled
        if settled > self.pieces:
            self.saved.save(f"follow-frames-{self.pieces}", follower.by_frame[self.pieces : settled])
            self.pieces = settled
        self.saved.save("follow", (self.pieces, follower.saved_state(self.pieces)))


def source_key(source: Path) -> dict[str, Any]:
    """What identifies a source's content cheaply: its path, and its files' sizes and times."""
    files = sorted(source.iterdir()) if source.is_dir() else [source]
    return {
        "path": str(source.resolve()),
        "files": [[f.name, f.stat().st_size, f.stat().st_mtime_ns] for f in files if f.is_file()],
    }


def _read_key(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None

"""One batch run per output folder: a lock file holding the owner's PID and host.

The lock is ``.deid-conceal.lock`` in the folder, held with ``flock`` while the run lasts, and
its text says who holds it (``{"pid": .., "host": .., "started": ..}``). The kernel drops the
``flock`` when its process dies, however it dies; the file left behind is then stale: a later
run on the same host whose owner PID is no longer alive takes it over with a warning. A lock
whose owner is alive is an error naming that run, and so is a lock left by another host
(whether that run is still going cannot be told from here). The file is removed at the end of
the run, also on errors and Ctrl-C.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from deid.batch.inputs import BatchError
from deid.batch.report import ReportError

LOCK_NAME = ".deid-conceal.lock"


class LockError(BatchError):
    """Another run holds the lock on a folder (or its lock cannot be told stale)."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    except OSError:
        return False
    return True


def _owner(text: str) -> dict[str, Any] | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    ok = isinstance(data, dict) and isinstance(data.get("pid"), int) and isinstance(data.get("host"), str)
    return data if ok else None


def _describe(owner: dict[str, Any]) -> str:
    started = f", started {owner['started']}" if isinstance(owner.get("started"), str) else ""
    return f"PID {owner['pid']} on host {owner['host']}{started}"


class FolderLock:
    """The lock of one run on ``folder`` (created if missing); use as a context manager.

    Args:
        folder: the folder to lock (an output folder, or the folder of a report).
        param: the option that named the folder, for errors (``"output"``, ``"report"``).

    Raises:
        LockError: (on entering) another live run holds the folder, or a lock left by another
            host is there.
        BatchError: the folder or its lock file cannot be created.

    Example:
        >>> with FolderLock(Path("anonymized")) as lock:  # doctest: +SKIP
        ...     print(lock.warnings)
        []
    """

    def __init__(self, folder: Path, *, param: str = "output") -> None:
        self.folder, self.param = folder, param
        self.path = folder / LOCK_NAME
        self.warnings: list[str] = []
        self._fd: int | None = None
        self._created: list[Path] = []  # folders this lock made, removed again if left empty

    @property
    def _label(self) -> str:
        return "output folder" if self.param == "output" else "report folder"

    def __enter__(self) -> FolderLock:
        try:
            self._make_folder()
            self._acquire()
        except OSError as exc:
            self._remove_created()
            if self.param == "report":
                raise ReportError(self.folder, exc) from exc
            reason = f"{exc.strerror or exc} ({type(exc).__name__})"
            raise BatchError(
                f"cannot write to the output folder {self.folder}: {reason}", param="output"
            ) from exc
        except BaseException:
            self._remove_created()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def _make_folder(self) -> None:
        missing = []
        for folder in (self.folder, *self.folder.parents):
            if folder.exists():
                break
            missing.append(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._created = missing  # deepest first

    def _acquire(self) -> None:
        for _ in range(10):  # the lock file may be removed between open and flock: open it again
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                kernel = _flock(fd)
                if kernel is False:
                    owner = _owner(_read(fd))
                    described = _describe(owner) if owner else "an unknown process"
                    raise LockError(
                        f"{self._label} {self.folder} is in use by another deid conceal run "
                        f"({described}); wait for it to end or choose another folder",
                        param=None,
                    )
                try:
                    same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
                except FileNotFoundError:
                    same = False
                if not same:
                    os.close(fd)
                    continue
                self._take(fd, kernel_lock=kernel is True)
            except BaseException:
                os.close(fd)  # the file stays: it is another run's, or ours was not written
                raise
            self._fd = fd
            return
        raise LockError(f"cannot lock {self.path}: it keeps being replaced by another process", param=None)

    def _take(self, fd: int, *, kernel_lock: bool) -> None:
        text = _read(fd)
        owner = _owner(text)
        host, pid = socket.gethostname(), os.getpid()
        if text.strip() and owner is None:
            self.warnings.append(f"took over the unreadable lock file {self.path}")
        elif owner is not None:
            if owner["host"] != host:
                raise LockError(
                    f"{self._label} {self.folder} is locked by {_describe(owner)}, another machine: "
                    f"whether that run still goes on cannot be checked from {host}; if it has ended, "
                    f"delete {self.path} and run again",
                    param=None,
                )
            running = owner["pid"] != pid and _alive(owner["pid"])
            if running and not kernel_lock:
                raise LockError(
                    f"{self._label} {self.folder} is in use by another deid conceal run "
                    f"({_describe(owner)}); wait for it to end or choose another folder",
                    param=None,
                )
            why = "it runs but no longer holds the lock" if running else "it is no longer running"
            self.warnings.append(f"took over the stale lock {self.path} left by {_describe(owner)}: {why}")
        started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        data = json.dumps({"pid": pid, "host": host, "started": started, "command": "deid conceal"})
        os.ftruncate(fd, 0)
        os.pwrite(fd, (data + "\n").encode(), 0)
        os.fsync(fd)

    def release(self) -> None:
        """Remove the lock file and let the folder go (idempotent)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            with contextlib.suppress(OSError):
                if os.stat(self.path).st_ino == os.fstat(fd).st_ino:
                    os.unlink(self.path)
        finally:
            os.close(fd)  # drops the flock
            self._remove_created()

    def _remove_created(self) -> None:
        for folder in self._created:
            try:
                folder.rmdir()  # only if empty
            except OSError:
                break
        self._created = []


def _flock(fd: int) -> bool | None:
    """Take the kernel lock: True when taken, False when another holds it, None when unsupported."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as exc:
        if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
            return None  # a file system without flock: the PID check alone decides
        raise
    return True


def _read(fd: int) -> str:
    try:
        return os.pread(fd, 4096, 0).decode("utf-8", "replace")
    except OSError:
        return ""

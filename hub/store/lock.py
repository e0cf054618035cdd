"""One hub per data folder: an exclusive lock a running hub holds on `<data dir>/.homehub.lock`.

flock is released by the kernel when the process dies (even by SIGKILL), so a crash never
leaves a stale lock behind. A restore takes the same lock, so it never swaps files under a
running hub.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from hub.errors import Unavailable
from hub.store.db import prepare_folder

LOCK_NAME = ".homehub.lock"


class DataDirBusy(Unavailable):
    """Another hub (or a restore) is using this data folder."""


class DataDirLock:
    """The exclusive lock on one data folder."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Does this object hold the lock?"""
        return self._fd is not None

    def acquire(self, what: str = "another homehub") -> None:
        """Take the lock or raise DataDirBusy saying who has it (blocking I/O, but instant)."""
        if self._fd is not None:
            return
        prepare_folder(self.data_dir)  # a folder that is a file, or read-only, says so
        fd = os.open(self.data_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise DataDirBusy(
                f"{self.data_dir} is in use by {what} (a running hub?); stop it first, "
                "or use another --data-dir"
            ) from None
        self._fd = fd

    def release(self) -> None:
        """Let go (closing the descriptor drops the flock)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def is_locked_elsewhere(self) -> bool:
        """True when some other holder has the lock right now (the hub is running)."""
        try:
            self.acquire()
        except DataDirBusy:
            return True
        self.release()
        return False

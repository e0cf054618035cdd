"""A data folder is its owner's alone: folders 0700, files 0600 (the relay's sessions and
backups, the hub's tokens, keys and history; the hub uses this module too).

    make_private(config.data_dir)   # at start: fixes what an older version left 0755/0644
    os.umask(0o077)                 # in the command's process: what it creates stays private
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_UMASK = 0o077


def make_private(folder: Path) -> None:
    """Create `folder` (0700) if needed and take group/other access off everything in it.

    A folder that cannot be made (a file in its place, a read-only disk) is left for the
    database to report with a message that says what to do.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError:
        return
    if not folder.is_dir():
        return
    _strip(folder)
    for root, dirs, files in os.walk(folder):
        for name in (*dirs, *files):
            _strip(Path(root) / name)


def _strip(path: Path) -> None:
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode) or not info.st_mode & 0o077:
        return
    try:
        os.chmod(path, stat.S_IMODE(info.st_mode) & ~0o077)
    except OSError:  # not ours, or a read-only disk: leave it (the owner decides)
        return

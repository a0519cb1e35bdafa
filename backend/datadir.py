"""The data directory holds every device secret and firmware file: owner-only access.

:func:`secure_data_dir` runs once at start (``Runtime.start``), before anything is written: it
creates the directory 0700, sets the process umask to 077 so that every file created from then
on (the SQLite database and its -wal/-shm, the embedded object store's objects, the broker's
password, ACL and persistence files: child processes inherit the umask) is 0600 and every
directory 0700, and tightens what an earlier version left group- or world-readable.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)
UMASK = 0o077
DIR_MODE = 0o700
FILE_MODE = 0o600


def secure_data_dir(data_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)  # parents keep the usual modes; the data dir does not
    os.umask(UMASK)
    tightened = _tighten(data_dir)
    for root, dirs, files in os.walk(data_dir):  # never follows symlinks into other places
        for name in dirs + files:
            tightened += _tighten(Path(root, name))
    if tightened:
        log.info("data directory %s: removed group/other access from %d entries", data_dir, tightened)


def _tighten(path: Path) -> int:
    """Drop group/other permission bits of one entry (symlinks are left alone); 1 when changed."""
    try:
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode) or not st.st_mode & 0o077:
            return 0
        path.chmod(stat.S_IMODE(st.st_mode) & (DIR_MODE if stat.S_ISDIR(st.st_mode) else FILE_MODE))
        return 1
    except OSError as exc:  # vanished meanwhile, or not ours: say so, the backend still starts
        log.warning("could not restrict access to %s: %s", path, exc)
        return 0

"""Private data directories: 0700 directories and owner-only files.

CONTRACT

* :func:`secure_data_dir` creates the data directory with mode 0700 (parents as ``mkdir -p``
  would, with the process umask) and then walks it: every directory becomes 0700 and every
  file loses its group and other permission bits (``0644`` -> ``0600``, an executable
  ``0755`` -> ``0700``). Each change is logged as one warning naming how many paths were
  tightened and the first few of them; the paths are returned. Symbolic links are not followed.
* :func:`create_private_file` creates an empty file with mode 0600 if it does not exist
  (so SQLite, which gives ``-wal`` and ``-shm`` the database file's mode, keeps them private).
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

__all__ = ["DIR_MODE", "FILE_MODE", "create_private_file", "secure_data_dir"]

log = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600
_GROUP_OTHER = 0o077
_SHOWN = 5


def _tighten(path: Path, st: os.stat_result) -> bool:
    mode = stat.S_IMODE(st.st_mode)
    want = DIR_MODE if stat.S_ISDIR(st.st_mode) else mode & ~_GROUP_OTHER
    if mode == want:
        return False
    os.chmod(path, want)
    return True


def secure_data_dir(data_dir: Path) -> list[Path]:
    """Create ``data_dir`` 0700 if missing and tighten everything in it; returns the changed paths."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    changed: list[Path] = []
    if _tighten(data_dir, data_dir.stat()):
        changed.append(data_dir)
    for root, dirs, files in os.walk(data_dir):
        for name in [*dirs, *files]:
            path = Path(root) / name
            try:
                st = path.lstat()
            except FileNotFoundError:  # removed while we walked
                continue
            if (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)) and _tighten(path, st):
                changed.append(path)
    if changed:
        shown = ", ".join(str(p) for p in changed[:_SHOWN]) + (", ..." if len(changed) > _SHOWN else "")
        log.warning("data directory %s: removed group/other access from %d path(s) (directories 0700, "
                    "files 0600): %s", data_dir, len(changed), shown)
    return changed


def create_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists (its mode is then left to the caller)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return
    os.close(fd)

"""Private files: what the service writes is readable by its own user only.

The register, the outbox, the notification outputs, the inbox archive, the spool, the
assessments, the keys, the operators file and the logs hold personal data or secrets
(issue 14 found them 0644 in 0755 folders, read by the user ``nobody``). Setting the
process umask to 077 before anything is written covers every writer at once, including
third-party libraries (SQLite's WAL files, the PDF writer) and child processes (the dev
server's database and log inherit it); ``activities.durable.write_atomic`` sets 0600 on
its own files whatever the umask. ``tighten`` brings a data folder left readable by an
earlier version to 0600 files in 0700 folders when the service starts.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

import structlog

PRIVATE_UMASK = 0o077
PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600

log = structlog.get_logger("breach.files")


def private_umask() -> None:
    """Every file and folder this process (and its children) creates from now on is private."""
    os.umask(PRIVATE_UMASK)


def tighten(paths: Iterable[Path]) -> int:
    """Make each of ``paths`` private: a folder with everything under it (folders 0700, files
    0600), a file on its own (a key file elsewhere does not make its folder ours). Symbolic
    links are left alone and not followed. Returns how many were changed, and logs it."""
    changed = 0
    for root in map(Path, paths):
        if root.is_symlink() or not root.exists():
            continue
        entries = [(root, PRIVATE_FILE)] if root.is_file() else []
        for folder, dirs, files in os.walk(root) if root.is_dir() else ():
            entries += [(Path(folder), PRIVATE_DIR), *((Path(folder) / f, PRIVATE_FILE) for f in files)]
            dirs[:] = [d for d in dirs if not (Path(folder) / d).is_symlink()]
        for path, want in entries:
            info = path.lstat()
            if not stat.S_ISLNK(info.st_mode) and stat.S_IMODE(info.st_mode) != want:
                path.chmod(want)
                changed += 1
    if changed:
        log.info("tightened file permissions to owner-only", paths=changed)
    return changed

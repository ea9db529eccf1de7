"""One way to put a file on disk that survives a crash: the only atomic writer in the project.

Every file a reader may open while it is being replaced (outbox documents, letters and
exports, spool entries, keys, tracking sheets) goes through ``write_atomic``: a temporary
dotfile in the same folder (watchers skip dotfiles), written, flushed and fsynced, renamed
over the target, then the folder fsynced so the rename itself is durable. A reader sees the
old file or the whole new one; after the call returns, a power loss keeps the new one. The
mode is explicit because several of these files hold personal data or keys and must stay
private to the service's user whatever the umask.

``create_once`` is the same staging with a hard link instead of the rename, for a file that
must never be replaced once it exists (a breach's person key: digests already written
with it would no longer match); when two processes race, the first one's file stays.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

PRIVATE = 0o600


def fsync_dir(folder: Path) -> None:
    """Make a rename, creation or unlink in ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _staged(path: Path, data: bytes, mode: int) -> str:
    """A temporary dotfile beside ``path`` holding ``data``, flushed and fsynced; its name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), mode)
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp


def write_atomic(path: Path, data: bytes, mode: int = PRIVATE) -> str:
    """Replace ``path`` with ``data`` atomically and durably; returns the sha256 of ``data``."""
    path = Path(path)
    tmp = _staged(path, data, mode)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)
    return hashlib.sha256(data).hexdigest()


def create_once(path: Path, data: bytes, mode: int = PRIVATE) -> bool:
    """Create ``path`` holding ``data`` unless it exists, atomically and durably; True when
    this call created it (False: another writer's file was there first and is kept)."""
    path = Path(path)
    tmp = _staged(path, data, mode)
    try:
        os.link(tmp, path)
        created = True
    except FileExistsError:
        created = False
    finally:
        os.unlink(tmp)
    fsync_dir(path.parent)
    return created

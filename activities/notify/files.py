"""File plumbing shared by the notification modules: confined paths, whole files written
with a record of what was written, checksums, the per-round lock and the layout of a
round's folders.

Why confined paths: roster URIs and output folders arrive in workflow payloads; resolving
them under one configured base folder (and refusing ``..`` escapes) keeps an activity
from reading or writing anywhere else on the worker's disk.

Whole files go through ``activities.durable.write_atomic`` (the project's one atomic
writer, private mode: letters, lists and manifests describe people); ``write_file`` only
adds the ``FileRef`` a result records. Files that grow row by row (the export's CSV files)
keep their own checkpointed fsyncs (``round_files``).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from activities.durable import write_atomic
from models.notification import FileRef


class PathRefused(ValueError):
    """A configured or requested path that must not be used."""


def confined(base: Path, relative: str | Path, what: str) -> Path:
    base = Path(base).resolve()
    path = Path(relative)
    path = (path if path.is_absolute() else base / path).resolve()
    if path != base and base not in path.parents:
        raise PathRefused(f"the {what} {str(relative)!r} resolves outside {base}")
    return path


def write_file(target: Path, data: bytes) -> FileRef:
    """``data`` written atomically and durably to ``target``, and the record of it."""
    return FileRef(path=str(target), sha256=write_atomic(target, data), bytes=len(data))


def write_json(target: Path, document) -> FileRef:
    return write_file(target, (json.dumps(document, indent=2, sort_keys=True, default=str) + "\n").encode())


def file_ref(path: Path, rows: int | None = None) -> FileRef:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
            size += len(block)
    return FileRef(path=str(path), sha256=digest.hexdigest(), bytes=size, rows=rows)


def verify(ref: FileRef) -> str | None:
    """None when the file is still as recorded, else what changed."""
    path = Path(ref.path)
    if not path.is_file():
        return f"{path} is missing"
    now = file_ref(path)
    if now.sha256 != ref.sha256:
        return f"{path} changed since it was written (sha256 {now.sha256[:12]}..., recorded {ref.sha256[:12]}...)"
    return None


class Busy(RuntimeError):
    """Another process holds the lock of this round (a retry while the first attempt still runs)."""


class RoundLock:
    """An exclusive, non-blocking ``flock`` on the round's lock file; the OS drops it when the
    holder dies, so a killed worker never leaves a round locked."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def __enter__(self) -> RoundLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise Busy(f"{self.path.parent.name} is being worked on by another process") from None
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


@dataclass(frozen=True)
class RoundLayout:
    """Where one round keeps its work state (private) and its outputs (for people)."""

    work: Path  # <work root>/<breach>/round-<n>/
    out: Path  # <out folder>/round-<n>/
    secret: Path  # <work root>/<breach>/person-key (per breach)

    @classmethod
    def of(cls, work_root: Path, out_folder: Path, breach_id: str, round_: int) -> RoundLayout:
        breach = Path(work_root) / breach_id
        return cls(work=breach / f"round-{round_}", out=Path(out_folder) / f"round-{round_}", secret=breach / "person-key")

    @property
    def db(self) -> Path:
        return self.work / "work.sqlite"

    @property
    def lock(self) -> Path:
        return self.work / "lock"

    def final(self, name: str) -> Path:
        return self.out / name

    def partial(self, name: str) -> Path:
        return self.out / f"{name}.partial"

    @property
    def manifest(self) -> Path:
        return self.out / "manifest.json"

    @property
    def request(self) -> Path:
        return self.out / "request.json"

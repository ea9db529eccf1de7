"""Rosters of affected individuals: where they are and how they are read.

Why by reference: a roster is personal data of up to millions of people; it never enters
workflow history or logs. A case names it by URI (``file:`` URI or plain path) and records
its sha256, so a re-run can prove it read the same file.

Why only the rosters folder: a report's ``roster_uri`` comes from whoever filed the report.
It resolves in ``<notify_dir>/rosters`` (``rosters_folder``; ``file:roster.csv`` is
``<notify_dir>/rosters/roster.csv``) and nowhere else: not in the notification work folder
(``.notify-work``, whose per-breach person key is the secret behind every recipient key),
not in another case's letters and exports beside it, not in a hidden folder. ``..``, an
absolute path elsewhere and a symlink that leads out are refused with the reason.

Why streaming: rows are read one at a time with the csv module, so memory does not grow
with the roster. A bad row is a *row problem* (reported with its row number and record
id, never its personal data) and the run goes on; a roster without the expected columns
is a ``RosterError`` that names the missing columns. What a row must hold is ``person``;
the keyed digest that merges duplicate records of one person is ``person_key``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
from collections.abc import Iterator
from datetime import date
from itertools import islice
from pathlib import Path
from urllib.parse import unquote, urlsplit

from activities.notify.person import COLUMNS, RowParser


ROSTERS = "rosters"


class RosterError(Exception):
    """The roster as a whole cannot be used: not found, outside the rosters folder, wrong
    header, not UTF-8, or changed since it was recorded. The message says which."""


def rosters_folder(notify_dir: Path) -> Path:
    """Where reports' rosters are: ``<notify_dir>/rosters``."""
    return Path(notify_dir) / ROSTERS


def resolve(uri: str, folder: Path, what: str = "roster") -> Path:
    """The file a URI names: ``file:`` URIs (``file:///abs``, ``file:rel/x.csv``) and plain
    paths, relative ones under ``folder``. Refuses anything that resolves (symlinks followed)
    outside ``folder`` or into a hidden file or folder within it."""
    folder = Path(folder).resolve()
    text = uri.strip()
    if text.startswith("file:"):
        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost"):
            raise RosterError(f"{what} URI {uri!r} names host {parts.netloc!r}; only local files are supported")
        text = unquote(parts.path)
    elif re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text):
        raise RosterError(f"{what} URI {uri!r} has an unsupported scheme; use a file: URI or a path")
    if not text:
        raise RosterError(f"{what} URI {uri!r} names no file")
    path = Path(text)
    path = (path if path.is_absolute() else folder / path).resolve()
    if folder not in path.parents:
        raise RosterError(f"{what} URI {uri!r} resolves outside the folder {folder}: {what}s are read only from {folder}")
    hidden = next((part for part in path.relative_to(folder).parts if part.startswith(".")), None)
    if hidden is not None:
        raise RosterError(f"{what} URI {uri!r} names the hidden {hidden!r}: {what}s are read only from {folder}, never from a hidden file or folder")
    if not path.is_file():
        raise RosterError(f"{what} {path} does not exist or is not a file ({what}s are read from {folder})")
    return path


def _identity(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


class RosterReader:
    """Streams a roster in batches of raw rows (lists of strings, as csv gives them).

    ``batches(size)`` yields ``(first_row_number, rows)``; row 1 is the first record after
    the header, and every record counts (a blank line is an empty list the caller skips,
    so row numbers match what a person sees). ``parser()`` returns a ``RowParser`` that
    knows this file's column order. The file's checksum is taken separately
    (``sha256_file``); ``changed()`` tells whether the file was replaced or modified
    since it was opened, so a checksum taken before reading still describes what was read.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._binary = open(self.path, "rb")
        self._identity = _identity(os.fstat(self._binary.fileno()))
        self._text = io.TextIOWrapper(self._binary, encoding="utf-8-sig", newline="")
        self._reader = csv.reader(self._text, strict=False)
        self.records = 0
        try:
            header = next(self._reader)
        except StopIteration:
            self.close()
            raise RosterError(f"roster {self.path.name} is empty: no header row") from None
        except (UnicodeDecodeError, csv.Error) as exc:
            self.close()
            raise RosterError(f"roster {self.path.name} has an unreadable header: {exc}") from None
        names = [h.strip().lower() for h in header]
        missing = [c for c in COLUMNS if c not in names]
        if missing:
            self.close()
            raise RosterError(f"roster {self.path.name} lacks the column(s) {', '.join(missing)}; the header must name {', '.join(COLUMNS)}")
        dupes = sorted({n for n in names if names.count(n) > 1 and n in COLUMNS})
        if dupes:
            self.close()
            raise RosterError(f"roster {self.path.name} names the column(s) {', '.join(dupes)} more than once")
        self.width = len(names)
        self.order = [names.index(c) for c in COLUMNS]

    @property
    def bytes_read(self) -> int:
        """Bytes taken from the file so far (read ahead of the rows by at most one buffer)."""
        return self._binary.tell()

    def changed(self) -> bool:
        try:
            return _identity(os.stat(self.path)) != self._identity
        except FileNotFoundError:
            return True

    def parser(self, today: date | None = None) -> RowParser:
        return RowParser(today, width=self.width, order=self.order)

    def batches(self, size: int) -> Iterator[tuple[int, list[list[str]]]]:
        reader = self._reader
        try:
            while rows := list(islice(reader, size)):
                first = self.records + 1
                self.records += len(rows)
                yield first, rows
        except UnicodeDecodeError as exc:
            raise RosterError(f"roster {self.path.name} is not valid UTF-8 after row {self.records}: {exc.reason}") from None
        except csv.Error as exc:
            raise RosterError(f"roster {self.path.name} cannot be parsed after row {self.records}: {exc}") from None

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        for first, rows in self.batches(1024):
            yield from enumerate(rows, first)

    def skip(self, count: int) -> None:
        """Consume ``count`` records (resume from a checkpoint)."""
        while self.records < count:
            if not any(True for _ in self.batches(min(count - self.records, 65536))):
                raise RosterError(f"roster {self.path.name} has {self.records} rows, fewer than the {count} already processed: it changed")

    def close(self) -> None:
        self._text.close()

    def __enter__(self) -> RosterReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

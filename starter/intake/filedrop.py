"""File drop: every complete ``*.json`` report in the inbox folder becomes a case.

`breach up` polls ``BREACH_INBOX_DIR`` (default ``<data_dir>/inbox``) every
``BREACH_INBOX_POLL_SECONDS``:

- a valid report is filed (or found, for a repeat of the same source + external_id) and
  moves to ``inbox/processed/``;
- an invalid one moves to ``inbox/rejected/`` with ``<name>.error.txt`` beside it naming
  every offending field; nothing is ever deleted;
- when Temporal cannot be reached, the file stays in the inbox and is tried again at the
  next poll.

Half-written files are never read. Writers should write ``name.json.partial`` (or a
dotfile such as ``.name.json``) and rename it to ``name.json`` when complete: a rename is
atomic, and only ``*.json`` names that do not start with a dot are looked at. For writers
that cannot rename, a ``*.json`` file is read only once two consecutive polls have seen
the same size and modification time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import structlog

from activities.durable import fsync_dir, write_atomic
from models.intake import IntakeReport
from starter.intake.filing import FiledCase, InvalidReport, parse_for_filing, temporal_unreachable

log = structlog.get_logger("breach.inbox")

MAX_FILE = 1024 * 1024  # the API's body limit applies to dropped files too
STABLE_POLLS = 2  # consecutive polls that must see the same size and mtime


@dataclass
class DropOutcome:
    name: str
    status: str  # processed | rejected | deferred
    breach_id: str | None = None
    problems: list[tuple[str, str]] = field(default_factory=list)
    moved_to: Path | None = None


def _free_name(folder: Path, name: str) -> Path:
    """``folder/name``, or a time-stamped variant when a file of that name is there already."""
    target = folder / name
    if not target.exists() and not (folder / f"{name}.error.txt").exists():
        return target
    stem, dot, ext = name.rpartition(".")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return folder / (f"{stem}.{stamp}.{ext}" if dot else f"{name}.{stamp}")


class Inbox:
    """The watched folder. ``file_one`` starts (or finds) the case of a valid report."""

    def __init__(self, folder: Path, file_one: Callable[[IntakeReport], Awaitable[FiledCase]], stable_polls: int = STABLE_POLLS) -> None:
        self.folder = folder
        self.processed = folder / "processed"
        self.rejected = folder / "rejected"
        self.file_one = file_one
        self.stable_polls = stable_polls
        self._seen: dict[str, tuple[tuple[int, int, int], int]] = {}  # name -> (size, mtime, inode), polls seen unchanged
        self._deferred_logged: set[str] = set()

    def ensure(self) -> None:
        for folder in (self.folder, self.processed, self.rejected):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)

    def _ready(self) -> list[Path]:
        """The complete files: seen with the same size and mtime at ``stable_polls`` consecutive polls."""
        ready, present = [], set()
        for path in sorted(self.folder.glob("*.json")):
            if path.name.startswith("."):
                continue
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            if not path.is_file():
                continue
            present.add(path.name)
            sig = (st.st_size, st.st_mtime_ns, st.st_ino)
            before = self._seen.get(path.name)
            count = before[1] + 1 if before and before[0] == sig else 1
            self._seen[path.name] = (sig, count)
            if count >= self.stable_polls:
                ready.append(path)
        for gone in set(self._seen) - present:
            del self._seen[gone]
            self._deferred_logged.discard(gone)
        return ready

    def _move(self, path: Path, folder: Path) -> Path:
        target = _free_name(folder, path.name)
        os.chmod(path, 0o600)  # the dropper's umask may have left it readable: the archive is private
        os.replace(path, target)
        fsync_dir(folder)
        fsync_dir(self.folder)
        self._seen.pop(path.name, None)
        self._deferred_logged.discard(path.name)
        return target

    def _reject(self, path: Path, problems: list[tuple[str, str]]) -> DropOutcome:
        target = _free_name(self.rejected, path.name)
        lines = [
            f"{path.name} was not filed: it breaks the intake contract, version 1 (see the README, 'The intake contract').",
            "Nothing was started. Fix every field below and drop the file into the inbox again.",
            "",
            *(f"{name}: {message}" for name, message in problems),
        ]
        write_atomic(target.with_name(target.name + ".error.txt"), ("\n".join(lines) + "\n").encode(), mode=0o600)
        os.chmod(path, 0o600)
        os.replace(path, target)
        fsync_dir(self.rejected)
        fsync_dir(self.folder)
        self._seen.pop(path.name, None)
        log.warning("dropped file rejected", file=path.name, moved_to=str(target), fields=[f for f, _ in problems])
        return DropOutcome(path.name, "rejected", problems=problems, moved_to=target)

    async def poll_once(self) -> list[DropOutcome]:
        """One look into the inbox: file what is complete; stop at the first Temporal failure."""
        self.ensure()
        outcomes: list[DropOutcome] = []
        for path in self._ready():
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue
            if len(data) > MAX_FILE:
                outcomes.append(self._reject(path, [("(file)", f"{len(data)} bytes; a report file may have at most {MAX_FILE} bytes (1 MiB)")]))
                continue
            try:
                report = parse_for_filing(data)
            except InvalidReport as exc:
                outcomes.append(self._reject(path, exc.problems))
                continue
            try:
                filed = await self.file_one(report)
            except Exception as exc:  # noqa: BLE001 - Temporal away: leave the file for the next poll
                if not temporal_unreachable(exc):
                    outcomes.append(self._reject(path, [("(report)", f"Temporal refused to start this case: {exc}")]))
                    continue
                if path.name not in self._deferred_logged:
                    log.warning("dropped file left in the inbox: Temporal unreachable; retrying at the next poll", file=path.name, error=str(exc) or type(exc).__name__)
                    self._deferred_logged.add(path.name)
                outcomes.append(DropOutcome(path.name, "deferred", breach_id=report.breach_id))
                break
            target = self._move(path, self.processed)
            log.info("dropped file filed", file=path.name, breach_id=filed.breach_id, created=filed.created)
            outcomes.append(DropOutcome(path.name, "processed", breach_id=filed.breach_id, moved_to=target))
        return outcomes


async def watch_inbox(inbox: Inbox, interval: float, stop: asyncio.Event) -> None:
    """The background task of `breach up`: poll the inbox every ``interval`` seconds until ``stop``."""
    inbox.ensure()
    while not stop.is_set():
        try:
            await inbox.poll_once()
        except OSError as exc:  # e.g. the folder was removed or became unreadable: say so, keep going
            log.error("inbox poll failed", folder=str(inbox.folder), error=str(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)

"""The intake spool: reports accepted while Temporal was unreachable, kept on disk until filed.

The HTTP API validates a report first; when it then cannot start the case, it writes the
report to ``<data_dir>/spool/<breach id>.json`` (temp file, fsync, rename, fsync of the
folder) before it answers 202, so an acknowledged report survives a crash. `breach up`
drains the spool in the background: each file is filed through the same code path as
every other intake route, and removed only once its case exists. Filing is idempotent
(the workflow id is derived from source + external_id), so a file that is filed twice,
or a report posted twice while Temporal was down, still makes exactly one case.

The spool holds the reporter's contact details: the folder is created 0700, its files 0600
(written by ``activities.durable.write_atomic``, the project's one atomic writer).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import structlog

from activities.durable import fsync_dir, write_atomic
from models.intake import IntakeReport
from starter.intake.filing import InvalidReport, parse_for_filing, temporal_unreachable

log = structlog.get_logger("breach.spool")


@dataclass
class DrainResult:
    filed: int = 0
    remaining: int = 0
    error: str | None = None


class Spool:
    """One folder of validated reports waiting for Temporal, one file per breach id."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.rejected = folder / "rejected"

    def _ensure(self) -> None:
        if not self.folder.exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            os.chmod(self.folder, 0o700)

    def path_for(self, breach_id: str) -> Path:
        return self.folder / f"{breach_id}.json"

    def put(self, report: IntakeReport) -> Path:
        """Durably keep ``report``; a second put of the same breach id replaces the first."""
        self._ensure()
        path = self.path_for(report.breach_id)
        write_atomic(path, report.model_dump_json().encode())
        return path

    def contains(self, breach_id: str) -> bool:
        return self.path_for(breach_id).exists()

    def pending(self) -> list[Path]:
        """Spooled files, oldest first (temp files of an unfinished write are dotfiles: skipped)."""
        if not self.folder.is_dir():
            return []
        files = [p for p in self.folder.glob("*.json") if not p.name.startswith(".") and p.is_file()]
        return sorted(files, key=lambda p: (p.stat().st_mtime_ns, p.name))

    def count(self) -> int:
        return len(self.pending())

    def _set_aside(self, path: Path, problem: str) -> None:
        """A spooled file that no longer parses (it cannot happen by our writes): keep it, never delete."""
        self.rejected.mkdir(parents=True, exist_ok=True)
        os.replace(path, self.rejected / path.name)
        write_atomic(self.rejected / f"{path.name}.error.txt", (problem + "\n").encode())
        fsync_dir(self.folder)
        log.error("spooled report set aside", file=path.name, folder=str(self.rejected))

    async def drain(self, file_one: Callable[[IntakeReport], Awaitable[object]]) -> DrainResult:
        """File every spooled report with ``file_one``; stop at the first failure (Temporal is still away).

        A file is removed only after ``file_one`` returned, that is once its case exists.
        """
        result = DrainResult()
        files = self.pending()
        for i, path in enumerate(files):
            try:
                report = parse_for_filing(path.read_bytes())
            except FileNotFoundError:
                continue  # drained by another task meanwhile
            except InvalidReport as exc:
                self._set_aside(path, "\n".join(f"{f}: {m}" for f, m in exc.problems))
                continue
            try:
                await file_one(report)
            except Exception as exc:  # noqa: BLE001 - sorted below: retry later, or set aside
                if not temporal_unreachable(exc):
                    self._set_aside(path, f"Temporal refused to start this case: {exc}")
                    continue
                result.error = str(exc) or type(exc).__name__
                result.remaining = len(files) - i
                return result
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            fsync_dir(self.folder)
            result.filed += 1
            log.info("spooled report filed", breach_id=report.breach_id)
        return result


async def drain_forever(spool: Spool, file_one: Callable[[IntakeReport], Awaitable[object]], interval: float, stop: asyncio.Event, on_drained: Callable[[], None] | None = None) -> None:
    """The background task of `breach up`: drain the spool every ``interval`` seconds until ``stop``."""
    last_error: str | None = None
    while not stop.is_set():
        if spool.pending():
            result = await spool.drain(file_one)
            if result.error:
                if result.error != last_error:
                    log.warning("spool not drained: Temporal still unreachable", waiting=result.remaining, error=result.error)
                last_error = result.error
            else:
                if result.filed:
                    log.info("spool drained", filed=result.filed)
                last_error = None
                if on_drained:
                    on_drained()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)

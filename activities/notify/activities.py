"""Temporal activities of the notify stage: prepare a round's letters (facts, template
check, PDF preview), export a notification round, and issue secondary notice for returned mail.

Why these are activities: they read rosters and write files (I/O), and the export of a
million letters takes long enough to need heartbeats and resumption. Payloads carry only
references, counts and checksums (``models.notification``); the roster is named by URI
and read here.

Errors: a problem a retry cannot fix (a refused template, a roster with the wrong header
or the wrong sha256, a round started with a different request, a path outside the base
folder) is a non-retryable ``ApplicationError`` whose type names the problem; anything
else (a full disk, a lost file system) is left to the retry policy. ``RoundBusy`` (another
attempt still holds the round) is retryable.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError, CancelledError

from activities.notify.export import Exporter
from activities.notify.facts import LetterheadError, case_facts, load_letterhead
from activities.notify.files import PathRefused, confined, write_file
from activities.notify.letter_check import check_templates
from activities.notify.letters import LetterError, Letters, TemplateRefused
from activities.notify.lookup import RoundNotFound, find_round
from activities.notify.preview import preview_pdf
from activities.notify.returned import ReturnedFileError, process_returned
from activities.notify.roster import RosterError, resolve, rosters_folder
from activities.notify.round_errors import ExportError
from models.notification import (
    PROGRESS_SIGNAL,
    NotifyProgress,
    NotifyRequest,
    NotifyResult,
    Prepared,
    PrepareRequest,
    PreviewResult,
    ReturnedMailRequest,
    ReturnedMailResult,
)

_FATAL = (TemplateRefused, LetterError, LetterheadError, RosterError, PathRefused, RoundNotFound, ReturnedFileError)


def _refuse(exc: Exception) -> ApplicationError:
    return ApplicationError(str(exc), type=type(exc).__name__, non_retryable=True)


class ProgressSignal:
    """Tells the running case how far its export is, so its details read "notified N of M".

    Called from the activity's thread at checkpoints; the signal is sent on the worker's
    event loop without waiting for it, at most every ``interval`` seconds. A lost signal
    only delays the figure: the round's result carries the final counts.
    """

    def __init__(self, client: Client, loop: asyncio.AbstractEventLoop, interval: float = 2.0) -> None:
        self.client, self.loop, self.interval = client, loop, interval

    def reporter(self, workflow_id: str, round_: int) -> Callable[[int, int, int], None]:
        last = 0.0

        def report(rows_done: int, bytes_read: int, bytes_total: int) -> None:
            nonlocal last
            now = time.monotonic()
            if now - last < self.interval or not bytes_read:
                return
            last = now
            expected = max(rows_done, round(rows_done * bytes_total / bytes_read))
            note = NotifyProgress(round=round_, rows_done=rows_done, rows_expected=expected)
            handle = self.client.get_workflow_handle(workflow_id)
            asyncio.run_coroutine_threadsafe(handle.signal(PROGRESS_SIGNAL, note), self.loop)

        return report


class NotifyActivities:
    """``base_dir`` holds the rosters (``<base_dir>/rosters``, where roster URIs resolve) and
    the output folders; ``work_dir`` (default ``<base_dir>/.notify-work``) the private work
    state of rounds; ``letterhead`` the agency's standing letter wording; ``progress``
    (optional) signals a running export's progress to its case.

    The templates are read afresh by each activity, so a template fixed on disk is used by
    the next retry without restarting the worker (within one round they never change)."""

    # The error types that end a step for good (the workflow names them in its retry policies).
    REFUSALS = tuple(c.__name__ for c in _FATAL)

    def __init__(self, base_dir: Path, work_dir: Path | None = None, template_dir: Path | None = None,
                 letterhead: Path | None = None, progress: ProgressSignal | None = None) -> None:
        self.base_dir = Path(base_dir)
        self.work_dir = Path(work_dir) if work_dir else self.base_dir / ".notify-work"
        self.template_dir = template_dir
        Letters(template_dir)  # a missing or unreadable template folder stops the worker at start
        rosters_folder(self.base_dir).mkdir(parents=True, exist_ok=True)  # where operators put rosters: there from the start
        self.letterhead = letterhead
        self.progress = progress

    @activity.defn(name="notify.prepare")
    def prepare(self, req: PrepareRequest) -> Prepared:
        """The round's letter facts, the template check with them, and the PDF preview for approvers."""
        try:
            if self.letterhead is None:
                raise LetterheadError("no letterhead file is configured (setting BREACH_LETTERHEAD_FILE)")
            facts = case_facts(req, load_letterhead(self.letterhead))
            letters = Letters(self.template_dir)
            check = check_templates(letters, facts, req.languages, [req.round])
            data, pages, count = preview_pdf(letters, facts, req.languages, req.breach_id, req.round)
            folder = confined(self.base_dir, req.out_folder, "output folder")
            pdf = write_file(folder / f"round-{req.round}" / "preview.pdf", data)
        except _FATAL as exc:
            raise _refuse(exc) from None
        preview = PreviewResult(pdf=pdf, pages=pages, letters=count)
        return Prepared(facts=facts, check=check, preview=preview)

    @activity.defn(name="notify.export_round")
    def export_round(self, req: NotifyRequest) -> NotifyResult:
        info = activity.info()
        detail = info.heartbeat_details[0] if info.heartbeat_details else None
        activity.logger.info("notify.export_round attempt %s of %s round %s (last heartbeat: row %s)", info.attempt, req.breach_id, req.round, detail)
        cursor = [0]

        def heartbeat(row: int) -> None:
            """After each checkpoint: report the cursor; stop here if the case cancelled the export (a hold)."""
            cursor[0] = row
            activity.heartbeat(row)
            if activity.is_cancelled():
                raise CancelledError(f"round {req.round} stopped at row {row} by its case; it resumes from this checkpoint")

        on_progress = None
        if self.progress is not None:
            report = self.progress.reporter(info.workflow_id, req.round)

            def on_progress(bytes_read: int, bytes_total: int) -> None:
                report(cursor[0], bytes_read, bytes_total)
        try:
            return Exporter(Letters(self.template_dir), self.base_dir, self.work_dir).run(req, heartbeat=heartbeat, on_progress=on_progress)
        except _FATAL as exc:
            raise _refuse(exc) from None
        except ExportError as exc:
            raise ApplicationError(str(exc), type=type(exc).__name__, non_retryable=not exc.retryable) from None

    @activity.defn(name="notify.returned_mail")
    def returned_mail(self, req: ReturnedMailRequest) -> ReturnedMailResult:
        try:
            returned = resolve(req.returned_uri, self.base_dir, "returned-mail file")
            found = find_round(confined(self.base_dir, req.out_folder, "output folder"), req.round)
            if found.request.breach_id != req.breach_id:
                raise RoundNotFound(f"round {req.round} in {req.out_folder} belongs to breach {found.request.breach_id}, not {req.breach_id}")
            return process_returned(Letters(self.template_dir), found, returned)
        except _FATAL as exc:
            raise _refuse(exc) from None

    @property
    def all(self) -> list:
        """Every activity of this class, for a worker's ``activities=`` list."""
        return [self.prepare, self.export_round, self.returned_mail]

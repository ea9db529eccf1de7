"""Temporal activities of the notify stage: check the letter templates, preview them as PDF,
export a notification round, and issue secondary notice for returned mail.

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

from pathlib import Path

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.notify.export import Exporter, ExportError
from activities.notify.files import PathRefused, confined, write_atomic
from activities.notify.letters import LetterError, Letters, TemplateRefused
from activities.notify.lookup import RoundNotFound, find_round
from activities.notify.preview import preview_pdf
from activities.notify.returned import ReturnedFileError, process_returned
from activities.notify.roster import RosterError, resolve
from models.notification import (
    FileRef,
    NotifyRequest,
    NotifyResult,
    PreviewRequest,
    PreviewResult,
    ReturnedMailRequest,
    ReturnedMailResult,
    TemplateCheck,
    TemplateCheckRequest,
)

_FATAL = (TemplateRefused, LetterError, RosterError, PathRefused, RoundNotFound, ReturnedFileError)


def _refuse(exc: Exception) -> ApplicationError:
    return ApplicationError(str(exc), type=type(exc).__name__, non_retryable=True)


class NotifyActivities:
    """``base_dir`` holds the rosters (URIs resolve under it) and the output folders;
    ``work_dir`` (default ``<base_dir>/.notify-work``) the private work state of rounds."""

    def __init__(self, base_dir: Path, work_dir: Path | None = None, template_dir: Path | None = None) -> None:
        self.base_dir = Path(base_dir)
        self.work_dir = Path(work_dir) if work_dir else self.base_dir / ".notify-work"
        self.letters = Letters(template_dir)
        self.exporter = Exporter(self.letters, self.base_dir, self.work_dir)

    @activity.defn(name="notify.check_templates")
    def check_templates(self, req: TemplateCheckRequest) -> TemplateCheck:
        try:
            return self.letters.check(req.facts, req.languages, req.rounds)
        except _FATAL as exc:
            raise _refuse(exc) from None

    @activity.defn(name="notify.preview")
    def preview(self, req: PreviewRequest) -> PreviewResult:
        try:
            self.letters.check(req.facts, req.languages, [req.round])
            data, pages, count = preview_pdf(self.letters, req.facts, req.languages, req.breach_id, req.round)
            folder = confined(self.base_dir, req.out_folder, "output folder")
            ref = write_atomic(folder / f"round-{req.round}" / "preview.pdf", data)
        except _FATAL as exc:
            raise _refuse(exc) from None
        return PreviewResult(pdf=FileRef(path=ref.path, sha256=ref.sha256, bytes=ref.bytes), pages=pages, letters=count)

    @activity.defn(name="notify.export_round")
    def export_round(self, req: NotifyRequest) -> NotifyResult:
        info = activity.info()
        detail = info.heartbeat_details[0] if info.heartbeat_details else None
        activity.logger.info("notify.export_round attempt %s of %s round %s (last heartbeat: row %s)", info.attempt, req.breach_id, req.round, detail)
        try:
            return self.exporter.run(req, heartbeat=activity.heartbeat)
        except _FATAL as exc:
            raise _refuse(exc) from None
        except ExportError as exc:
            raise ApplicationError(str(exc), type=type(exc).__name__, non_retryable=not exc.retryable) from None

    @activity.defn(name="notify.returned_mail")
    def returned_mail(self, req: ReturnedMailRequest) -> ReturnedMailResult:
        try:
            returned = resolve(req.returned_uri, self.base_dir)
            found = find_round(confined(self.base_dir, req.out_folder, "output folder"), req.round)
            if found.request.breach_id != req.breach_id:
                raise RoundNotFound(f"round {req.round} in {req.out_folder} belongs to breach {found.request.breach_id}, not {req.breach_id}")
            return process_returned(self.letters, found, returned)
        except _FATAL as exc:
            raise _refuse(exc) from None

    @property
    def all(self) -> list:
        """Every activity of this class, for a worker's ``activities=`` list."""
        return [self.check_templates, self.preview, self.export_round, self.returned_mail]

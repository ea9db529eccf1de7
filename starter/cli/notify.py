"""`breach letter` and `breach returned-mail`: one person's letter on demand, and secondary
notice for returned letters, from a finished notification round on this machine.

Why not through Temporal: both read files the notify activity wrote (the export, the
manifest, the roster it references) and write nothing a workflow waits for. A letter is
personal data: it goes to the terminal or to the PDF file named, never to a log. Long
scans (the roster, the export) show a progress bar on stderr.

The command functions are plain Typer functions; starter/cli/app.py registers them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from activities.durable import write_atomic
from activities.notify.letters import LetterError, Letters, TemplateRefused
from activities.notify.lookup import RoundNotFound, find_round, letter_for_record
from activities.notify.preview import letter_pdf
from activities.notify.returned import ReturnedFileError, process_returned
from activities.notify.roster import RosterError
from starter.cli.console import err, fail, run_case_update
from workflows.breach import BreachResponseWorkflow


def _progress(what: str) -> Progress:
    """A bar over bytes (a roster scan)."""
    return Progress(TextColumn(what), BarColumn(), DownloadColumn(), TimeRemainingColumn(), console=err, transient=True)


def _rows_progress(what: str) -> Progress:
    """A bar over rows (the export and the roster)."""
    return Progress(TextColumn(what), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=err, transient=True)


def letter(
    case_out_dir: Annotated[Path, typer.Argument(help="The case's notification folder (holding round-N/ folders), or one round folder.")],
    record_id: Annotated[str, typer.Argument(help="The roster's record_id of the person.")],
    round_: Annotated[int | None, typer.Option("--round", "-r", min=1, help="Round number (default: the latest finished round).")] = None,
    pdf: Annotated[Path | None, typer.Option("--pdf", help="Write the letter as a PDF to this file instead of printing its text.")] = None,
) -> None:
    """Render one person's letter as it was sent in a notification round.

    Re-reads the round's roster (checking its sha256) to find the record, recomputes the
    person's recipient key, finds the row in the mail-house export (or the no-address
    list) and renders the letter in the language and variant it was sent in. A record
    that was merged into another record of the same person gets that person's letter.

    Example: breach letter /srv/breach/notify/cms-BR-2026-001 R000012345 --pdf letter.pdf
    """
    try:
        found = find_round(case_out_dir, round_)
        letters = Letters()
        with _progress(f"searching the roster of round {found.number}") as bar:
            task = bar.add_task("scan", total=None)
            result = letter_for_record(letters, found, record_id, on_progress=lambda done, total: bar.update(task, completed=done, total=total))
        if pdf is not None:
            write_atomic(pdf.resolve(), letter_pdf(result.text, result.large_print))
    except (RoundNotFound, RosterError, LetterError, TemplateRefused) as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"{exc.filename or ''}: {exc.strerror or exc}") from None
    merged = f"; record {record_id} was merged into record {result.sent_under_record}" if result.sent_under_record != record_id else ""
    err.print(f"round {found.number}, recipient key {result.recipient_key}, {result.variant.value} letter in {result.language}"
              f"{', large print' if result.large_print else ''}, delivery {result.delivery.replace('_', ' ')}{merged}", highlight=False, soft_wrap=True)
    if pdf is not None:
        err.print(f"letter written to {pdf}", highlight=False, soft_wrap=True)
    else:
        typer.echo(result.text, nl=False)


def returned_mail(
    export_dir: Annotated[Path, typer.Argument(help="The round folder of the export (holding manifest.json and mailhouse.csv), or the case's notification folder for its latest round.")],
    file: Annotated[Path, typer.Argument(help="CSV of returned letters with a recipient_key or record_id column.")],
    round_: Annotated[int | None, typer.Option("--round", "-r", min=1, help="Round number when EXPORT_DIR is the case's folder.")] = None,
) -> None:
    """Issue secondary notice for letters returned as undeliverable.

    Matches each returned entry to a recipient of the round's export and writes, under
    EXPORT_DIR/returned/<checksum>/: the addendum list for secondary notice (with phone and
    e-mail from the roster), the entries that matched nobody, a summary, and, when 10 or
    more people were returned, the substitute notice (web posting and major media, with
    the toll-free number kept for 90 days). The same file processed again changes nothing.

    Example: breach returned-mail /srv/breach/notify/cms-BR-2026-001/round-1 returned-2026-06-30.csv
    """
    try:
        found = find_round(export_dir, round_)
        with _rows_progress("matching returned letters") as bar:
            task = bar.add_task("match", total=None)
            result = process_returned(Letters(), found, file, on_progress=lambda done, total: bar.update(task, completed=done, total=total))
    except (RoundNotFound, RosterError, LetterError, TemplateRefused, ReturnedFileError) as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"{exc.filename or ''}: {exc.strerror or exc}") from None
    state = "already processed: nothing changed" if result.already_done else "processed"
    typer.echo(f"returned-mail file {file.name} {state} (round {result.round}, breach {result.breach_id})")
    typer.echo(f"  entries: {result.returned_rows}; recipients matched: {result.matched}; repeated: {result.repeated}; unknown: {result.unknown}")
    if result.substitute_notice_required:
        typer.echo(f"  {result.matched} people returned (10 or more): substitute notice required: {result.substitute_notice.path if result.substitute_notice else ''}")
    elif result.matched:
        typer.echo("  fewer than 10 returned: reach each by another written notice, telephone or other means")
    typer.echo(f"  addendum list: {result.addendum.path}")
    if result.unknown:
        typer.echo(f"  unmatched entries: {result.unmatched.path}")


def notify_retry(case: Annotated[str, typer.Argument(help="Breach id or workflow id.")]) -> None:
    """Run a case's failed notification step again, once its cause is fixed.

    The case says what failed in its findings and under "awaiting": a letter template
    missing a required element, an invalid letterhead, or a roster that is missing or
    malformed. Fix that file, then run this: at CMS approval the letters are checked
    again; in notify the export starts again (a round resumes from its last checkpoint).

    Example: breach notify-retry api-CSIRC-INC-2026-88120
    """
    run_case_update(case, BreachResponseWorkflow.retry_notification)

"""Letters returned as undeliverable, and the secondary notice they call for.

Attachment C: "The CMS should anticipate mail returned as undeliverable and should have
procedures in place for how to provide a secondary notification." Under HIPAA the same
rule as for missing addresses applies (45 CFR 164.404(d)(2)): 10 or more people without
current contact information need substitute notice (web posting or major media, with a
toll-free number kept for 90 days); fewer can be reached by another written notice,
telephone or other means.

Input: a CSV from the mail house or the post office with a ``recipient_key`` or a
``record_id`` column (other columns are ignored). Output, in
``<round>/returned/<first 12 hex of the file's sha256>/``: ``addendum.csv`` (the returned
recipients with what secondary notice needs: addressee, state, language, phone and
e-mail from the roster), ``unmatched.csv`` (entries that name no recipient of the round),
``summary.json`` (counts and decision) and, at 10 or more, ``substitute-notice.txt``.
The folder is published by one rename, so it is complete or absent; the same file
processed again returns the stored result. Both CSV files are written safe for a
spreadsheet, and what they take from the returned file or the roster loses its control and
bidirectional characters (``activities.safe_text``).

Memory stays flat: the returned entries go to a scratch SQLite table, and the export and
the roster are streamed past it in batches.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sqlite3
import tempfile
from collections import Counter
from pathlib import Path

from activities.durable import fsync_dir
from activities.notify.batch import EXPORT_COLUMNS
from activities.notify.closing import substitute_notice
from activities.notify.files import file_ref, write_file
from activities.notify.letters import Letters
from activities.notify.lookup import OnProgress, Round, read_csv
from activities.notify.person import UNKNOWN_STATE
from activities.notify.roster import RosterError, RosterReader, sha256_file
from activities.notify.round_files import EXPORT
from activities.safe_text import clean_line, csv_row
from models.notification import SUBSTITUTE_NOTICE_THRESHOLD, FileRef, ReturnedMailResult

ADDENDUM_COLUMNS = ("recipient_key", "record_id", "variant", "language", "large_print", "addressee_1", "addressee_2", "state",
                    "phone", "email", "reason")
UNMATCHED_COLUMNS = ("row", "identifier", "problem")
_BATCH = 2000


class ReturnedFileError(ValueError):
    """The returned-mail file cannot be used; the message says why."""


def _rows(path: Path):
    """(row number, identifier kind, identifier) of each entry of the returned-mail file."""
    try:
        fh = open(path, encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise ReturnedFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    with fh:
        reader = csv.reader(fh)
        try:
            header = [h.strip().lower() for h in next(reader)]
        except StopIteration:
            raise ReturnedFileError(f"{path.name} is empty: no header row") from None
        n = 0
        if "recipient_key" in header:
            at, kind = header.index("recipient_key"), "recipient_key"
        elif "record_id" in header:
            at, kind = header.index("record_id"), "record_id"
        else:
            raise ReturnedFileError(f"{path.name} has neither a recipient_key nor a record_id column (its columns: {', '.join(header) or 'none'})")
        try:
            for n, fields in enumerate(reader, 1):
                if fields:
                    yield n, kind, clean_line(fields[at])[0].strip() if len(fields) > at else ""
        except (UnicodeDecodeError, csv.Error) as exc:
            raise ReturnedFileError(f"{path.name} cannot be read after row {n}: {exc}") from None


def process_returned(letters: Letters, found: Round, returned: Path, on_progress: OnProgress | None = None) -> ReturnedMailResult:
    """Secondary notice for the letters named in ``returned``; ``on_progress(done, total)``
    follows the scans of the export and the roster (in rows)."""
    sha = sha256_file(returned)
    target = found.folder / "returned" / sha[:12]
    summary_path = target / "summary.json"
    if summary_path.is_file():
        stored = json.loads(summary_path.read_text(encoding="utf-8"))
        return ReturnedMailResult.model_validate({**stored, "summary": file_ref(summary_path).model_dump(), "already_done": True})
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{sha[:12]}.", dir=target.parent))
    try:
        result = _process(letters, found, returned, sha, scratch, target, on_progress or (lambda _d, _t: None))
        os.replace(scratch, target)  # publish the whole folder at once
        fsync_dir(target.parent)
    except FileExistsError:  # another process published it first
        shutil.rmtree(scratch, ignore_errors=True)
        return process_returned(letters, found, returned, on_progress)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return result


def _process(letters: Letters, found: Round, returned: Path, sha: str, scratch: Path, target: Path, on_progress: OnProgress) -> ReturnedMailResult:
    counts = found.manifest["counts"]
    total, done = counts["exported"] + counts["rows_read"], 0
    db = sqlite3.connect(scratch / "work.sqlite", isolation_level=None)
    try:
        db.execute("PRAGMA cache_size = -2048")
        db.execute("PRAGMA journal_mode = OFF")  # scratch data, rebuilt from the inputs if lost
        db.execute("CREATE TABLE entry (row INTEGER PRIMARY KEY, kind TEXT NOT NULL, ident TEXT NOT NULL, recipient TEXT)")
        db.execute("CREATE INDEX entry_ident ON entry (ident)")
        db.execute("CREATE TABLE hit (recipient_key TEXT PRIMARY KEY, record_id TEXT NOT NULL, variant TEXT, language TEXT, "
                   "large_print TEXT, addressee_1 TEXT, addressee_2 TEXT, state TEXT)")
        db.execute("CREATE INDEX hit_record ON hit (record_id)")
        db.execute("BEGIN")
        entries = 0
        for n, kind, ident in _rows(returned):
            db.execute("INSERT INTO entry (row, kind, ident) VALUES (?, ?, ?)", (n, kind, ident))
            entries += 1
        db.execute("COMMIT")
        # Stream the export past the entries: which recipients were returned?
        batch: list[dict[str, str]] = []

        def match() -> None:
            idents = [r["recipient_key"] for r in batch] + [r["record_id"] for r in batch]
            marks = ",".join("?" * len(idents))
            named = {i for (i,) in db.execute(f"SELECT DISTINCT ident FROM entry WHERE ident IN ({marks})", idents)}
            for r in batch:
                key = r["recipient_key"] if r["recipient_key"] in named else r["record_id"] if r["record_id"] in named else None
                if key is None:
                    continue
                db.execute("UPDATE entry SET recipient = ? WHERE ident = ?", (r["recipient_key"], key))
                block = [r[f"address_line_{i}"] for i in range(1, 6)]
                two = 2 if block[1].startswith("Parent or guardian of ") else 1
                db.execute("INSERT OR IGNORE INTO hit VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           (r["recipient_key"], r["record_id"], r["variant"], r["language"], r["large_print"], block[0],
                            block[1] if two == 2 else "", r["state"] or UNKNOWN_STATE))
            batch.clear()

        db.execute("BEGIN")
        for r in read_csv(found.folder / EXPORT, EXPORT_COLUMNS):
            batch.append(r)
            if len(batch) >= _BATCH:
                match()
                done += _BATCH
                on_progress(done, total)
        if batch:
            match()
        db.execute("COMMIT")
        done = counts["exported"]
        # Phone and e-mail for the returned ones (another written notice, telephone or other means).
        contact: dict[str, tuple[str, str]] = {}
        roster = found.roster
        if roster.is_file() and sha256_file(roster) == found.manifest["roster"]["sha256"]:
            with RosterReader(roster) as reader:
                at, phone_at, email_at = reader.order[0], reader.order[12], reader.order[11]
                for _first, rows in reader.batches(_BATCH):
                    done += len(rows)
                    on_progress(done, total)
                    ids = [f[at].strip() for f in rows if len(f) == reader.width]
                    marks = ",".join("?" * len(ids))
                    wanted = {i for (i,) in db.execute(f"SELECT record_id FROM hit WHERE record_id IN ({marks})", ids)} if ids else set()
                    for f in rows:
                        if len(f) == reader.width and f[at].strip() in wanted:
                            contact[f[at].strip()] = (clean_line(f[phone_at])[0].strip(), clean_line(f[email_at])[0].strip())
        else:
            raise RosterError(f"the roster of round {found.number} is missing or changed since the export; phone and e-mail for "
                              f"the secondary notice cannot be looked up")
        addendum = io.StringIO()
        out = csv.writer(addendum)
        out.writerow(ADDENDUM_COLUMNS)
        states: Counter = Counter()
        matched = 0
        for row in db.execute("SELECT recipient_key, record_id, variant, language, large_print, addressee_1, addressee_2, state "
                              "FROM hit ORDER BY record_id"):
            phone, email = contact.get(row[1], ("", ""))
            out.writerow(csv_row((*row, phone, email, "returned as undeliverable")))
            states[row[7]] += 1
            matched += 1
        unmatched_buf = io.StringIO()
        unmatched = csv.writer(unmatched_buf)
        unmatched.writerow(UNMATCHED_COLUMNS)
        unknown = 0
        for n, kind, ident in db.execute("SELECT row, kind, ident FROM entry WHERE recipient IS NULL ORDER BY row"):
            unmatched.writerow(csv_row((n, ident, f"no recipient of round {found.number} has this {kind}" if ident else f"the {kind} is empty")))
            unknown += 1
        (repeats,) = db.execute("SELECT count(*) - count(DISTINCT recipient) FROM entry WHERE recipient IS NOT NULL").fetchone()
    finally:
        db.close()
        for leftover in scratch.glob("work.sqlite*"):
            leftover.unlink()
    required = matched >= SUBSTITUTE_NOTICE_THRESHOLD
    addendum_ref = _publish(write_file(scratch / "addendum.csv", addendum.getvalue().encode()), target, rows=matched)
    unmatched_ref = _publish(write_file(scratch / "unmatched.csv", unmatched_buf.getvalue().encode()), target, rows=unknown)
    notice = None
    if required:
        request = found.request
        ready = letters.translated(request.languages, request.facts)
        named_states = sorted(s for s in states if s != UNKNOWN_STATE)
        text = substitute_notice(letters, request.facts, ready, named_states, breach_id=request.breach_id, round=found.number,
                                 follow_up=found.number > 1)
        notice = _publish(write_file(scratch / "substitute-notice.txt", text), target)
    result = ReturnedMailResult(
        breach_id=found.request.breach_id, round=found.number, returned_sha256=sha, returned_rows=entries, matched=matched,
        unknown=unknown, repeated=repeats, substitute_notice_required=required, by_state=dict(sorted(states.items())),
        addendum=addendum_ref, unmatched=unmatched_ref, substitute_notice=notice,
    )
    body = (json.dumps(result.model_dump(mode="json", exclude={"summary", "already_done"}), indent=2, sort_keys=True) + "\n").encode()
    summary = _publish(write_file(scratch / "summary.json", body), target)
    return result.model_copy(update={"summary": summary})


def _publish(ref: FileRef, target: Path, rows: int | None = None) -> FileRef:
    """A file written in the scratch folder, described at the path it will have once published."""
    return ref.model_copy(update={"path": str(target / Path(ref.path).name), "rows": rows})

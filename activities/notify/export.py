"""The notification export of one round: roster in, mail-house file, lists and manifest out.

Exactly once. Every person gets a recipient key: a keyed digest of (breach, round,
person), where the person is the normalised name, birth date and SSN or MBI. The work
database remembers every key the round has written; a second record of the same person
(anywhere in the roster) is merged, not mailed twice. Round 2 (a follow-up for a
material change) has its own keys and its own seen table, so each person gets one
follow-up and round 1's letter is never repeated.

Resumable. The export is written incrementally to ``<name>.partial`` files. Every
``checkpoint_every`` rows: (1) the output files are flushed and fsynced, (2) one SQLite
transaction commits the persons seen since the last checkpoint together with the
progress row (roster cursor, byte offset of each file, counts so far), (3) the caller's
heartbeat gets the cursor. A new attempt (worker crash, retry) reads the progress row
(authoritative; the heartbeat detail is informational), cuts each file back to its
recorded offset and carries on from the recorded cursor. When the roster is done the
files are renamed to their final names, the derived documents and the manifest are
written atomically, and the result is stored: a re-run returns it without redoing work.

Fast and flat (bench/notify.py measures both). Rows are streamed with the csv module
and prepared column-wise in small batches (``batch``), for a large roster by a reader
process on another core (``reader``); letters are not rendered here (the export carries
variants and address blocks; full letters are rendered on demand and for previews).
Memory does not grow with the roster: the persons seen live in SQLite behind small page
caches, with a fixed-size Bloom filter in front (``workdb``).
"""

from __future__ import annotations

import contextlib
import csv
import gc
import hashlib
import io
import json
import os
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from itertools import compress
from pathlib import Path

import structlog

from activities.notify.batch import ERROR_COLUMNS, EXPORT_COLUMNS, NO_ADDRESS_COLUMNS, SUB_BATCH, Prepared
from activities.notify.files import Busy, RoundLayout, RoundLock, confined, file_ref, fsync_dir, verify, write_atomic, write_json
from activities.notify.letters import BASE_LANGUAGE, Letters
from activities.notify.reader import PIPELINE_MIN_BYTES, ReaderProcess, ReadPlan, in_process
from activities.notify.roster import UNKNOWN_STATE, KeyMaker, RosterError, RosterReader, load_or_create_secret, resolve, sha256_file
from activities.notify.workdb import Progress, WorkDB, read_progress
from models.notification import (
    MEDIA_NOTICE_THRESHOLD,
    SUBSTITUTE_NOTICE_DAYS,
    SUBSTITUTE_NOTICE_THRESHOLD,
    FileRef,
    LetterKind,
    NotifyCounts,
    NotifyRequest,
    NotifyResult,
)

log = structlog.get_logger("breach.notify")

EXPORT, NO_ADDRESS, ERRORS = "mailhouse.csv", "no-address.csv", "errors.csv"
OUTPUTS = {EXPORT: EXPORT_COLUMNS, NO_ADDRESS: NO_ADDRESS_COLUMNS, ERRORS: ERROR_COLUMNS}
CALL_CENTER, SUBSTITUTE, MEDIA = "call-center.txt", "substitute-notice.txt", "media-notice.txt"

Heartbeat = Callable[[int], None]
OnProgress = Callable[[int, int], None]  # (roster bytes read, roster bytes in all)


class ExportError(Exception):
    """A round that cannot go on; ``retryable`` says whether trying again can help."""

    retryable = False


class RequestConflict(ExportError):
    """The round was started (or finished) with a different request."""


class RoundBusy(ExportError):
    retryable = True


_gc_lock = threading.Lock()
_gc_pausers = 0
_gc_was_enabled = False


@contextlib.contextmanager
def gc_paused():
    """Automatic cyclic garbage collection off while a round runs (restored after).

    Why: a batch allocates tens of thousands of short-lived objects that hold no reference
    cycles, and with automatic collection on, the collector repeatedly walks them and
    every long-lived object of the worker: measured, it doubled the export's CPU time.
    Nested and concurrent rounds restore the setting only when the last one ends.
    """
    global _gc_pausers, _gc_was_enabled
    with _gc_lock:
        if _gc_pausers == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pausers += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pausers -= 1
            if _gc_pausers == 0 and _gc_was_enabled:
                gc.enable()


def request_digest(req: NotifyRequest) -> str:
    """What makes two requests the same round (the checkpoint interval does not)."""
    body = req.model_dump(mode="json", exclude={"checkpoint_every"})
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


class _Outputs:
    """The three growing CSV files of a round, appended in batches; byte offsets are exact."""

    def __init__(self, layout: RoundLayout) -> None:
        self.layout = layout
        self.files: dict[str, io.BufferedWriter] = {}
        self._synced: dict[str, int] = {}

    def create(self) -> dict[str, int]:
        self.layout.out.mkdir(parents=True, exist_ok=True)
        offsets = {}
        for name, columns in OUTPUTS.items():
            fh = open(self.layout.partial(name), "wb")
            buf = io.StringIO()
            csv.writer(buf).writerow(columns)
            fh.write(buf.getvalue().encode())
            self.files[name] = fh
            offsets[name] = fh.tell()
        self.sync()
        fsync_dir(self.layout.out)
        return offsets

    def reopen(self, offsets: dict[str, int]) -> None:
        """Cut each file back to its last checkpoint and append from there."""
        for name in OUTPUTS:
            path = self.layout.partial(name)
            if not path.is_file():
                raise ExportError(f"{path} is missing: the round's output was removed while it was in progress")
            size = path.stat().st_size
            if size < offsets[name]:
                raise ExportError(f"{path} is shorter ({size} bytes) than its last checkpoint ({offsets[name]} bytes): it was damaged")
            fh = open(path, "r+b")
            fh.truncate(offsets[name])
            fh.seek(offsets[name])
            os.fsync(fh.fileno())
            self.files[name] = fh
            self._synced[name] = offsets[name]

    def write(self, name: str, rows: list) -> None:
        if rows:
            buf = io.StringIO()
            csv.writer(buf).writerows(rows)
            self.files[name].write(buf.getvalue().encode())

    def write_lines(self, name: str, lines: list[str]) -> None:
        """Lines already in CSV form (see ``batch.csv_line``)."""
        if lines:
            self.files[name].write("".join(lines).encode())

    def sync(self) -> dict[str, int]:
        """Flush and fsync what was written since the last sync; the byte offsets now durable."""
        offsets = {}
        for name, fh in self.files.items():
            fh.flush()
            offsets[name] = fh.tell()
            if offsets[name] != self._synced.get(name):
                os.fsync(fh.fileno())
                self._synced[name] = offsets[name]
        return offsets

    def close(self) -> None:
        for fh in self.files.values():
            fh.close()
        self.files = {}


class _Interval:
    """What one checkpoint will write and count: the chosen rows of the batches since the last one."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.rows = 0
        self.export: list[str] = []
        self.unreachable: list[tuple] = []
        self.errors: list[tuple] = []
        self.counted: Counter = Counter()  # combo id -> persons

    def add(self, prep: Prepared, chosen: list[int], digests: list[bytes]) -> None:
        """The chosen persons' rows, each with its recipient key (the digest's hex) put in front."""
        self.rows += prep.size
        keys = map(bytes.hex, map(digests.__getitem__, chosen))
        self.export.extend([f"{key},{line}" for key, line in zip(keys, map(prep.lines.__getitem__, chosen)) if line])
        if prep.unreachable:
            wanted = set(chosen)
            self.unreachable.extend((digests[at].hex(), *row) for at, row in prep.unreachable.items() if at in wanted)
        self.errors.extend(prep.errors)


class _Tally:
    """Counts of one round, kept as one counter over a compact combination of attributes
    (bounded by variants x languages x states, not by people) so each person costs one
    increment and the whole tally fits in the progress row."""

    def __init__(self, saved: dict | None = None) -> None:
        saved = saved or {}
        self.rows_read = saved.get("rows_read", 0)
        self.errors = saved.get("errors", 0)
        self.duplicates = saved.get("duplicates", 0)
        self.not_in_previous = saved.get("not_in_previous", 0)
        self.combos: Counter = Counter({tuple(k): v for k, v in saved.get("combos", [])})

    def dump(self) -> dict:
        return {
            "rows_read": self.rows_read,
            "errors": self.errors,
            "duplicates": self.duplicates,
            "not_in_previous": self.not_in_previous,
            "combos": sorted([list(k), v] for k, v in self.combos.items()),
        }

    def counts(self, follow_up: bool) -> NotifyCounts:
        by_variant, by_language, by_method, by_state, untranslated = Counter(), Counter(), Counter(), Counter(), Counter()
        large = no_address = unreachable = exported = recipients = 0
        for (variant, language, requested_untranslated, large_print, method, state, has_no_address), n in self.combos.items():
            recipients += n
            by_variant[variant] += n
            by_language[language] += n
            by_state[state] += n
            if requested_untranslated:
                untranslated[requested_untranslated] += n
            if large_print:
                large += n
            if method:
                by_method[method] += n
                exported += n
            else:
                unreachable += n
            if has_no_address:
                no_address += n
        return NotifyCounts(
            rows_read=self.rows_read, recipients=recipients, exported=exported, duplicates_merged=self.duplicates,
            errors=self.errors, no_address=no_address, unreachable=unreachable, large_print=large,
            by_variant=dict(sorted(by_variant.items())), by_language=dict(sorted(by_language.items())),
            by_method=dict(sorted(by_method.items())), by_state=dict(sorted(by_state.items())),
            untranslated_languages=dict(sorted(untranslated.items())),
            not_in_previous_round=self.not_in_previous if follow_up else None,
        )


def substitute_notice_decision(unreachable: int) -> tuple[bool, str, str]:
    """(required, reason, action) under 45 CFR 164.404(d)(2) and Attachment C."""
    if unreachable >= SUBSTITUTE_NOTICE_THRESHOLD:
        return True, (
            f"{unreachable} people cannot be reached by mail or approved e-mail ({SUBSTITUTE_NOTICE_THRESHOLD} or more): "
            f"substitute notice is required: a conspicuous web posting or major print and broadcast media, with a toll-free "
            f"number kept for at least {SUBSTITUTE_NOTICE_DAYS} days (45 CFR 164.404(d)(2))"
        ), "substitute_notice"
    if unreachable:
        return False, (
            f"{unreachable} people cannot be reached by mail (fewer than {SUBSTITUTE_NOTICE_THRESHOLD}): reach each by another "
            f"written notice, telephone or other means (listed in {NO_ADDRESS})"
        ), "alternative_contact"
    return False, "every recipient has a usable postal address or an approved e-mail address", "none"


class Exporter:
    """Runs notification rounds. ``base_dir`` confines roster URIs and output folders;
    ``work_root`` holds the private work state (seen persons, progress, the person key)."""

    def __init__(self, letters: Letters, base_dir: Path, work_root: Path, *, fast: bool = True,
                 pipeline_min_bytes: int = PIPELINE_MIN_BYTES) -> None:
        self.letters = letters
        self.fast = fast  # False: every row through the per-row path (tests compare the two)
        self.pipeline_min_bytes = pipeline_min_bytes  # rosters from this size are prepared by a reader process
        self.base_dir = Path(base_dir).resolve()
        self.work_root = Path(work_root)

    def layout(self, breach_id: str, round_: int, out_folder: str) -> RoundLayout:
        return RoundLayout.of(self.work_root, confined(self.base_dir, out_folder, "output folder"), breach_id, round_)

    def run(self, req: NotifyRequest, heartbeat: Heartbeat | None = None, on_progress: OnProgress | None = None) -> NotifyResult:
        roster = resolve(req.roster_uri, self.base_dir)
        layout = self.layout(req.breach_id, req.round, req.out_folder)
        try:
            with RoundLock(layout.lock):
                return self._run_locked(req, roster, layout, heartbeat or (lambda _c: None), on_progress)
        except Busy as exc:
            raise RoundBusy(f"round {req.round} of breach {req.breach_id}: {exc}") from None

    # ------------------------------------------------------------------ the round

    def _run_locked(self, req: NotifyRequest, roster: Path, layout: RoundLayout, heartbeat: Heartbeat, on_progress: OnProgress | None) -> NotifyResult:
        db = WorkDB(layout.db)
        try:
            digest = request_digest(req)
            recorded = db.get("request_sha256")
            if recorded is not None and recorded != digest:
                progress = db.progress()
                if db.get("status") == "done" or (progress is not None and progress.cursor > 0):
                    raise RequestConflict(
                        f"round {req.round} of breach {req.breach_id} was {'finished' if db.get('status') == 'done' else 'started'} "
                        f"with a different request (roster, facts, languages, e-mail approval or output folder); "
                        f"a changed notification is a new round"
                    )
                # Started, but nothing was exported yet (e.g. it stopped at a bad roster): start over.
                db.close()
                self._discard(layout)
                db = WorkDB(layout.db)
                recorded = None
            if db.get("status") == "done":
                return self._stored(db)
            sha = sha256_file(roster)
            if req.roster_sha256 and sha != req.roster_sha256:
                raise RosterError(f"roster {roster.name} has sha256 {sha}, not the expected {req.roster_sha256}")
            if (was := db.get("roster_sha256")) is not None and was != sha:
                raise RosterError(f"roster {roster.name} changed since round {req.round} started (sha256 {sha}, recorded {was})")
            RosterReader(roster).close()  # the header is checked before anything is recorded
            previous = self._previous_round(req) if req.round > 1 else None
            secret = load_or_create_secret(layout.secret)
            if recorded is None:
                db.put(request_sha256=digest, roster_sha256=sha, roster_path=str(roster), started_at=_now(), status="running")
            try:
                if db.get("phase") != "complete":
                    self._export(req, roster, sha, layout, db, secret, previous, heartbeat, on_progress)
                else:
                    self.letters.check(req.facts, req.languages, [req.round])  # (in _export, beside the reader's start)
                return self._finish(req, roster, sha, layout, db)
            finally:
                if previous is not None:
                    previous.close()
        finally:
            db.close()

    @staticmethod
    def _discard(layout: RoundLayout) -> None:
        """Forget a round that never got past its first checkpoint (its state and partial files)."""
        for path in layout.work.glob("work.sqlite*"):
            path.unlink()
        for name in OUTPUTS:
            layout.partial(name).unlink(missing_ok=True)

    def _previous_round(self, req: NotifyRequest) -> WorkDB:
        earlier = RoundLayout.of(self.work_root, Path("."), req.breach_id, req.round - 1)
        if not earlier.db.is_file():
            raise ExportError(f"round {req.round} is a follow-up to round {req.round - 1}, which was never run for breach {req.breach_id}")
        prev = WorkDB(earlier.db, readonly=True)
        if prev.get("status") != "done":
            prev.close()
            raise ExportError(f"round {req.round - 1} of breach {req.breach_id} is not finished; finish it before its follow-up")
        return prev

    def _export(self, req, roster: Path, sha: str, layout: RoundLayout, db: WorkDB, secret: bytes, previous: WorkDB | None,
                heartbeat: Heartbeat, on_progress: OnProgress | None) -> None:
        outputs = _Outputs(layout)
        progress = db.progress()
        if progress is None:
            progress = Progress(offsets=outputs.create())
            progress.counts = _Tally().dump()
            with db.transaction():
                db.write_progress(progress)
        else:
            outputs.reopen(progress.offsets)
        resumed_from = progress.cursor
        progress.attempts += 1
        with db.transaction():
            db.write_progress(progress)
        log.info("notify round started" if not resumed_from else "notify round resumed", breach_id=req.breach_id, round=req.round,
                 from_row=resumed_from, attempt=progress.attempts)
        if resumed_from:
            db.put(resumed_from=str(resumed_from))
        tally = _Tally(progress.counts)
        total_bytes = roster.stat().st_size
        prev_keys = KeyMaker(secret, req.breach_id, req.round - 1) if previous is not None else None
        every = req.checkpoint_every
        keys = KeyMaker(secret, req.breach_id, req.round)
        plan = ReadPlan(roster, progress.cursor, min(every, SUB_BATCH), req.round, req.letter_kind.value,
                        frozenset(self.letters.translated(req.languages, req.facts)), req.email_allowed, self.fast)
        # Rows are read and prepared in small batches (their working set stays in the CPU's caches;
        # a large roster is prepared by a reader process on another core); a checkpoint covers ``every`` rows.
        pipeline = total_bytes >= self.pipeline_min_bytes
        combos: dict[int, tuple] = {}
        try:
            with gc_paused(), contextlib.ExitStack() as stack:
                steps = stack.enter_context(ReaderProcess(plan)) if pipeline else in_process(plan)
                # The templates are checked again before the first row, while the reader process starts
                # (it reads ahead into a pipe; nothing is written until the check has passed).
                self.letters.check(req.facts, req.languages, [req.round])
                interval = _Interval()
                for step in steps:
                    prep = step.prep
                    if not interval.rows:
                        db.begin()
                    combos.update(prep.new_combos)
                    digests = keys.digests(prep.materials)
                    # The first row of each person in this batch (the dict keeps the earliest position).
                    firsts = dict(zip(reversed(digests), range(len(digests) - 1, -1, -1)))
                    keep = sorted(firsts.values())
                    new = db.claim(list(firsts))
                    chosen = list(compress(keep, map(new.__contains__, map(digests.__getitem__, keep))))
                    tally.duplicates += len(digests) - len(chosen)
                    interval.counted.update(map(prep.combos.__getitem__, chosen))
                    if previous is not None and chosen:
                        earlier = prev_keys.digests([prep.materials[i] for i in chosen])
                        tally.not_in_previous += len(earlier) - len(previous.seen_any(earlier))
                    tally.rows_read += prep.size - prep.blank
                    tally.errors += len(prep.errors)
                    interval.add(prep, chosen, digests)
                    if interval.rows >= every:
                        self._checkpoint(db, outputs, interval, progress, tally, combos, step.records, heartbeat)
                        if on_progress:
                            on_progress(step.bytes_read, total_bytes)
                if interval.rows:
                    self._checkpoint(db, outputs, interval, progress, tally, combos, step.records, heartbeat)
        except BaseException:
            db.rollback()
            raise
        finally:
            outputs.close()
        db.maybe_merge(force=True)
        db.put(phase="complete", completed_at=_now())

    @staticmethod
    def _checkpoint(db: WorkDB, outputs: _Outputs, interval: _Interval, progress: Progress, tally: _Tally,
                    combos: dict[int, tuple], cursor: int, heartbeat: Heartbeat) -> None:
        """Files flushed and fsynced; then persons seen and progress in one commit; then the heartbeat."""
        for ident, n in interval.counted.items():
            tally.combos[combos[ident]] += n
        outputs.write_lines(EXPORT, interval.export)
        outputs.write(NO_ADDRESS, interval.unreachable)
        outputs.write(ERRORS, interval.errors)
        progress.offsets = outputs.sync()
        progress.cursor = cursor
        progress.counts = tally.dump()
        progress.checkpoints += 1
        db.write_progress(progress)
        db.commit()
        interval.clear()
        heartbeat(cursor)
        db.maybe_merge()

    # ------------------------------------------------------------------ finishing

    def _finish(self, req: NotifyRequest, roster: Path, sha: str, layout: RoundLayout, db: WorkDB) -> NotifyResult:
        for name in OUTPUTS:
            partial, final = layout.partial(name), layout.final(name)
            if partial.is_file():
                os.replace(partial, final)
            elif not final.is_file():
                raise ExportError(f"{final} is missing: the round's output was removed before it was finished")
        fsync_dir(layout.out)
        progress = db.progress()
        assert progress is not None
        counts = _Tally(progress.counts).counts(req.round > 1)
        export = file_ref(layout.final(EXPORT), rows=counts.exported)
        no_address = file_ref(layout.final(NO_ADDRESS), rows=counts.unreachable)
        errors = file_ref(layout.final(ERRORS), rows=counts.errors)
        required, reason, action = substitute_notice_decision(counts.unreachable)
        media_states = sorted(s for s, n in counts.by_state.items() if n > MEDIA_NOTICE_THRESHOLD and s != UNKNOWN_STATE)
        translated = self.letters.translated(req.languages, req.facts)
        facts = req.facts
        common = {"breach_id": req.breach_id, "round": req.round, "follow_up": req.round > 1, "days": SUBSTITUTE_NOTICE_DAYS}
        call_center = write_atomic(layout.final(CALL_CENTER), self.letters.render_document(
            "call-center", facts, BASE_LANGUAGE, counts=counts, substitute_notice=required, **common).encode())
        substitute = None
        if required:
            states = sorted({s for (_, _, _, _, m, s, _), n in _Tally(progress.counts).combos.items() if not m and s != UNKNOWN_STATE})
            parts = [self.letters.render_document("substitute-notice", facts, code, states=states, threshold=SUBSTITUTE_NOTICE_THRESHOLD, **common)
                     for code in translated if self.letters.has_document("substitute-notice", code)]
            substitute = write_atomic(layout.final(SUBSTITUTE), ("\n" + "=" * 72 + "\n\n").join(parts).encode())
        media = None
        if media_states:
            rows = [{"state": s, "residents": counts.by_state[s]} for s in media_states]
            media = write_atomic(layout.final(MEDIA), self.letters.render_document(
                "media-notice", facts, BASE_LANGUAGE, states=rows, threshold=MEDIA_NOTICE_THRESHOLD, **common).encode())
        write_json(layout.request, req.model_dump(mode="json"))
        manifest_doc = {
            "schema_version": 1,
            "breach_id": req.breach_id,
            "round": req.round,
            "letter": req.letter_kind.value,
            "roster": {"uri": req.roster_uri, "path": str(roster), "sha256": sha, "rows": counts.rows_read},
            "work_dir": str(layout.work.resolve()),
            "templates_sha256": self.letters.sha256,
            "facts_sha256": hashlib.sha256(req.facts.model_dump_json().encode()).hexdigest(),
            "languages_approved": req.languages,
            "languages_translated": translated,
            "email_allowed": req.email_allowed,
            "counts": counts.model_dump(mode="json"),
            "substitute_notice": {"required": required, "reason": reason, "no_address_action": action,
                                  "threshold": SUBSTITUTE_NOTICE_THRESHOLD, "toll_free_days": SUBSTITUTE_NOTICE_DAYS,
                                  "toll_free": facts.contact.toll_free},
            "media_notice": {"threshold": MEDIA_NOTICE_THRESHOLD, "states": {s: counts.by_state[s] for s in media_states}},
            "files": {
                "export": export.model_dump(), "no_address_list": no_address.model_dump(), "error_report": errors.model_dump(),
                "call_center_sheet": call_center.model_dump(),
                **({"substitute_notice": substitute.model_dump()} if substitute else {}),
                **({"media_notice": media.model_dump()} if media else {}),
            },
            "resumed_from_row": int(db.get("resumed_from") or 0),
            "attempts": progress.attempts,
            "started_at": db.get("started_at"),
            "completed_at": db.get("completed_at"),
            "notes": {
                "row": "error report rows count data rows from 1, after the header",
                "no_address_list": "people with neither a usable postal address nor an approved e-mail address",
            },
        }
        manifest = write_json(layout.manifest, manifest_doc)
        result = NotifyResult(
            breach_id=req.breach_id, round=req.round, letter=req.letter_kind, roster_sha256=sha, counts=counts,
            substitute_notice_required=required, substitute_notice_reason=reason, media_notice_states=media_states,
            export=export, manifest=manifest, no_address_list=no_address, error_report=errors, call_center_sheet=call_center,
            substitute_notice=substitute, media_notice=media, resumed_from_row=int(db.get("resumed_from") or 0),
        )
        db.put(status="done", result=result.model_dump_json())
        db.finish()
        log.info("notify round finished", breach_id=req.breach_id, round=req.round, recipients=counts.recipients,
                 exported=counts.exported, duplicates=counts.duplicates_merged, errors=counts.errors, unreachable=counts.unreachable,
                 substitute_notice=required)
        return result

    def _stored(self, db: WorkDB) -> NotifyResult:
        result = NotifyResult.model_validate_json(db.get("result") or "{}")
        for ref in (result.export, result.manifest, result.no_address_list, result.error_report):
            problem = verify(ref)
            if problem:
                raise ExportError(f"round {result.round} of breach {result.breach_id} is finished, but {problem}")
        return result.model_copy(update={"already_done": True})

    def status(self, breach_id: str, round_: int) -> Progress | None:
        """The progress row of a round (read-only), for operators and tests."""
        return read_progress(RoundLayout.of(self.work_root, Path("."), breach_id, round_).db)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


__all__ = ["EXPORT_COLUMNS", "ERROR_COLUMNS", "NO_ADDRESS_COLUMNS", "Exporter", "ExportError", "FileRef", "LetterKind", "RequestConflict", "RoundBusy", "request_digest"]

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
recorded offset and carries on from the recorded cursor (``round_files``). When the
roster is done the round is closed (``closing``: final names, notices, manifest) and its
result stored: a re-run returns it without redoing work.

Fast and flat (bench/notify.py measures both). Rows are streamed with the csv module
and prepared column-wise in small batches (``batch``), for a large roster by a reader
process on another core (``reader``); letters are not rendered here (the export carries
variants and address blocks; full letters are rendered on demand and for previews).
Memory does not grow with the roster: the persons seen live in SQLite behind small page
caches, with a fixed-size Bloom filter in front (``workdb``).

Safe outputs. The roster is read only from the rosters folder (``roster.resolve``). The
letter facts lose their control and bidirectional characters before the round uses them
(``activities.safe_text.clean_model``: the request recorded, the notices and later letters
all state the cleaned text); a round that removed any says how many in the first line of
its error report, as each cleaned roster row does in its own line.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from itertools import compress
from pathlib import Path

import structlog

from activities.notify.batch import SUB_BATCH, Prepared
from activities.notify.closing import close_round
from activities.notify.files import Busy, RoundLayout, RoundLock, confined, verify
from activities.notify.letter_check import check_templates
from activities.notify.letters import Letters
from activities.notify.person_key import KeyMaker, load_or_create_secret
from activities.notify.reader import PIPELINE_MIN_BYTES, ReaderProcess, ReadPlan, in_process
from activities.notify.round_errors import ExportError, RequestConflict, RoundBusy
from activities.notify.round_files import ERRORS, EXPORT, NO_ADDRESS, RoundFiles
from activities.notify.roster import RosterError, RosterReader, resolve, rosters_folder, sha256_file
from activities.notify.tally import Tally
from activities.notify.workdb import Progress, WorkDB, read_progress
from activities.safe_text import clean_model, removal_note
from models.notification import NotifyRequest, NotifyResult

log = structlog.get_logger("breach.notify")

Heartbeat = Callable[[int], None]
OnProgress = Callable[[int, int], None]  # (roster bytes read, roster bytes in all)


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


class Exporter:
    """Runs notification rounds. ``base_dir`` holds the rosters folder (``<base_dir>/rosters``,
    where roster URIs resolve) and confines output folders; ``work_root`` holds the private
    work state (seen persons, progress, the person key)."""

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
        roster = resolve(req.roster_uri, rosters_folder(self.base_dir))
        layout = self.layout(req.breach_id, req.round, req.out_folder)
        facts, removed = clean_model(req.facts)
        if removed:
            req = req.model_copy(update={"facts": facts})
        try:
            with RoundLock(layout.lock):
                return self._run_locked(req, roster, layout, heartbeat or (lambda _c: None), on_progress, removed)
        except Busy as exc:
            raise RoundBusy(f"round {req.round} of breach {req.breach_id}: {exc}") from None

    # ------------------------------------------------------------------ the round

    def _run_locked(self, req: NotifyRequest, roster: Path, layout: RoundLayout, heartbeat: Heartbeat, on_progress: OnProgress | None,
                    facts_removed: int) -> NotifyResult:
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
                    self._export(req, roster, sha, layout, db, secret, previous, heartbeat, on_progress, facts_removed)
                else:
                    check_templates(self.letters, req.facts, req.languages, [req.round])  # (in _export, beside the reader's start)
                return close_round(self.letters, req, roster, sha, layout, db)
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
        RoundFiles.discard(layout)

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
                heartbeat: Heartbeat, on_progress: OnProgress | None, facts_removed: int) -> None:
        outputs = RoundFiles(layout)
        progress = db.progress()
        if progress is None:
            outputs.create()
            fresh = Tally()
            if facts_removed:
                outputs.write(ERRORS, [("", "", f"letter facts: {removal_note(facts_removed)}")])
                fresh.cleaned, fresh.removed = 1, facts_removed
            progress = Progress(offsets=outputs.sync())
            progress.counts = fresh.dump()
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
        tally = Tally(progress.counts)
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
                check_templates(self.letters, req.facts, req.languages, [req.round])
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
                    tally.errors += len(prep.errors) - prep.cleaned
                    tally.cleaned += prep.cleaned
                    tally.removed += prep.removed
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
    def _checkpoint(db: WorkDB, outputs: RoundFiles, interval: _Interval, progress: Progress, tally: Tally,
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

    # ------------------------------------------------------------------ a finished round

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

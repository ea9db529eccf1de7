"""The work database of one notification round: who has been seen, and how far the round got.

Why SQLite on disk: a round can cover millions of people. Remembering who already has a
letter in a Python set would grow with the roster; the persons seen live on disk behind
small, fixed page caches, and what stays in memory has a fixed size.

Why it is authoritative for resume: every checkpoint commits, in ONE transaction, the
persons first seen since the last checkpoint (``seen_log``) *and* the progress row
(roster cursor, byte offsets of the output files, counts so far), after the output files
were flushed and fsynced. A crash either loses the whole checkpoint or none of it; on
restart the output files are cut back to the recorded offsets and reading resumes at the
cursor.

How a lookup stays cheap (measured: one B-tree probe and one index insert per person
cost more than reading the roster):

* ``seen_log`` (work database): each batch appends its new persons as one blob of 16-byte
  keys: a few sequential pages, not one random page per person;
* runs (``<work>.runs`` database): every ``run_size`` persons the log is copied, in one
  statement, into a new *run* (primary key (run, key): it grows at its end), together
  with the log position it covers; eight runs of a size are merged into one (size-tiered
  compaction), so a lookup probes a few dozen runs at most. A background thread does
  this while the export goes on (SQLite releases the GIL); the log rows a run covers are
  dropped afterwards. The runs are an index: they are rebuilt from the log if behind it;
* a Bloom filter (a fixed ``bytearray`` of 32 MiB, three probes per person, rebuilt from
  the tables when a round starts or resumes) answers "certainly new" for almost every
  person without SQLite; only the "maybe seen" (duplicates, and about one false alarm in
  a thousand at a million people) are looked up: in the pending sets (the log's persons:
  at most two runs' worth) and with one indexed query per batch over the runs.

A person is the whole 128-bit keyed digest (stored as 16 bytes; its hex form is the
recipient key), so two different people are never merged by a shortened key.
"""

from __future__ import annotations

import json
import sqlite3
import struct
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import compress, repeat
from operator import itemgetter, rshift
from pathlib import Path

CACHE_KIB = 4096  # each connection's page cache: small and fixed, whatever the roster size
RUN_SIZE = 50_000
BLOOM_BITS = 25  # 2**25 one-byte slots = 32 MiB, whatever the roster size
KEY_BYTES = 16
_CHUNK = 400  # keys per IN (...) list
_FAN_IN = 8  # runs merged into one by a compaction

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS progress (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    cursor INTEGER NOT NULL,
    offsets TEXT NOT NULL,
    counts TEXT NOT NULL,
    checkpoints INTEGER NOT NULL,
    attempts INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS seen_log (seq INTEGER PRIMARY KEY, keys BLOB NOT NULL);  -- the 16-byte keys of a batch, concatenated
"""
_RUNS_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (run INTEGER NOT NULL, key BLOB NOT NULL, PRIMARY KEY (run, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS covered (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL);  -- log rows up to seq are in runs
CREATE TABLE IF NOT EXISTS run_list (run INTEGER PRIMARY KEY, keys INTEGER NOT NULL);  -- the live runs and their sizes
"""


@dataclass
class Progress:
    cursor: int = 0  # roster rows fully processed
    offsets: dict[str, int] = field(default_factory=dict)  # output file -> bytes written
    counts: dict = field(default_factory=dict)
    checkpoints: int = 0
    attempts: int = 0


_SLOTS = struct.Struct(">III").unpack_from  # three 32-bit words of the digest -> three probes


def _probes(digests: list[bytes]) -> list[list[int]]:
    """The three Bloom slots of each digest, column-wise (C-level maps, no Python frame per key)."""
    return [list(map(rshift, column, repeat(32 - BLOOM_BITS))) for column in zip(*map(_SLOTS, digests))]


def _split(blob: bytes) -> list[bytes]:
    return [blob[at:at + KEY_BYTES] for at in range(0, len(blob), KEY_BYTES)]


def _connect(path: Path, readonly: bool, cache_kib: int, temp_in_memory: bool = True) -> sqlite3.Connection:
    if readonly:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
    else:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA busy_timeout = 10000")
    if not readonly:
        db.execute("PRAGMA journal_mode = WAL")
        # NORMAL in WAL mode: a commit survives a process crash (kill -9); a power loss can
        # lose the last checkpoints but never corrupts the database, and the output files
        # were fsynced before each commit, so they are never behind it.
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA wal_autocheckpoint = 10000")
    db.execute(f"PRAGMA cache_size = -{int(cache_kib)}")
    # Sorts beyond the page cache spill to a temporary file, not to memory (run builds and
    # compactions sort hundreds of thousands of keys).
    db.execute(f"PRAGMA temp_store = {'MEMORY' if temp_in_memory else 'FILE'}")
    return db


def read_progress(path: Path) -> Progress | None:
    """The progress row of a work database, read-only and without loading anything else."""
    if not Path(path).is_file():
        return None
    db = _connect(Path(path), True, 256)
    try:
        row = db.execute("SELECT cursor, offsets, counts, checkpoints, attempts FROM progress WHERE id = 1").fetchone()
    except sqlite3.OperationalError:  # not created yet
        return None
    finally:
        db.close()
    return None if row is None else Progress(row[0], json.loads(row[1]), json.loads(row[2]), row[3], row[4])


class WorkDB:
    def __init__(self, path: Path, *, cache_kib: int = CACHE_KIB, run_size: int = RUN_SIZE, readonly: bool = False) -> None:
        self.path = Path(path)
        self._run_size = run_size
        self._readonly = readonly
        runs_path = self.path.with_name(self.path.name + ".runs")
        if not readonly:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = _connect(self.path, readonly, cache_kib)
        if not readonly:
            self.db.executescript(_SCHEMA)
            writer = _connect(runs_path, False, cache_kib, temp_in_memory=False)
            writer.executescript(_RUNS_SCHEMA)
            self._writer: sqlite3.Connection | None = writer
        else:
            self._writer = None
        self._runs_db = _connect(runs_path, True, cache_kib) if runs_path.exists() else None
        covered = self._covered()
        # The log's persons not yet in a run: at most run_size, plus one run being built.
        self._pending: set[bytes] = set()
        self._sealed: set[bytes] = set()
        for (keys,) in self.db.execute("SELECT keys FROM seen_log WHERE seq > ? ORDER BY seq", (covered,)):
            self._pending.update(_split(keys))
        self._next_run = self._last_run() + 1
        self._bloom: bytearray | None = None
        self._builder: ThreadPoolExecutor | None = None
        self._building: Future | None = None

    def _covered(self) -> int:
        if self._runs_db is None:
            return 0
        row = self._runs_db.execute("SELECT seq FROM covered WHERE id = 1").fetchone()
        return row[0] if row else 0

    def _last_run(self) -> int:
        if self._runs_db is None:
            return 0
        return self._runs_db.execute("SELECT coalesce(max(run), 0) FROM runs").fetchone()[0]

    # ------------------------------------------------------------------ meta

    def get(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def put(self, **values: str) -> None:
        """Set meta values in their own transaction."""
        with self.transaction():
            self.db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", list(values.items()))

    def transaction(self) -> _Transaction:
        return _Transaction(self.db)

    def begin(self) -> None:
        """Open a checkpoint's transaction (``commit`` or ``rollback`` ends it)."""
        self.db.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.db.execute("COMMIT")

    def rollback(self) -> None:
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")

    # ------------------------------------------------------------------ progress

    def progress(self) -> Progress | None:
        row = self.db.execute("SELECT cursor, offsets, counts, checkpoints, attempts FROM progress WHERE id = 1").fetchone()
        if row is None:
            return None
        return Progress(row[0], json.loads(row[1]), json.loads(row[2]), row[3], row[4])

    def write_progress(self, p: Progress) -> None:
        """Inside the caller's transaction."""
        self.db.execute(
            "INSERT OR REPLACE INTO progress (id, cursor, offsets, counts, checkpoints, attempts) VALUES (1, ?, ?, ?, ?, ?)",
            (p.cursor, json.dumps(p.offsets, sort_keys=True), json.dumps(p.counts, sort_keys=True), p.checkpoints, p.attempts),
        )

    # ------------------------------------------------------------------ seen persons

    def _load_bloom(self) -> bytearray:
        """Every person already recorded, into a fresh filter (on first use: a new round or a resume)."""
        self._bloom = bytearray(1 << BLOOM_BITS)
        self._mark(list(self._pending))
        if self._runs_db is not None:
            cursor = self._runs_db.execute("SELECT key FROM runs")
            while rows := cursor.fetchmany(50_000):
                self._mark([key for (key,) in rows])
        return self._bloom

    def _mark(self, digests: list[bytes], slots: list[list[int]] | None = None) -> None:
        if digests and self._bloom is not None:
            put = self._bloom.__setitem__
            for column in slots or _probes(digests):
                deque(map(put, column, repeat(1)), maxlen=0)

    def _recorded(self, keys: list[bytes]) -> set[bytes]:
        """Which of ``keys`` are in a committed run."""
        if self._runs_db is None or not keys:
            return set()
        found: set[bytes] = set()
        for at in range(0, len(keys), _CHUNK):
            part = keys[at:at + _CHUNK]
            marks = ",".join("?" * len(part))
            # The live runs are read in the same snapshot as their keys, so a compaction that
            # commits meanwhile is seen either entirely or not at all.
            found.update(k for (k,) in self._runs_db.execute(
                f"SELECT key FROM runs WHERE run IN (SELECT run FROM run_list) AND key IN ({marks})", part))
        return found

    def claim(self, digests: list[bytes]) -> set[bytes]:
        """Record the persons of one batch; returns those not seen before.

        Inside the caller's transaction (the checkpoint's); ``digests`` must be distinct. If
        that transaction is rolled back, discard this object (its memory ran ahead).
        """
        if not digests:
            return set()
        n = len(digests)
        bloom = self._bloom if self._bloom is not None else self._load_bloom()
        slots = _probes(digests)
        # 1 where all three slots are set ("maybe seen"), as one big-integer AND over the batch.
        if n > 1:
            a, b, c = (int.from_bytes(bytes(itemgetter(*column)(bloom)), "big") for column in slots)
        else:
            a, b, c = (bloom[column[0]] for column in slots)
        maybe = a & b & c
        new = set(compress(digests, (maybe ^ int.from_bytes(b"\x01" * n, "big")).to_bytes(n, "big")))
        if maybe:
            pending, sealed = self._pending, self._sealed
            candidates = [d for d in compress(digests, maybe.to_bytes(n, "big")) if d not in pending and d not in sealed]
            if candidates:
                recorded = self._recorded(sorted(candidates))
                new.update(d for d in candidates if d not in recorded)  # false alarms of the filter
        if new:
            self.db.execute("INSERT INTO seen_log (keys) VALUES (?)", (b"".join(new),))
            self._pending.update(new)
        self._mark(digests, slots)  # every person of the batch is now "maybe seen"
        return new

    def seen_any(self, digests: list[bytes]) -> set[bytes]:
        """Which of ``digests`` this round has seen (on a finished round: no filter needed)."""
        known = self._pending | self._sealed
        recorded = self._recorded(sorted({d for d in digests if d not in known}))
        return {d for d in digests if d in known or d in recorded}

    def seen_count(self) -> int:
        runs = self._runs_db.execute("SELECT count(*) FROM runs").fetchone()[0] if self._runs_db is not None else 0
        return runs + len(self._pending) + len(self._sealed)

    # ------------------------------------------------------------------ runs

    def maybe_merge(self, force: bool = False) -> bool:
        """Between checkpoints: once the log holds ``run_size`` persons, build a run from it in
        the background (``force``: now, and wait). Returns whether a build was started."""
        self._reap(wait=force or len(self._pending) >= 2 * self._run_size)
        if not self._pending or self._building is not None or (len(self._pending) < self._run_size and not force):
            return False
        (upto,) = self.db.execute("SELECT coalesce(max(seq), 0) FROM seen_log").fetchone()
        run, self._next_run = self._next_run, self._next_run + 1
        self._sealed, self._pending = self._pending, set()
        if self._builder is None:
            self._builder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="notify-runs")
        self._building = self._builder.submit(self._build_run, run, b"".join(self._sealed), upto)
        if force:
            self._reap(wait=True)
        return True

    def _build_run(self, run: int, keys: bytes, upto: int) -> int:
        """(Background thread, own connection.) One statement that slices the keys out of one
        blob and inserts them sorted: SQLite releases the GIL while it runs."""
        writer = self._writer
        assert writer is not None
        writer.execute("BEGIN IMMEDIATE")
        try:
            writer.execute(
                "WITH RECURSIVE i(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM i WHERE n + 1 < ?) "
                "INSERT INTO runs (run, key) SELECT ?, substr(?, n * 16 + 1, 16) FROM i ORDER BY 2",
                (len(keys) // KEY_BYTES, run, keys),
            )
            writer.execute("INSERT INTO run_list (run, keys) VALUES (?, ?)", (run, len(keys) // KEY_BYTES))
            writer.execute("INSERT OR REPLACE INTO covered (id, seq) VALUES (1, ?)", (upto,))
            writer.execute("COMMIT")
        except BaseException:
            writer.execute("ROLLBACK")
            raise
        self._compact(writer)
        return upto

    def _compact(self, writer: sqlite3.Connection) -> None:
        """Size-tiered compaction: eight runs of about the same size become one, so a lookup
        probes a few dozen runs at most whatever the roster size. Each person is rewritten
        once per tier (log8 of the roster size over ``run_size``); the merged run is written
        in key order, at the end of the index."""
        while True:
            tiers: dict[int, list[int]] = {}
            for run, keys in writer.execute("SELECT run, keys FROM run_list ORDER BY run"):
                tiers.setdefault(max(0, (keys // self._run_size).bit_length() - 1) // 3, []).append(run)
            full = next((runs for runs in tiers.values() if len(runs) >= _FAN_IN), None)
            if full is None:
                return
            merged = full[:_FAN_IN]
            (run,) = writer.execute("SELECT max(run) + 1 FROM runs").fetchone()
            marks = ",".join(map(str, merged))
            writer.execute("BEGIN IMMEDIATE")
            try:
                writer.execute(f"INSERT INTO runs (run, key) SELECT ?, key FROM runs WHERE run IN ({marks}) ORDER BY key", (run,))
                writer.execute(f"DELETE FROM runs WHERE run IN ({marks})")
                writer.execute(f"DELETE FROM run_list WHERE run IN ({marks})")
                writer.execute("INSERT INTO run_list (run, keys) SELECT ?, count(*) FROM runs WHERE run = ?", (run, run))
                writer.execute("COMMIT")
            except BaseException:
                writer.execute("ROLLBACK")
                raise
            self._next_run = max(self._next_run, run + 1)

    def _reap(self, wait: bool) -> None:
        """Take in a finished run build: the run becomes searchable, its log rows can go."""
        if self._building is None or (not wait and not self._building.done()):
            return
        building, self._building = self._building, None
        upto = building.result()  # a failed build raises here
        self._sealed = set()
        if not self.db.in_transaction:
            with self.transaction():
                self.db.execute("DELETE FROM seen_log WHERE seq <= ?", (upto,))

    def finish(self) -> None:
        """Every person into the runs, and the WALs folded back (the round is done)."""
        self.maybe_merge(force=True)
        self._reap(wait=True)
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        if self._writer is not None:
            self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        if self._builder is not None:
            self._builder.shutdown(wait=True)
            self._builder = None
        self._bloom = None
        for conn in (self.db, self._writer, self._runs_db):
            if conn is not None:
                conn.close()


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> sqlite3.Connection:
        self._db.execute("BEGIN IMMEDIATE")
        return self._db

    def __exit__(self, exc_type, exc, tb) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")

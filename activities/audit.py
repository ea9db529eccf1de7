"""The register's audit trail as a tamper-evident, append-only hash chain.

Every entry of ``audit_events`` carries a register-wide, gapless sequence number
``seq`` (1, 2, 3, ...), the hash of the entry before it (``prev_hash``; ``GENESIS`` for
entry 1) and its own ``hash``: SHA-256 over the canonical JSON (sorted keys, no spaces,
UTF-8) of ``seq, prev_hash, event_key, breach_id, at`` (RFC 3339, UTC, microseconds),
``kind, actor, role, detail``. Changing any field of an entry, or removing or inserting
one, breaks the chain at that entry. A one-row head table (``audit_head``) records the
last seq and hash and is updated in the same transaction as each append, so removing
the *last* entries is detected too.

Appends are serialised across threads and processes: SQLite takes the write lock at
the start of the transaction (``BEGIN IMMEDIATE``), PostgreSQL a transaction-level
advisory lock, and ``seq`` is unique besides, so two writers can never fork the chain.
An append is idempotent by ``event_key``: a retried activity appends nothing new.

What a plain hash chain cannot detect: someone with write access who recomputes every
hash after the change and the head as well, or who deletes every entry together with the
head. Two defences: each case's entries also form a chain of their own whose head lives
in the case's workflow state (``models/case_chain.py``, checked by
``activities/case_chains.py``), and ``verify`` prints the head's hash, which recorded
elsewhere (the quarterly review, a ticket) and passed later as an anchor detects a rewrite.

Nothing here repairs or re-chains a trail on its own: an audit table without the chain
columns (from before the chain, or with its chain dropped) stops appends and fails
``verify``; chaining it is the explicit, audited ``breach audit migrate-chain`` (``upgrade``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, inspect, select, text
from sqlmodel import Session

from activities.db import upsert
from models.case_chain import GENESIS, canonical_json, rfc3339
from models.records import AUDIT_KIND_LIMIT, AuditEntry
from models.register import AuditEvent, AuditHead

log = logging.getLogger(__name__)

# Key of the PostgreSQL advisory lock that serialises appends (any fixed 64-bit number).
PG_LOCK_KEY = int.from_bytes(hashlib.sha256(b"breach-response:audit_events").digest()[:8], "big", signed=True)
# Column limits (PostgreSQL enforces them, SQLite does not): checked before writing so
# both databases refuse the same entries with the same message.
_LIMITS = {"event_key": 256, "breach_id": 200, "kind": AUDIT_KIND_LIMIT, "actor": 200, "role": 32}
_HEAD_ID = 1

_EVENTS = AuditEvent.__table__
_HEAD = AuditHead.__table__


class AuditChainError(RuntimeError):
    """The chain cannot be extended safely: its head is missing or behind the entries.

    Raised instead of appending onto a damaged trail; the message says what was found.
    """


# ---------------------------------------------------------------------------- hashing


def entry_hash(*, seq: int, prev_hash: str, event_key: str, breach_id: str, at: datetime, kind: str, actor: str, role: str | None, detail: dict[str, Any]) -> str:
    """SHA-256 (hex) over the canonical JSON of one entry and the hash before it."""
    document = {
        "seq": seq,
        "prev_hash": prev_hash,
        "event_key": event_key,
        "breach_id": breach_id,
        "at": rfc3339(at),
        "kind": kind,
        "actor": actor,
        "role": role,
        "detail": detail,
    }
    return hashlib.sha256(canonical_json(document).encode("utf-8")).hexdigest()


def _row_hash(row: Any) -> str:
    return entry_hash(seq=row.seq, prev_hash=row.prev_hash, event_key=row.event_key, breach_id=row.breach_id, at=row.at, kind=row.kind, actor=row.actor, role=row.role, detail=row.detail)


def _normalised(entry: AuditEntry) -> dict[str, Any]:
    """The values exactly as they will read back from the database, so the hash survives the round trip."""
    for name, limit in _LIMITS.items():
        value = getattr(entry, name)
        if value is not None and len(value) > limit:
            raise ValueError(f"audit entry {entry.event_key[:80]!r}: {name} is {len(value)} characters, at most {limit} are stored")
    at = entry.at if entry.at.tzinfo else entry.at.replace(tzinfo=UTC)
    try:
        detail = json.loads(canonical_json(entry.model_dump(mode="json")["detail"]))
    except ValueError as exc:
        raise ValueError(f"audit entry {entry.event_key[:80]!r}: detail is not storable as JSON ({exc})") from None
    return dict(event_key=entry.event_key, breach_id=entry.breach_id, at=at.astimezone(UTC), kind=entry.kind, actor=entry.actor, role=entry.role, detail=detail)


# ---------------------------------------------------------------------------- appending


def _lock(conn: Connection) -> None:
    """Serialise appends until the caller's transaction ends."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        if not conn.connection.dbapi_connection.in_transaction:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        # Otherwise the caller's transaction has begun already; SQLite still lets only
        # one writer commit from the newest snapshot (a stale one fails with "database
        # is locked" and the activity is retried), and the unique seq forbids forks.
    elif dialect == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
    else:
        raise NotImplementedError(f"register database dialect {dialect!r} is not supported (use SQLite or PostgreSQL)")


# Engines whose audit table is known to have the chain columns.
_current: weakref.WeakSet[Engine] = weakref.WeakSet()


def _chain_legacy_rows(conn: Connection) -> int | None:
    """Give an audit table from before the hash chain its columns, and chain its rows in id order.

    Runs inside the caller's locked transaction (DDL is transactional in SQLite and
    PostgreSQL), so a failure leaves the old table as it was. Returns the rows chained,
    or None when the table already had the chain's columns.
    """
    columns = {c["name"] for c in inspect(conn).get_columns(_EVENTS.name)}
    if "seq" in columns:
        return None
    for name, kind in (("seq", "INTEGER"), ("prev_hash", "VARCHAR(64)"), ("hash", "VARCHAR(64)")):
        if name not in columns:
            conn.exec_driver_sql(f"ALTER TABLE {_EVENTS.name} ADD COLUMN {name} {kind}")
    rows = conn.execute(select(_EVENTS.c.id, _EVENTS.c.event_key, _EVENTS.c.breach_id, _EVENTS.c.at, _EVENTS.c.kind, _EVENTS.c.actor, _EVENTS.c.role, _EVENTS.c.detail).order_by(_EVENTS.c.id)).all()
    prev = GENESIS
    for seq, row in enumerate(rows, start=1):
        digest = entry_hash(seq=seq, prev_hash=prev, event_key=row.event_key, breach_id=row.breach_id, at=row.at, kind=row.kind, actor=row.actor, role=row.role, detail=row.detail)
        conn.execute(_EVENTS.update().where(_EVENTS.c.id == row.id).values(seq=seq, prev_hash=prev, hash=digest))
        prev = digest
    conn.exec_driver_sql(f"CREATE UNIQUE INDEX uq_{_EVENTS.name}_seq ON {_EVENTS.name} (seq)")
    if rows:
        conn.execute(_HEAD.delete())
        conn.execute(insert(_HEAD).values(id=_HEAD_ID, last_seq=len(rows), last_hash=prev, updated_at=datetime.now(UTC)))
    log.warning("audit trail: chained %d entries written before the hash chain existed", len(rows))
    return len(rows)


NO_CHAIN = ("the audit table has no chain columns (seq, prev_hash, hash): it was written before the hash chain, or its chain was removed. "
            "Nothing was changed. Investigate; a table from before the chain is chained explicitly with `breach audit migrate-chain`, which is recorded")


def _ensure_chain_columns(conn: Connection) -> None:
    engine = conn.engine
    if engine in _current:
        return
    if not _has_chain(conn):
        raise AuditChainError(f"{NO_CHAIN}. Nothing was appended.")
    _current.add(engine)


def append(session: Session, entry: AuditEntry) -> int:
    """Append ``entry`` to the chain in the session's transaction; returns its seq.

    Call it before other writes of the same transaction (it takes the append lock
    first) and commit the session afterwards; the lock is held until then. An entry
    whose ``event_key`` is already in the trail is not appended again: its seq is
    returned. Raises ``AuditChainError`` when the head is missing or behind the entries
    (the trail was tampered with), ``ValueError`` for an entry that cannot be stored.
    """
    values = _normalised(entry)
    conn = session.connection()
    _lock(conn)
    _ensure_chain_columns(conn)
    existing = conn.execute(select(_EVENTS.c.seq).where(_EVENTS.c.event_key == entry.event_key)).scalar()
    if existing is not None:
        return existing
    head = conn.execute(select(_HEAD.c.last_seq, _HEAD.c.last_hash).where(_HEAD.c.id == _HEAD_ID)).first()
    last = conn.execute(select(func.max(_EVENTS.c.seq))).scalar()
    if head is None:
        if last is not None:
            raise AuditChainError(
                f"the audit head record is missing while the trail holds entries up to seq {last}: the register was tampered with. "
                "Nothing was appended. Run `breach audit verify`, investigate, and restore the audit_head row from a backup."
            )
        seq, prev = 1, GENESIS
    else:
        if last is not None and last > head.last_seq:
            raise AuditChainError(
                f"the audit trail holds entries up to seq {last} but its head records {head.last_seq}: entries were added outside the chain. "
                "Nothing was appended. Run `breach audit verify` and investigate."
            )
        seq, prev = head.last_seq + 1, head.last_hash
    digest = entry_hash(seq=seq, prev_hash=prev, **values)
    conn.execute(insert(_EVENTS).values(seq=seq, prev_hash=prev, hash=digest, **values))
    upsert(session, AuditHead, {"id": _HEAD_ID, "last_seq": seq, "last_hash": digest, "updated_at": datetime.now(UTC)}, ["id"])
    return seq


def upgrade(engine: Engine) -> int:
    """Chain an audit table written before the hash chain existed; returns the entries chained
    (0 if current). Only ``breach audit migrate-chain`` calls it, and records that it did."""
    with Session(engine) as session:
        conn = session.connection()
        _lock(conn)
        chained = _chain_legacy_rows(conn)
        session.commit()
    _current.add(engine)
    return chained or 0


# ---------------------------------------------------------------------------- reading and verifying


@contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """A read-only connection that sees one consistent state of the register (head and entries alike)."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN")  # one WAL snapshot from the first read to the rollback
        elif conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        try:
            yield conn
        finally:
            conn.rollback()


def _has_chain(conn: Connection) -> bool:
    return "seq" in {c["name"] for c in inspect(conn).get_columns(_EVENTS.name)}


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of ``verify``: intact, or the first entry found changed or removed."""

    ok: bool
    entries: int
    head_seq: int | None
    head_hash: str | None
    problem: str | None = None
    seq: int | None = None

    @property
    def message(self) -> str:
        if self.ok:
            return f"audit trail intact: {self.entries} {'entry' if self.entries == 1 else 'entries'}"
        return f"audit trail damaged: {self.problem}"

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "entries": self.entries, "head_seq": self.head_seq, "head_hash": self.head_hash, "problem": self.problem, "seq": self.seq, "message": self.message}


def _name(row: Any) -> str:
    return f"entry {row.seq} ({row.kind}, breach {row.breach_id})"


def _missing(expected: int, found: int) -> str:
    what = f"entry {expected} is" if found == expected + 1 else f"entries {expected}-{found - 1} are"
    if expected == 1:
        return f"{what} missing: the trail starts at entry {found}"
    return f"{what} missing: entry {found} follows entry {expected - 1}"


def verify(engine: Engine, anchors: Iterable[tuple[int, str]] = ()) -> VerifyResult:
    """Recompute the chain from entry 1 and compare with the head; name the first entry changed or removed.

    ``anchors`` are (seq, hash) pairs recorded earlier (from a previous ``verify``): each
    must still be the hash of that entry, which detects a rewrite of the whole chain.
    Reads one consistent snapshot and writes nothing.
    """
    cols = _EVENTS.c
    with snapshot(engine) as conn:
        if not _has_chain(conn):
            return VerifyResult(False, 0, None, None, NO_CHAIN)
        head = conn.execute(select(_HEAD.c.last_seq, _HEAD.c.last_hash).where(_HEAD.c.id == _HEAD_ID)).first()
        head_seq, head_hash = (head.last_seq, head.last_hash) if head else (None, None)

        def broken(problem: str, seq: int | None, entries: int) -> VerifyResult:
            return VerifyResult(False, entries, head_seq, head_hash, problem, seq)

        stray = conn.execute(select(cols.id, cols.kind, cols.breach_id).where(cols.seq.is_(None)).limit(1)).first()
        if stray is not None:
            return broken(f"an entry was inserted outside the chain: row id {stray.id} ({stray.kind}, breach {stray.breach_id}) has no sequence number", None, 0)

        wanted = dict(anchors)
        expected, prev_hash, prev_row, count = 1, GENESIS, None, 0
        rows = conn.execute(select(cols.seq, cols.prev_hash, cols.hash, cols.event_key, cols.breach_id, cols.at, cols.kind, cols.actor, cols.role, cols.detail).order_by(cols.seq).execution_options(yield_per=1000))
        for row in rows:
            if row.seq != expected:
                return broken(_missing(expected, row.seq), expected, count)
            if _row_hash(row) != row.hash:
                return broken(f"{_name(row)} was changed: its hash does not match its contents", row.seq, count)
            if row.prev_hash != prev_hash:
                if prev_row is None:
                    return broken(f"{_name(row)} was changed: it does not start from the genesis value", row.seq, count)
                return broken(f"{_name(prev_row)} was changed: its hash was recomputed, but entry {row.seq} records a different one for it", prev_row.seq, count)
            if row.seq in wanted and wanted[row.seq] != row.hash:
                return broken(f"{_name(row)} does not match the anchor recorded for it: the trail was rewritten from that entry on", row.seq, count)
            prev_hash, prev_row, expected, count = row.hash, row, expected + 1, count + 1

        last = expected - 1
        for seq in sorted(wanted):
            if seq > last:
                return broken(f"entry {seq} is anchored but the trail ends at entry {last}: entries were removed", seq, count)
        if head is None:
            if count:
                return broken(f"the head record is missing: it was removed, so removal of the last entries cannot be ruled out ({count} entries remain)", last, count)
            return VerifyResult(True, 0, None, None)
        if head.last_seq > last:
            removed = head.last_seq - last
            if removed == 1:
                problem = f"the last entry (seq {head.last_seq}) was removed: the head records {head.last_seq} entries, {last} remain"
            else:
                problem = f"the last {removed} entries (seq {last + 1}-{head.last_seq}) were removed: the head records {head.last_seq} entries, {last} remain"
            return broken(problem, last + 1, count)
        if head.last_seq < last:
            extra = conn.execute(select(cols.seq, cols.kind, cols.breach_id).where(cols.seq == head.last_seq + 1)).first()
            return broken(f"{_name(extra)} was added outside the chain: the head records {head.last_seq} entries, {last} exist", extra.seq, count)
        if head.last_hash != prev_hash:
            return broken(f"the last entry, {_name(prev_row)}, was changed: its hash differs from the one the head records", last, count)
        return VerifyResult(True, count, head_seq, head_hash)


def read_log(engine: Engine, breach_id: str | None = None) -> list[dict[str, Any]]:
    """The entries, oldest first (by seq), of one case or of the whole register."""
    cols = _EVENTS.c
    stmt = select(cols.seq, cols.at, cols.breach_id, cols.kind, cols.actor, cols.role, cols.detail, cols.event_key, cols.prev_hash, cols.hash).order_by(cols.seq)
    if breach_id is not None:
        stmt = stmt.where(cols.breach_id == breach_id)
    with snapshot(engine) as conn:
        if not _has_chain(conn):
            raise AuditChainError(NO_CHAIN)
        return [
            {"seq": r.seq, "at": rfc3339(r.at), "breach_id": r.breach_id, "kind": r.kind, "actor": r.actor, "role": r.role, "detail": r.detail, "event_key": r.event_key, "prev_hash": r.prev_hash, "hash": r.hash}
            for r in conn.execute(stmt)
        ]

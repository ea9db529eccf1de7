"""Register database access: engine creation and dialect-aware idempotent upserts.

SQLite (the default) and PostgreSQL both support ``INSERT ... ON CONFLICT``; using it
makes every register write safe to retry.

The register must read the same on both. Differences handled here and in
models/register.py (each found by the tests in tests/register_backends.py's variants):
times are stored in UTC (``UTCDateTime``); counts are 64-bit; text columns never get a
NUL character, which PostgreSQL's text types refuse (``storable``); a PostgreSQL
register created before counts were 64-bit is widened when an engine is made; and
tables are created under a lock, so processes opening a new register at once do not
collide.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from typing import Any

from sqlalchemy import BigInteger, Connection, Engine, event, inspect, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel, create_engine

import models.register  # noqa: F401  (registers the tables on SQLModel.metadata)
from models.case_chain import storable


def make_engine(url: str, *, create_tables: bool = True) -> Engine:
    """An engine for the register, with its tables created (unless ``create_tables`` is False:
    a check that must change nothing, such as ``breach audit verify``)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(conn, _record):  # WAL lets readers (CLI, reports) run beside the worker
            cur = conn.cursor()
            _while_locked(lambda: cur.execute("PRAGMA journal_mode=WAL"))
            cur.execute("PRAGMA synchronous=FULL")
            cur.close()
    else:
        engine = create_engine(url, pool_pre_ping=True)
    if create_tables:
        _create_tables(engine)
    return engine


def _while_locked(statement, seconds: float = 30.0) -> None:
    """Run ``statement`` again while SQLite answers "database is locked".

    Switching a new database to WAL needs it to itself, and SQLite refuses at once, without
    waiting its busy timeout, when another process is opening it at the same moment (seen
    with six processes opening a new register together); so wait here instead."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            statement()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


# Key of the PostgreSQL advisory lock that serialises table creation (any fixed 64-bit number).
_SCHEMA_LOCK_KEY = int.from_bytes(hashlib.sha256(b"breach-response:register-schema").digest()[:8], "big", signed=True)


def _create_tables(engine: Engine) -> None:
    """Create the missing tables, one process at a time.

    ``create_all`` looks for each table, then creates it: two processes opening a new
    register at once (the worker and a command, or `breach up`'s processes) both saw it
    missing and one failed with "table cases already exists" (SQLite) or a unique
    violation in pg_type (PostgreSQL). The look and the creation now happen under the
    database's write lock (SQLite) or an advisory lock (PostgreSQL), in one transaction.
    """
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK_KEY})
        SQLModel.metadata.create_all(conn)
        if conn.dialect.name == "postgresql":
            _widen_counts(conn)
        conn.commit()


def _widen_counts(conn: Connection) -> None:
    """Make the 64-bit count columns BIGINT in a PostgreSQL register created when they were INTEGER."""
    for table in SQLModel.metadata.sorted_tables:
        wanted = [c.name for c in table.columns if isinstance(c.type, BigInteger)]
        if not wanted:
            continue
        found = {c["name"]: c["type"] for c in inspect(conn).get_columns(table.name)}
        for name in wanted:
            if name in found and not isinstance(found[name], BigInteger):
                conn.exec_driver_sql(f'ALTER TABLE "{table.name}" ALTER COLUMN "{name}" TYPE BIGINT')


def _insert(session: Session, table):
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        return sqlite.insert(table)
    if dialect == "postgresql":
        return postgresql.insert(table)
    raise NotImplementedError(f"register database dialect {dialect!r} is not supported (use SQLite or PostgreSQL)")


def upsert(session: Session, model: type[SQLModel], values: dict[str, Any], keys: list[str], update: bool = True) -> None:
    """Insert ``values``; on a key conflict update the non-key columns (or keep the row)."""
    table = model.__table__
    values = {k: storable(v) for k, v in values.items()}
    stmt = _insert(session, table).values(**values)
    if update:
        changes = {k: stmt.excluded[k] for k in values if k not in keys}
        stmt = stmt.on_conflict_do_update(index_elements=keys, set_=changes)
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=keys)
    session.exec(stmt)

"""Register database access: engine creation and dialect-aware idempotent upserts.

SQLite (the default) and PostgreSQL both support ``INSERT ... ON CONFLICT``; using it
makes every register write safe to retry.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel, create_engine

import models.register  # noqa: F401  (registers the tables on SQLModel.metadata)


def make_engine(url: str) -> Engine:
    """An engine for the register, with its tables created."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(conn, _record):  # WAL lets readers (CLI, reports) run beside the worker
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.close()
    else:
        engine = create_engine(url, pool_pre_ping=True)
    SQLModel.metadata.create_all(engine)
    return engine


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
    stmt = _insert(session, table).values(**values)
    if update:
        changes = {k: stmt.excluded[k] for k in values if k not in keys}
        stmt = stmt.on_conflict_do_update(index_elements=keys, set_=changes)
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=keys)
    session.exec(stmt)

"""The audit trail anchored outside its database (issue 14).

An insider with write access to the register passed ``breach audit verify`` by deleting
the events together with the head ("intact: 0 entries"), by deleting the last rows and
fixing the head, and by rewriting the table with every hash recomputed. Each case's
entries now form a chain of their own whose head lives in the case's workflow state
(models/case_chain.py); ``verify`` cross-checks every case with its workflow and finds
each of these, and it changes nothing while it looks.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from activities import audit
from activities.db import make_engine
from models.register import AuditEvent, AuditHead
from tests.support import breach_cli
from tests.workflow_env import Harness, drive, served
from models.case import Stage
from workflows.breach import BreachResponseWorkflow

EVENTS, HEAD = AuditEvent.__table__, AuditHead.__table__


def copy_db(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database (its WAL included), by SQLite's backup API."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def dump(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return list(conn.iterdump())


@pytest.fixture
async def world(tmp_path):
    async with served(tmp_path / "world", skips_time=False) as world:  # its own server: no other test's cases to check
        yield world


async def verify(world) -> tuple[int, str]:
    """`breach audit verify` as an operator runs it, against this world's register and Temporal
    (in a subprocess awaited without blocking: the worker of this process answers its queries)."""
    s = world.settings
    env = {**os.environ, "BREACH_DATABASE_URL": s.register_url, "BREACH_TEMPORAL_ADDRESS": world.client.service_client.config.target_host,
           "BREACH_KEY_FILE": str(s.key_path), "BREACH_DATA_DIR": str(s.data_dir)}
    proc = await asyncio.create_subprocess_exec(breach_cli(), "audit", "verify", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output, _ = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode, output.decode()


def rechain(engine) -> None:
    """What an insider with the hashing rule does after an edit: recompute every hash and the head."""
    with engine.begin() as conn:
        prev = audit.GENESIS
        for row in conn.execute(select(EVENTS).order_by(EVENTS.c.seq)).all():
            digest = audit.entry_hash(seq=row.seq, prev_hash=prev, event_key=row.event_key, breach_id=row.breach_id, at=row.at, kind=row.kind, actor=row.actor, role=row.role, detail=row.detail)
            conn.execute(update(EVENTS).where(EVENTS.c.seq == row.seq).values(prev_hash=prev, hash=digest))
            prev = digest
        conn.execute(update(HEAD).values(last_hash=prev))


def delete_tail(engine, count: int) -> None:
    """Delete the last ``count`` entries and make the head name the new last entry."""
    with engine.begin() as conn:
        last = conn.execute(select(EVENTS.c.seq).order_by(EVENTS.c.seq.desc()).limit(1)).scalar()
        conn.execute(delete(EVENTS).where(EVENTS.c.seq > last - count))
        kept = conn.execute(select(EVENTS.c.seq, EVENTS.c.hash).order_by(EVENTS.c.seq.desc()).limit(1)).first()
        conn.execute(update(HEAD).values(last_seq=kept.seq, last_hash=kept.hash))


def drop_chain(engine) -> None:
    with engine.begin() as conn:
        conn.execute(update(EVENTS).where(EVENTS.c.kind.like("decision:%")).values(actor="Mallory"))
        conn.execute(delete(HEAD))
        # SQLite cannot drop a column under a unique constraint: rebuild the table without them.
        conn.exec_driver_sql("CREATE TABLE plain AS SELECT id, event_key, breach_id, at, kind, actor, role, detail FROM audit_events")
        conn.exec_driver_sql("DROP TABLE audit_events")
        conn.exec_driver_sql("ALTER TABLE plain RENAME TO audit_events")


TAMPERS = {
    "events and head truncated": (lambda e: _truncate(e), "the register holds 0"),
    "tail deleted, head fixed": (lambda e: delete_tail(e, 2), "missing"),
    "one row edited": (lambda e: _edit(e, rechain_after=False), "was changed"),
    "table rewritten consistently": (lambda e: _edit(e, rechain_after=True), "was changed or an entry before it is missing"),
    "chain columns dropped": (drop_chain, "no chain columns"),
}


def _truncate(engine) -> None:
    with engine.begin() as conn:
        conn.execute(delete(EVENTS))
        conn.execute(delete(HEAD))


def _edit(engine, *, rechain_after: bool) -> None:
    with engine.begin() as conn:
        seq = conn.execute(select(EVENTS.c.seq).where(EVENTS.c.kind == "decision:confirm_pii")).scalar_one()
        conn.execute(update(EVENTS).where(EVENTS.c.seq == seq).values(actor="Mallory"))
    if rechain_after:
        rechain(engine)


async def test_every_tamper_is_found_by_verify_which_changes_nothing(world, tmp_path):
    async with Harness(world) as harness:
        case = await harness.new_case("qecp")
        await drive(case, Stage.cms_approval)
        head = await case.handle.query(BreachResponseWorkflow.audit_chain)
        assert head.seq >= 3 and head.legacy == 0, head
        code, output = await verify(world)
        assert code == 0 and "every case matches its workflow" in output, output

        db = Path(world.settings.register_url.removeprefix("sqlite:///"))
        pristine = tmp_path / "pristine.db"
        copy_db(db, pristine)
        for name, (tamper, expected) in TAMPERS.items():
            engine = make_engine(world.settings.register_url)
            tamper(engine)
            engine.dispose()
            before = dump(db)
            code, output = await verify(world)
            assert code == 1 and expected in output, (name, output)
            assert dump(db) == before, f"verify changed the register after: {name}"
            copy_db(pristine, db)
        code, output = await verify(world)
        assert code == 0, output

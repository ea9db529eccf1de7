"""The audit trail is a tamper-evident hash chain: every direct edit or deletion is found and named.

The tests run on SQLite, and on PostgreSQL too when BREACH_TEST_POSTGRES_URL names a
database (each test works in a schema of its own, dropped afterwards; the shared
``register_url`` fixture of tests/register_backends.py, which fails instead of skipping
when CI is set).
"""

# ruff: noqa: F811 - the register_url fixture imported from tests.register_backends is a test parameter
from __future__ import annotations

import hashlib
import json
import sqlite3
import multiprocessing
import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, delete, func, insert, select, update
from sqlmodel import Session
from typer.testing import CliRunner

from activities import audit
from activities.db import make_engine
from activities.register import RegisterActivities
from models.records import AuditEntry, DecisionEntry, refusal_entry
from models.register import AuditEvent, AuditHead, DecisionRecord
from starter.cli.audit import audit_app
from tests.register_backends import register_url  # noqa: F401 (fixture)

T0 = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
EVENTS = AuditEvent.__table__
HEAD = AuditHead.__table__


@pytest.fixture
def engine(register_url):
    eng = make_engine(register_url)
    yield eng
    eng.dispose()


def entry(n: int, breach: str = "api-X", **changes) -> AuditEntry:
    values = dict(event_key=f"{breach}:event-{n}", breach_id=breach, at=T0 + timedelta(minutes=n), kind=f"sent:report-{n}", actor="workflow", detail={"n": n, "location": f"outbox/{n}.json"})
    return AuditEntry(**(values | changes))


def decision(n: int, breach: str = "api-X") -> DecisionEntry:
    return DecisionEntry(breach_id=breach, decision_id=f"d-{n}", decision="confirm_pii", role="cms_sop", decided_by="Sam Ortiz", decided_at=T0 + timedelta(minutes=n, seconds=30), rationale="claims extract <&> \"quoted\"", payload={"is_pii": True, "n": n})


def fill(engine, n: int = 10) -> None:
    """``n`` entries through the register activities: audit events and decisions, two cases."""
    acts = RegisterActivities(engine)
    for i in range(1, n + 1):
        breach = "api-X" if i % 3 else "file-Y"
        if i % 2:
            acts.audit(entry(i, breach))
        else:
            acts.record_decision(decision(i, breach))


def rows(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(select(EVENTS).order_by(EVENTS.c.seq)).all()


def tamper(engine, stmt) -> None:
    with engine.begin() as conn:
        conn.execute(stmt)


def failed(engine, seq: int | None, *phrases: str) -> audit.VerifyResult:
    result = audit.verify(engine)
    assert not result.ok, result
    assert result.seq == seq, result
    for phrase in phrases:
        assert phrase in result.problem, result.problem
    return result


# ---------------------------------------------------------------------------- the chain


def test_intact_chain_links_every_entry_and_matches_the_documented_hash(engine):
    fill(engine, 10)
    result = audit.verify(engine)
    assert result.ok and result.entries == 10 and result.head_seq == 10
    assert result.message == "audit trail intact: 10 entries"
    stored = rows(engine)
    assert [r.seq for r in stored] == list(range(1, 11))
    assert stored[0].prev_hash == "0" * 64
    assert all(b.prev_hash == a.hash for a, b in zip(stored, stored[1:], strict=False))
    assert result.head_hash == stored[-1].hash
    # The hash is SHA-256 over the canonical JSON named in activities/audit.py, recomputed here independently.
    first = stored[0]
    document = {
        "seq": 1, "prev_hash": "0" * 64, "event_key": "api-X:event-1", "breach_id": "api-X", "at": "2026-11-20T14:01:00.000000Z",
        "kind": "sent:report-1", "actor": "workflow", "role": None, "detail": {"n": 1, "location": "outbox/1.json"},
    }
    assert first.hash == hashlib.sha256(json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(DecisionRecord)).one()[0] == 5


def test_times_with_offsets_and_non_json_details_still_verify(engine):
    """A time with an offset is stored in UTC; datetimes in details become ISO text: the hash survives the round trip."""
    eastern = timezone(timedelta(hours=-5))
    with Session(engine) as session:
        audit.append(session, entry(1, at=datetime(2026, 11, 20, 9, 0, 0, 123456, tzinfo=eastern), detail={"when": T0, "nested": {"b": [1, 2.5, None], "a": "é \u2028"}}))
        session.commit()
    assert audit.verify(engine).ok
    (row,) = rows(engine)
    assert audit.rfc3339(row.at) == "2026-11-20T14:00:00.123456Z"
    assert row.detail["when"] == "2026-11-20T14:00:00Z"


@pytest.mark.parametrize("column, value", [
    ("detail", {"n": 5, "location": "outbox/forged.json"}),
    ("kind", "sent:something-else"),
    ("actor", "Mallory"),
    ("role", "hhs_saop"),
    ("breach_id", "api-Z"),
    ("event_key", "api-X:forged"),
    ("at", T0 - timedelta(days=1)),
    ("prev_hash", "f" * 64),
    ("hash", "e" * 64),
])
def test_an_edited_field_of_a_middle_entry_is_named(engine, column, value):
    fill(engine, 10)
    before = {r.seq: r for r in rows(engine)}[5]
    tamper(engine, update(EVENTS).where(EVENTS.c.seq == 5).values({column: value}))
    kind = value if column == "kind" else before.kind
    breach = value if column == "breach_id" else before.breach_id
    result = failed(engine, 5, f"entry 5 ({kind}, breach {breach}) was changed: its hash does not match its contents")
    assert result.message.startswith("audit trail damaged: entry 5 ")


def test_an_edited_detail_of_a_decision_is_named(engine):
    fill(engine, 10)
    tamper(engine, update(EVENTS).where(EVENTS.c.kind == "decision:confirm_pii", EVENTS.c.seq == 4).values(detail={"decision_id": "d-4", "rationale": "changed later", "payload": {"is_pii": False}}))
    failed(engine, 4, "entry 4 (decision:confirm_pii, breach api-X) was changed: its hash does not match its contents")


def test_a_deleted_middle_entry_is_named(engine):
    fill(engine, 10)
    tamper(engine, delete(EVENTS).where(EVENTS.c.seq == 7))
    failed(engine, 7, "entry 7 is missing: entry 8 follows entry 6")
    tamper(engine, delete(EVENTS).where(EVENTS.c.seq == 8))
    failed(engine, 7, "entries 7-8 are missing: entry 9 follows entry 6")


def test_a_deleted_first_entry_is_named(engine):
    fill(engine, 5)
    tamper(engine, delete(EVENTS).where(EVENTS.c.seq == 1))
    failed(engine, 1, "entry 1 is missing: the trail starts at entry 2")


def test_a_deleted_last_entry_is_detected_through_the_head(engine):
    fill(engine, 10)
    tamper(engine, delete(EVENTS).where(EVENTS.c.seq == 10))
    failed(engine, 10, "the last entry (seq 10) was removed: the head records 10 entries, 9 remain")
    tamper(engine, delete(EVENTS).where(EVENTS.c.seq >= 8))
    failed(engine, 8, "the last 3 entries (seq 8-10) were removed: the head records 10 entries, 7 remain")


def test_an_edited_hash_of_the_last_entry_is_named(engine):
    fill(engine, 6)
    tamper(engine, update(EVENTS).where(EVENTS.c.seq == 6).values(hash="0" * 64))
    failed(engine, 6, "entry 6 (", "was changed: its hash does not match its contents")


def _rehash(engine, seq: int, detail: dict) -> None:
    """What an editor who knows the algorithm would do: change an entry and recompute its hash."""
    row = {r.seq: r for r in rows(engine)}[seq]
    digest = audit.entry_hash(seq=seq, prev_hash=row.prev_hash, event_key=row.event_key, breach_id=row.breach_id, at=row.at, kind=row.kind, actor=row.actor, role=row.role, detail=detail)
    tamper(engine, update(EVENTS).where(EVENTS.c.seq == seq).values(detail=detail, hash=digest))


def test_a_change_with_a_recomputed_hash_is_named_by_the_next_link(engine):
    fill(engine, 8)
    _rehash(engine, 3, {"n": 3, "location": "outbox/forged.json"})
    failed(engine, 3, "entry 3 (sent:report-3, breach file-Y) was changed: its hash was recomputed, but entry 4 records a different one for it")


def test_a_change_of_the_last_entry_with_a_recomputed_hash_is_named_by_the_head(engine):
    fill(engine, 7)
    _rehash(engine, 7, {"n": 7, "location": "outbox/forged.json"})
    failed(engine, 7, "the last entry, entry 7 (sent:report-7, breach api-X), was changed: its hash differs from the one the head records")


def test_a_row_inserted_outside_the_chain_is_named(engine):
    fill(engine, 4)
    last = rows(engine)[-1]
    forged = dict(event_key="api-X:forged", breach_id="api-X", at=T0, kind="decision:approve_notification", actor="Mallory", role="hhs_brt", detail={})
    digest = audit.entry_hash(seq=5, prev_hash=last.hash, **forged)
    tamper(engine, insert(EVENTS).values(seq=5, prev_hash=last.hash, hash=digest, **forged))
    failed(engine, 5, "entry 5 (decision:approve_notification, breach api-X) was added outside the chain: the head records 4 entries, 5 exist")
    with Session(engine) as session, pytest.raises(audit.AuditChainError, match="entries were added outside the chain"):
        audit.append(session, entry(99))


def test_a_removed_head_fails_verification_and_stops_appends(engine):
    fill(engine, 3)
    tamper(engine, delete(HEAD))
    failed(engine, 3, "the head record is missing")
    with Session(engine) as session, pytest.raises(audit.AuditChainError, match="head record is missing"):
        audit.append(session, entry(99))
    assert len(rows(engine)) == 3


def test_appends_after_a_removed_last_entry_keep_the_evidence(engine):
    fill(engine, 5)
    tamper(engine, delete(EVENTS).where(EVENTS.c.seq == 5))
    RegisterActivities(engine).audit(entry(50))
    assert [r.seq for r in rows(engine)][-1] == 6
    failed(engine, 5, "entry 5 is missing: entry 6 follows entry 4")


def test_an_anchor_detects_a_rewrite_of_the_whole_chain(engine):
    fill(engine, 6)
    anchor = (6, audit.verify(engine).head_hash)
    # Rewrite entry 2 and every hash after it, head included: the chain alone is consistent again.
    prev = {r.seq: r for r in rows(engine)}[1].hash
    for row in rows(engine)[1:]:
        detail = {"rewritten": True} if row.seq == 2 else row.detail
        digest = audit.entry_hash(seq=row.seq, prev_hash=prev, event_key=row.event_key, breach_id=row.breach_id, at=row.at, kind=row.kind, actor=row.actor, role=row.role, detail=detail)
        tamper(engine, update(EVENTS).where(EVENTS.c.seq == row.seq).values(detail=detail, prev_hash=prev, hash=digest))
        prev = digest
    tamper(engine, update(HEAD).values(last_hash=prev))
    assert audit.verify(engine).ok
    result = audit.verify(engine, [anchor])
    assert not result.ok and result.seq == 6 and "does not match the anchor recorded for it" in result.problem


# ---------------------------------------------------------------------------- idempotency and concurrency


def test_retried_appends_add_nothing(engine):
    acts = RegisterActivities(engine)
    for _ in range(3):
        acts.audit(entry(1))
        acts.record_decision(decision(2))
        acts.audit(entry(3))
    with Session(engine) as session:
        assert audit.append(session, entry(1)) == 1
        assert audit.append(session, entry(3)) == 3
        session.commit()
    assert [r.seq for r in rows(engine)] == [1, 2, 3]
    result = audit.verify(engine)
    assert result.ok and result.entries == 3 and result.head_seq == 3


def test_an_entry_that_cannot_be_stored_is_refused_before_writing(engine):
    with Session(engine) as session:
        with pytest.raises(ValueError, match="kind is 65 characters, at most 64"):
            audit.append(session, entry(1, kind="k" * 65))
        with pytest.raises(ValueError, match="detail is not storable as JSON"):
            audit.append(session, entry(2, detail={"x": object()}))
    assert rows(engine) == []


def test_concurrent_appends_from_threads_keep_a_valid_chain(engine):
    acts = RegisterActivities(engine)
    threads, per_thread, errors = 8, 15, []
    barrier = threading.Barrier(threads)

    def work(t: int) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                acts.audit(entry(i, breach=f"api-T{t}"))
                acts.audit(entry(0, breach="api-shared"))  # the same event from every thread: lands once
                if i % 5 == 0:
                    acts.record_decision(decision(i, breach=f"api-T{t}"))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    assert errors == []
    expected = threads * per_thread + 1 + threads * 3
    assert [r.seq for r in rows(engine)] == list(range(1, expected + 1))
    result = audit.verify(engine)
    assert result.ok and result.entries == expected


def _append_from_process(url: str, worker: int, count: int) -> int:
    engine = make_engine(url)
    acts = RegisterActivities(engine)
    for i in range(count):
        acts.audit(entry(i, breach=f"api-P{worker}"))
        acts.audit(entry(0, breach="api-shared"))
    engine.dispose()
    return count


def test_concurrent_appends_from_processes_keep_a_valid_chain(register_url, engine):
    processes, per_process = 3, 12
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(processes) as pool:
        assert pool.starmap(_append_from_process, [(register_url, w, per_process) for w in range(processes)]) == [per_process] * processes
    expected = processes * per_process + 1
    assert [r.seq for r in rows(engine)] == list(range(1, expected + 1))
    assert audit.verify(engine).entries == expected


# ---------------------------------------------------------------------------- refusals and older registers


def test_a_refused_decision_is_recorded_once_per_attempt(engine):
    """The worker's entry for a refusal on record: the same attempt (decision id and reason) lands once."""
    fill(engine, 2)
    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    kwargs = dict(breach_id="api-X", decision="approve_notification", actor="Pat Lee", role="cms_sop", reason="approve_notification may be made by hhs_brt, hhs_saop, not by role cms_sop", decision_id="cli-123", at=at, source="workflow")

    def refuse(**changes) -> None:
        args = kwargs | changes
        with Session(engine) as session:
            audit.append(session, refusal_entry(**args, attempt=f"{args['decision_id']}\n{args['reason']}"))
            session.commit()

    refuse()
    refuse()  # the same attempt again (a retried activity): nothing added
    refuse(reason="the case is closed")
    refused = [e for e in audit.read_log(engine, "api-X") if e["kind"].startswith("refused:")]
    assert [e["kind"] for e in refused] == ["refused:approve_notification"] * 2
    first = refused[0]
    assert (first["actor"], first["role"], first["detail"]["reason"], first["detail"]["decision_id"], first["detail"]["source"]) == ("Pat Lee", "cms_sop", kwargs["reason"], "cli-123", "workflow")
    assert audit.verify(engine).ok


def legacy_register(tmp_path) -> str:
    """A register written before the hash chain: audit_events without seq, prev_hash, hash; three rows."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = create_engine(url)
    with old.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE audit_events (id INTEGER PRIMARY KEY, event_key VARCHAR(256) NOT NULL UNIQUE, breach_id VARCHAR(200) NOT NULL, "
            "at DATETIME NOT NULL, kind VARCHAR(64) NOT NULL, actor VARCHAR(200) NOT NULL, role VARCHAR(32), detail JSON NOT NULL)"
        )
        for i in (1, 2, 3):
            conn.exec_driver_sql(
                "INSERT INTO audit_events (event_key, breach_id, at, kind, actor, role, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (f"old-{i}", "api-OLD", f"2026-01-0{i} 10:00:00.000000", "closed", "workflow", None, json.dumps({"i": i})),
            )
    old.dispose()
    return url


def dump(url: str) -> list[str]:
    """Every table and row of a SQLite register, as SQL: equal before and after means nothing changed."""
    with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
        return list(db.iterdump())


def test_an_audit_table_without_chain_columns_stops_appends_and_is_never_chained_silently(tmp_path):
    """Issue 14: dropping the chain columns (and the head) after an edit made verify re-chain the table and say intact."""
    url = legacy_register(tmp_path)
    engine = make_engine(url)
    before = dump(url)
    assert "no chain columns" in audit.verify(engine).problem
    with pytest.raises(audit.AuditChainError, match="no chain columns"):
        RegisterActivities(engine).audit(entry(1))
    assert dump(url) == before
    assert audit.upgrade(engine) == 3  # the explicit migration (breach audit migrate-chain)
    RegisterActivities(engine).audit(entry(1))
    assert [(r.seq, r.event_key) for r in rows(engine)] == [(1, "old-1"), (2, "old-2"), (3, "old-3"), (4, "api-X:event-1")]
    tamper(engine, update(EVENTS).where(EVENTS.c.seq == 2).values(actor="Mallory"))
    failed(engine, 2, "entry 2 (closed, breach api-OLD) was changed")
    engine.dispose()


def test_verify_changes_nothing_and_migrate_chain_is_explicit_and_recorded(tmp_path, monkeypatch):
    url = legacy_register(tmp_path)
    monkeypatch.setenv("BREACH_DATABASE_URL", url)
    before = dump(url)
    result = CliRunner().invoke(audit_app, ["verify", "--register-only"])
    assert result.exit_code == 1 and "no chain columns" in result.output, result.output
    assert dump(url) == before
    migrated = CliRunner().invoke(audit_app, ["migrate-chain"])
    assert migrated.exit_code == 0 and "chained 3 audit entries" in migrated.output, migrated.output
    again = CliRunner().invoke(audit_app, ["verify", "--register-only"])
    assert again.exit_code == 0 and "audit trail intact: 4 entries" in again.output, again.output
    engine = make_engine(url)
    assert [r.kind for r in rows(engine)][-1] == "audit_chain_migrated"
    engine.dispose()


# ---------------------------------------------------------------------------- the commands


@pytest.fixture
def cli_env(monkeypatch, register_url, engine):
    monkeypatch.setenv("BREACH_DATABASE_URL", register_url)
    return engine


def test_verify_command_reports_intact_and_damaged(cli_env):
    fill(cli_env, 5)
    runner = CliRunner()
    ok = runner.invoke(audit_app, ["verify", "--register-only"])
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("audit trail intact: 5 entries")
    head = audit.verify(cli_env)
    assert f"5:{head.head_hash}" in ok.output
    assert runner.invoke(audit_app, ["verify", "--register-only", "--anchor", f"5:{head.head_hash}"]).exit_code == 0
    tamper(cli_env, delete(EVENTS).where(EVENTS.c.seq == 3))
    bad = runner.invoke(audit_app, ["verify", "--register-only"])
    assert bad.exit_code == 1
    assert "audit trail damaged: entry 3 is missing: entry 4 follows entry 2" in bad.output
    as_json = runner.invoke(audit_app, ["verify", "--register-only", "--json"])
    assert as_json.exit_code == 1
    verdict = json.loads(as_json.output)
    assert (verdict["ok"], verdict["seq"], verdict["entries"]) == (False, 3, 2)
    wrong = runner.invoke(audit_app, ["verify", "--register-only", "--anchor", "five"])
    assert wrong.exit_code == 2 and "expected SEQ:HASH" in wrong.output


def test_log_command_lists_entries_oldest_first(cli_env):
    fill(cli_env, 6)
    runner = CliRunner()
    everything = json.loads(runner.invoke(audit_app, ["log", "--json"]).output)
    assert [e["seq"] for e in everything] == list(range(1, 7))
    one = runner.invoke(audit_app, ["log", "breach-file-Y", "--json"])
    assert one.exit_code == 0
    entries = json.loads(one.output)
    assert [e["seq"] for e in entries] == [3, 6] and {e["breach_id"] for e in entries} == {"file-Y"}
    assert entries[1]["kind"] == "decision:confirm_pii" and entries[1]["detail"]["rationale"] == 'claims extract <&> "quoted"'
    table = runner.invoke(audit_app, ["log", "api-X"])
    assert table.exit_code == 0 and "4 audit entries of case api-X" in table.output


def test_commands_refuse_a_register_that_does_not_exist(monkeypatch, tmp_path):
    monkeypatch.setenv("BREACH_DATABASE_URL", f"sqlite:///{tmp_path / 'nowhere' / 'register.db'}")
    result = CliRunner().invoke(audit_app, ["verify"])
    assert result.exit_code == 2 and "no register at" in result.output
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("args", [["--help"], ["verify", "--help"], ["log", "--help"]])
def test_audit_help_runs_with_an_example(args):
    result = CliRunner().invoke(audit_app, args)
    assert result.exit_code == 0, result.output
    if args != ["--help"]:
        assert "Example: breach audit" in result.output

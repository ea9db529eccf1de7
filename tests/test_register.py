"""The register's writes are idempotent (a retried activity never duplicates a row) and read
back the same on SQLite and PostgreSQL.

Every test runs on both databases (tests/register_backends.py): a fresh SQLite file,
and a fresh schema of the PostgreSQL named by BREACH_TEST_POSTGRES_URL (which CI starts
with .ci/postgres.sh; without it the PostgreSQL variants skip, or fail when CI is set).
"""

from __future__ import annotations

import json
import multiprocessing
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect, text
from sqlmodel import Session, func, select

from activities import audit
from activities.db import make_engine
from activities.register import RegisterActivities
from models.case import Clock, ClockState
from models.records import AuditEntry, CaseOpening, CaseSync, DecisionEntry
from models.register import AuditEvent, CaseRecord, ClockRecord, DecisionRecord
from starter.intake.filing import parse_report
from tests.register_backends import open_register_at_once, postgres_schema, register_url  # noqa: F401 (fixture)
from tests.support import REPORTS

NOW = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
EASTERN = timezone(timedelta(hours=-5))


@pytest.fixture
def engine(register_url):  # noqa: F811 - the imported fixture
    eng = make_engine(register_url)
    yield eng
    eng.dispose()


def count(engine, model) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(model)).one()


def laptop(**changes):
    report = parse_report((REPORTS / "laptop-claims-major.json").read_text())
    return report.model_copy(update=changes) if changes else report


def sync(report, clocks, **changes) -> CaseSync:
    values = dict(
        breach_id=report.breach_id, stage="confirm_pii", status="ongoing", outcome=None, individuals=report.estimated_individuals,
        data_elements=[e.value for e in report.data_elements], risk_level=None, major_incident=False, notified=False,
        individuals_notified=0, services=[], reported_to_cisa=False, reported_to_congress=False, clocks=clocks, at=NOW,
    )
    return CaseSync(**(values | changes))


def test_retried_writes_land_once(engine):
    acts = RegisterActivities(engine)
    report = laptop()
    opening = CaseOpening(report=report, system_known=False, stage="report", opened_at=NOW)
    clock = Clock(clock="csirc_report", started_at=report.reported_at, due_at=report.reported_at + timedelta(hours=1), source="plan")
    entry = AuditEntry(event_key="k1", breach_id=report.breach_id, at=NOW, kind="reported", actor="workflow")
    decision = DecisionEntry(breach_id=report.breach_id, decision_id="d-1", decision="confirm_pii", role="cms_sop", decided_by="Sam Ortiz", decided_at=NOW, rationale="claims extract", payload={"is_pii": True})
    for _ in range(3):
        acts.open_case(opening)
        acts.sync_case(sync(report, [clock]))
        acts.audit(entry)
        acts.record_decision(decision)
    assert (count(engine, CaseRecord), count(engine, ClockRecord), count(engine, DecisionRecord), count(engine, AuditEvent)) == (1, 1, 1, 2)

    met = clock.model_copy(update={"state": ClockState.met, "met_at": NOW})
    acts.sync_case(sync(report, [met], stage="closed", status="concluded", outcome="notified", notified=True, individuals_notified=151_000, reported_to_cisa=True))
    with Session(engine) as session:
        (row,) = session.exec(select(ClockRecord)).all()
        assert row.state == "met"
        case = session.get(CaseRecord, report.breach_id)
        assert (case.status, case.outcome, case.individuals, case.individuals_notified, case.reported_to_cisa) == ("concluded", "notified", 152000, 151_000, True)
        assert case.data_elements == json.loads((REPORTS / "laptop-claims-major.json").read_text())["data_elements"]
        assert case.closed_at == NOW
        (recorded,) = session.exec(select(DecisionRecord)).all()
        assert (recorded.decided_by, recorded.payload) == ("Sam Ortiz", {"is_pii": True})
    assert audit.verify(engine).ok


def test_a_reopened_case_loses_its_closing_time_and_clocks_are_updated_in_place(engine):
    acts = RegisterActivities(engine)
    report = laptop()
    acts.open_case(CaseOpening(report=report, system_known=True, stage="report", opened_at=NOW))
    first = Clock(clock="approve_response_plan", started_at=NOW, due_at=NOW + timedelta(days=2), source="SLA")
    acts.sync_case(sync(report, [first], status="concluded", stage="closed", outcome="closed_low_risk", at=NOW + timedelta(hours=1)))
    again = first.model_copy(update={"state": ClockState.not_applicable})
    second = Clock(clock="submit_risk_assessment", started_at=NOW + timedelta(hours=2), due_at=None, source="SLA")
    acts.sync_case(sync(report, [again, second], status="ongoing", stage="risk_assessment", at=NOW + timedelta(hours=2)))
    with Session(engine) as session:
        case = session.get(CaseRecord, report.breach_id)
        assert (case.status, case.stage, case.closed_at, case.updated_at) == ("ongoing", "risk_assessment", None, NOW + timedelta(hours=2))
        clocks = {c.clock: c for c in session.exec(select(ClockRecord)).all()}
    assert set(clocks) == {"approve_response_plan", "submit_risk_assessment"}
    assert clocks["approve_response_plan"].state == "not_applicable" and clocks["submit_risk_assessment"].due_at is None


def test_sync_of_a_case_that_was_never_opened_fails_clearly(engine):
    with pytest.raises(LookupError, match="is not in the register"):
        RegisterActivities(engine).sync_case(sync(laptop(), []))
    assert count(engine, CaseRecord) == 0


# ---------------------------------------------------------------------------- what differed between SQLite and PostgreSQL


def test_times_with_an_offset_are_stored_as_the_same_instant(engine):
    """SQLite used to drop the offset (08:30-05:00 read back as 08:30 UTC); PostgreSQL kept the instant.

    Now both store UTC and hand back aware UTC datetimes, in rows and in query filters.
    """
    acts = RegisterActivities(engine)
    report = laptop()
    assert report.reported_at.utcoffset() == timedelta(hours=-5)
    opened = datetime(2026, 11, 20, 9, 0, 0, 123456, tzinfo=EASTERN)
    acts.open_case(CaseOpening(report=report, system_known=True, stage="report", opened_at=opened))
    clock = Clock(clock="hipaa_individuals", started_at=report.discovered_at, due_at=report.discovered_at + timedelta(days=60), source="45 CFR 164.404")
    acts.sync_case(sync(report, [clock], at=opened))
    acts.record_decision(DecisionEntry(breach_id=report.breach_id, decision_id="d-tz", decision="confirm_pii", role="cms_sop", decided_by="Sam Ortiz", decided_at=opened, rationale=None, payload={}))
    with Session(engine) as session:
        case = session.get(CaseRecord, report.breach_id)
        for got, want in ((case.reported_at, report.reported_at), (case.discovered_at, report.discovered_at), (case.opened_at, opened)):
            assert got == want and got.utcoffset() == timedelta(0), (got, want)
        assert case.reported_at.hour == 13 and case.opened_at.microsecond == 123456
        (row,) = session.exec(select(ClockRecord)).all()
        assert (row.started_at, row.due_at) == (report.discovered_at, report.discovered_at + timedelta(days=60))
        assert session.exec(select(DecisionRecord)).one().decided_at == opened
        # A filter with an offset finds the row by instant: 13:59:59 UTC < opened (14:00:00.123456 UTC).
        assert session.exec(select(CaseRecord).where(CaseRecord.opened_at > datetime(2026, 11, 20, 8, 59, 59, tzinfo=EASTERN))).all()
        assert not session.exec(select(CaseRecord).where(CaseRecord.opened_at > datetime(2026, 11, 20, 14, 0, 1, tzinfo=UTC))).all()
    (entry,) = audit.read_log(engine, report.breach_id)
    assert entry["at"] == "2026-11-20T14:00:00.123456Z"


def test_counts_beyond_32_bits_are_stored(engine):
    """PostgreSQL's INTEGER stops at 2,147,483,647 (the activity failed and was retried for ever); SQLite's did not."""
    acts = RegisterActivities(engine)
    report = laptop(external_id="HUGE", estimated_individuals=3_000_000_000)
    acts.open_case(CaseOpening(report=report, system_known=True, stage="report", opened_at=NOW))
    acts.sync_case(sync(report, [], individuals=3_000_000_001, individuals_notified=2_999_999_999))
    with Session(engine) as session:
        case = session.get(CaseRecord, report.breach_id)
        assert (case.individuals, case.individuals_notified) == (3_000_000_001, 2_999_999_999)


def test_text_with_a_nul_character_is_stored_alike(engine):
    """PostgreSQL's text types refuse NUL (the whole row failed, for ever); it becomes U+FFFD on both.

    JSON columns keep it (written as the escape \\u0000 on both), and the audit chain still verifies.
    """
    acts = RegisterActivities(engine)
    report = laptop(external_id="NUL\x00ID", system_id="sys\x00tem")
    acts.open_case(CaseOpening(report=report, system_known=False, stage="report", opened_at=NOW))
    acts.record_decision(DecisionEntry(breach_id=report.breach_id, decision_id="d\x00-1", decision="confirm_pii", role="cms_sop", decided_by="Sam\x00Ortiz", decided_at=NOW, rationale="a\x00b", payload={"note": "x\x00y"}))
    acts.record_decision(DecisionEntry(breach_id=report.breach_id, decision_id="d\x00-1", decision="confirm_pii", role="cms_sop", decided_by="Sam\x00Ortiz", decided_at=NOW, rationale="a\x00b", payload={"note": "x\x00y"}))
    acts.audit(AuditEntry(event_key=f"{report.breach_id}:sent:x\x00", breach_id=report.breach_id, at=NOW, kind="sent:x\x00", actor="work\x00flow", detail={"k\x00": "v\x00"}))
    stored_id = report.breach_id.replace("\x00", "\ufffd")
    acts.sync_case(sync(report, [], breach_id=stored_id, outcome="no\x00pii", status="concluded"))
    with Session(engine) as session:
        case = session.get(CaseRecord, stored_id)
        assert (case.external_id, case.system_id, case.outcome) == ("NUL\ufffdID", "sys\ufffdtem", "no\ufffdpii")
        (decision,) = session.exec(select(DecisionRecord)).all()
        assert (decision.decision_id, decision.decided_by, decision.rationale, decision.payload) == ("d\ufffd-1", "Sam\ufffdOrtiz", "a\ufffdb", {"note": "x\x00y"})
    log = audit.read_log(engine)
    assert [e["kind"] for e in log] == ["decision:confirm_pii", "sent:x\ufffd"]
    assert log[1]["actor"] == "work\ufffdflow" and log[1]["detail"] == {"k\x00": "v\x00"}
    assert audit.verify(engine).ok


def test_a_postgres_register_with_32_bit_counts_is_widened():
    """A PostgreSQL register created before counts were BIGINT gets its columns widened by make_engine."""
    with postgres_schema("widen") as url:
        old = make_engine(url)
        with old.begin() as conn:
            conn.execute(text("ALTER TABLE cases ALTER COLUMN individuals TYPE INTEGER, ALTER COLUMN individuals_notified TYPE INTEGER"))
            assert {c["name"]: str(c["type"]) for c in inspect(conn).get_columns("cases")}["individuals"] == "INTEGER"
        old.dispose()
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                types = {c["name"]: str(c["type"]) for c in inspect(conn).get_columns("cases")}
            assert (types["individuals"], types["individuals_notified"]) == ("BIGINT", "BIGINT")
            report = laptop(external_id="HUGE", estimated_individuals=3_000_000_000)
            RegisterActivities(engine).open_case(CaseOpening(report=report, system_known=True, stage="report", opened_at=NOW))
            assert count(engine, CaseRecord) == 1
        finally:
            engine.dispose()


def test_processes_opening_a_new_register_at_once_all_succeed(register_url):  # noqa: F811 - the imported fixture
    """create_all looked for each table, then created it: two processes both saw it missing and one failed
    ("table cases already exists" on SQLite, a unique violation in pg_type on PostgreSQL). Tables are now
    created under the database's write lock or an advisory lock."""
    ctx = multiprocessing.get_context("spawn")
    n = 6
    barrier, results = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=open_register_at_once, args=(register_url, barrier, results)) for _ in range(n)]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(30)
    assert outcomes == ["ok"] * n
    engine = make_engine(register_url)
    try:
        RegisterActivities(engine).open_case(CaseOpening(report=laptop(), system_known=True, stage="report", opened_at=NOW))
        assert count(engine, CaseRecord) == 1
    finally:
        engine.dispose()

"""The register's writes are idempotent: a retried activity never duplicates a row."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, func, select

from activities.db import make_engine
from activities.register import RegisterActivities
from models.case import Clock, ClockState
from models.records import AuditEntry, CaseOpening, CaseSync, DecisionEntry
from models.register import AuditEvent, CaseRecord, ClockRecord, DecisionRecord
from starter.intake import parse_report
from tests.support import REPORTS

NOW = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)


def count(engine, model) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(model)).one()


def sync(report, clocks, **changes) -> CaseSync:
    values = dict(
        breach_id=report.breach_id, stage="confirm_pii", status="ongoing", outcome=None, individuals=report.estimated_individuals,
        data_elements=[e.value for e in report.data_elements], risk_level=None, major_incident=False, notified=False,
        individuals_notified=0, services=[], reported_to_cisa=False, reported_to_congress=False, clocks=clocks, at=NOW,
    )
    return CaseSync(**(values | changes))


def test_retried_writes_land_once(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'register.db'}")
    acts = RegisterActivities(engine)
    report = parse_report((REPORTS / "laptop-claims-major.json").read_text())
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
        assert case.closed_at is not None
        (recorded,) = session.exec(select(DecisionRecord)).all()
        assert (recorded.decided_by, recorded.payload) == ("Sam Ortiz", {"is_pii": True})

"""The register's writes are idempotent: a retried activity never duplicates a row."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, func, select

from activities.db import make_engine
from activities.register import RegisterActivities
from models.case import Clock, ClockState
from models.records import AuditEntry, CaseOpening, ClockUpdate, StageChange
from models.register import AuditEvent, CaseRecord, ClockRecord
from starter.intake import parse_report
from tests.support import REPORTS

NOW = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)


def count(engine, model) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(model)).one()


def test_retried_writes_land_once(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'register.db'}")
    acts = RegisterActivities(engine)
    report = parse_report((REPORTS / "laptop-claims-major.json").read_text())
    opening = CaseOpening(report=report, system_known=False, stage="report", opened_at=NOW)
    clock = Clock.starting("csirc_report", report.reported_at, timedelta(hours=1), "plan")
    entry = AuditEntry(event_key="k1", breach_id=report.breach_id, at=NOW, kind="reported", actor="workflow")
    for _ in range(3):
        acts.open_case(opening)
        acts.record_clocks(ClockUpdate(breach_id=report.breach_id, clocks=[clock]))
        acts.audit(entry)
    assert (count(engine, CaseRecord), count(engine, ClockRecord), count(engine, AuditEvent)) == (1, 1, 1)

    met = clock.model_copy(update={"state": ClockState.met, "met_at": NOW})
    acts.record_clocks(ClockUpdate(breach_id=report.breach_id, clocks=[met]))
    acts.change_stage(StageChange(breach_id=report.breach_id, stage="closed", status="concluded", at=NOW, outcome="no_pii"))
    with Session(engine) as session:
        (row,) = session.exec(select(ClockRecord)).all()
        assert row.state == "met"
        case = session.get(CaseRecord, report.breach_id)
        assert (case.status, case.outcome, case.individuals) == ("concluded", "no_pii", 152000)
        assert case.data_elements == json.loads((REPORTS / "laptop-claims-major.json").read_text())["data_elements"]
        assert case.closed_at is not None

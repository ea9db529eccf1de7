"""Register activities: the only code that writes cases, clocks and audit events.

Each write is an idempotent upsert keyed on a natural key, so Temporal's retries never
duplicate a row. Activities are synchronous (SQLAlchemy is) and run on the worker's
thread pool.
"""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session
from temporalio import activity

from activities.db import upsert
from models.records import AuditEntry, CaseOpening, ClockUpdate, StageChange
from models.register import AuditEvent, CaseRecord, ClockRecord


class RegisterActivities:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @activity.defn(name="register.open_case")
    def open_case(self, opening: CaseOpening) -> None:
        report = opening.report
        values = dict(
            breach_id=report.breach_id,
            workflow_id=report.workflow_id,
            source=report.source.value,
            external_id=report.external_id,
            system_id=report.system_id,
            system_known=opening.system_known,
            stage=opening.stage,
            status="ongoing",
            individuals=report.estimated_individuals,
            data_elements=[e.value for e in report.data_elements],
            contractor_involved=report.contractor_involved,
            hipaa_covered=report.hipaa_covered,
            services=[],
            discovered_at=report.discovered_at,
            reported_at=report.reported_at,
            opened_at=opening.opened_at,
            updated_at=opening.opened_at,
        )
        with Session(self._engine) as session:
            upsert(session, CaseRecord, values, ["breach_id"], update=False)
            session.commit()

    @activity.defn(name="register.change_stage")
    def change_stage(self, change: StageChange) -> None:
        with Session(self._engine) as session:
            case = session.get(CaseRecord, change.breach_id)
            if case is None:
                raise LookupError(f"case {change.breach_id} is not in the register")
            case.stage, case.status, case.updated_at = change.stage, change.status, change.at
            if change.outcome:
                case.outcome = change.outcome
            if change.status == "concluded":
                case.closed_at = change.at
            session.add(case)
            session.commit()

    @activity.defn(name="register.record_clocks")
    def record_clocks(self, update: ClockUpdate) -> None:
        with Session(self._engine) as session:
            for clock in update.clocks:
                upsert(session, ClockRecord, dict(breach_id=update.breach_id, **clock.model_dump()), ["breach_id", "clock"])
            session.commit()

    @activity.defn(name="register.audit")
    def audit(self, entry: AuditEntry) -> None:
        with Session(self._engine) as session:
            upsert(session, AuditEvent, entry.model_dump(), ["event_key"], update=False)
            session.commit()

"""Register activities: the only code that writes cases, decisions, clocks and audit events.

Each write is an idempotent upsert keyed on a natural key, so Temporal's retries never
duplicate a row. Audit events are appended to the register's hash chain
(activities/audit.py), idempotently by event key. Activities are synchronous
(SQLAlchemy is) and run on the worker's thread pool.
"""

from __future__ import annotations

from datetime import UTC, datetime
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio import activity

from activities import audit as audit_chain
from activities.db import storable, upsert
from models.records import AuditEntry, CaseOpening, CaseSync, DecisionEntry, RoundEntry, decision_audit, round_audit, storable_fields
from models.register import CaseRecord, ClockRecord, DecisionRecord, NotificationRoundRecord, PayloadKeyRecord

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

    @activity.defn(name="register.sync_case")
    def sync_case(self, sync: CaseSync) -> None:
        """Bring the case row and its clocks up to the workflow's state (last writer wins)."""
        with Session(self._engine) as session:
            case = session.get(CaseRecord, sync.breach_id)
            if case is None:
                raise LookupError(f"case {sync.breach_id} is not in the register")
            for field in ("stage", "status", "outcome", "individuals", "data_elements", "risk_level", "major_incident", "notified", "individuals_notified", "services", "reported_to_cisa", "reported_to_congress"):
                setattr(case, field, storable(getattr(sync, field)))
            case.updated_at = sync.at
            case.closed_at = sync.at if sync.status == "concluded" else None
            session.add(case)
            for clock in sync.clocks:
                row = clock.model_dump(include={"clock", "started_at", "due_at", "state", "met_at", "source"})
                upsert(session, ClockRecord, dict(breach_id=sync.breach_id, **row), ["breach_id", "clock"])
            session.commit()

    @activity.defn(name="register.record_decision")
    def record_decision(self, entry: DecisionEntry) -> None:
        """The decision and its audit event, in one transaction, once per decision id."""
        entry = storable_fields(entry)
        with Session(self._engine) as session:
            audit_chain.append(session, decision_audit(entry))  # first: it takes the register's append lock
            upsert(session, DecisionRecord, entry.model_dump(exclude={"breach_id", "case_chain"}) | {"breach_id": entry.breach_id}, ["breach_id", "decision_id"], update=False)
            session.commit()

    @activity.defn(name="register.record_notification_round")
    def record_notification_round(self, entry: RoundEntry) -> None:
        """The round's counts and files, and its audit event, once per (breach, round)."""
        r = entry.result
        values = dict(
            breach_id=r.breach_id, round=r.round, letter=r.letter.value, roster_sha256=r.roster_sha256,
            rows_read=r.counts.rows_read, recipients=r.counts.recipients, exported=r.counts.exported,
            duplicates_merged=r.counts.duplicates_merged, errors=r.counts.errors, no_address=r.counts.no_address,
            substitute_notice_required=r.substitute_notice_required, media_notice_states=r.media_notice_states, by_state=r.counts.by_state,
            export_path=r.export.path, export_sha256=r.export.sha256, manifest_path=r.manifest.path, manifest_sha256=r.manifest.sha256,
            completed_at=entry.completed_at,
        )
        with Session(self._engine) as session:
            audit_chain.append(session, round_audit(entry))  # first: it takes the register's append lock
            upsert(session, NotificationRoundRecord, values, ["breach_id", "round"], update=False)
            session.commit()

    @activity.defn(name="register.audit")
    def audit(self, entry: AuditEntry) -> None:
        """Append to the audit hash chain; a retried activity (same event key) appends nothing."""
        with Session(self._engine) as session:
            audit_chain.append(session, storable_fields(entry))
            session.commit()

    def note_payload_key(self, key_id: str) -> set[str]:
        """Record that ``key_id`` encrypts from now on; every key id ever recorded (not an activity:
        the worker calls it once at start)."""
        with Session(self._engine) as session:
            upsert(session, PayloadKeyRecord, {"key_id": key_id, "first_used_at": datetime.now(UTC)}, ["key_id"], update=False)
            session.commit()
            return set(session.exec(select(PayloadKeyRecord.key_id)).all())

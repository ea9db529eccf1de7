"""Inputs of the register and outbox activities: what the workflow asks to be written.

Times come from the workflow (``workflow.now()``) so records match the history exactly.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from models.case import Clock
from models.case_chain import CASE_CHAIN, CaseAnchor, storable
from models.intake import IntakeReport
from models.notification import NotifyResult
from models.risk import RiskAssessment

M = TypeVar("M", bound=BaseModel)


class CaseOpening(BaseModel):
    report: IntakeReport
    system_known: bool
    stage: str
    opened_at: datetime


class CaseSync(BaseModel):
    """The register's view of a case after a change: Appendix A fields and every clock."""

    breach_id: str
    stage: str
    status: str
    outcome: str | None
    individuals: int
    data_elements: list[str]
    risk_level: str | None
    major_incident: bool
    notified: bool
    individuals_notified: int
    services: list[str]
    reported_to_cisa: bool
    reported_to_congress: bool
    clocks: list[Clock]
    at: datetime


class DecisionEntry(BaseModel):
    breach_id: str
    decision_id: str
    decision: str
    role: str
    decided_by: str
    decided_at: datetime
    rationale: str | None
    payload: dict[str, Any]
    case_chain: CaseAnchor | None = None  # the audit entry's place in the case's chain (models/case_chain.py)


class RoundEntry(BaseModel):
    """A finished notification round for the register (counts and file checksums, no rows)."""

    result: NotifyResult
    completed_at: datetime
    case_chain: CaseAnchor | None = None


# The audit table's column width for ``kind`` (activities/audit.py stores it as is).
AUDIT_KIND_LIMIT = 64


class AuditEntry(BaseModel):
    """``event_key`` is unique per event so a retried write lands once."""

    event_key: str
    breach_id: str
    at: datetime
    kind: str
    actor: str
    role: str | None = None
    detail: dict[str, Any] = {}


def storable_fields(entry: M) -> M:
    """The entry with its text fields as both databases can hold them (JSON fields are kept as they are)."""
    return entry.model_copy(update={k: storable(v) for k, v in entry if isinstance(v, str)})


def _chained(detail: dict[str, Any], anchor: CaseAnchor | None) -> dict[str, Any]:
    return {**detail, CASE_CHAIN: anchor.model_dump()} if anchor else detail


def with_case_chain(entry: AuditEntry, anchor: CaseAnchor | None) -> AuditEntry:
    return entry.model_copy(update={"detail": _chained(entry.detail, anchor)})


def decision_audit(entry: DecisionEntry) -> AuditEntry:
    """The audit entry of an accepted decision: built here for the workflow (which anchors it)
    and the register activity (which writes it) alike."""
    e = storable_fields(entry)
    return AuditEntry(
        event_key=f"{e.breach_id}:decision:{e.decision_id}", breach_id=e.breach_id, at=e.decided_at, kind=f"decision:{e.decision}", actor=e.decided_by, role=e.role,
        detail=_chained({"decision_id": e.decision_id, "rationale": e.rationale, "payload": e.payload}, e.case_chain),
    )


def round_audit(entry: RoundEntry) -> AuditEntry:
    """The audit entry of a finished notification round (see ``decision_audit``)."""
    r = entry.result
    return AuditEntry(
        event_key=f"{r.breach_id}:notification_round:{r.round}", breach_id=r.breach_id, at=entry.completed_at, kind="notification_round", actor="workflow",
        detail=_chained({"round": r.round, "recipients": r.counts.recipients, "export_sha256": r.export.sha256, "manifest_sha256": r.manifest.sha256, "roster_sha256": r.roster_sha256}, entry.case_chain),
    )


def refusal_entry(*, breach_id: str, decision: str, actor: str, role: str | None, reason: str, decision_id: str | None, attempt: str, at: datetime, source: str) -> AuditEntry:
    """The audit entry of a refused decision (kind ``refused:<decision>``), written by the
    worker for a refusal on a case's record. ``attempt`` identifies the attempt: the same
    decision id refused for the same reason is one entry however often it is resubmitted."""
    return AuditEntry(
        event_key=f"{breach_id}:refused:{hashlib.sha256(attempt.encode('utf-8')).hexdigest()[:32]}",
        breach_id=breach_id,
        at=at,
        kind=f"refused:{decision}"[:AUDIT_KIND_LIMIT],
        actor=actor,
        role=role,
        detail={"decision": decision, "decision_id": decision_id, "reason": reason, "source": source},
    )


class OutboundReport(BaseModel):
    """A document for an outside office (HHS CSIRC/PIM, CISA/OMB, Congress/OIG)."""

    breach_id: str
    kind: str
    document: dict[str, Any]


class Receipt(BaseModel):
    kind: str
    location: str
    sha256: str


class DraftRequest(BaseModel):
    kind: str
    breach_id: str
    system_id: str
    system_name: str | None
    discovered_at: datetime
    determined_at: datetime | None
    individuals: int
    data_elements: list[str]
    media: str
    intent: str
    hold: str | None
    notice_status: str
    assessment: RiskAssessment | None
    drafted_at: datetime

"""Inputs of the register and outbox activities: what the workflow asks to be written.

Times come from the workflow (``workflow.now()``) so records match the history exactly.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from models.case import Clock
from models.intake import IntakeReport
from models.notification import NotifyResult


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


class RoundEntry(BaseModel):
    """A finished notification round for the register (counts and file checksums, no rows)."""

    result: NotifyResult
    completed_at: datetime


class AuditEntry(BaseModel):
    """``event_key`` is unique per event so a retried write lands once."""

    event_key: str
    breach_id: str
    at: datetime
    kind: str
    actor: str
    role: str | None = None
    detail: dict[str, Any] = {}


class OutboundReport(BaseModel):
    """A document for an outside office (HHS CSIRC/PIM, CISA/OMB, Congress/OIG)."""

    breach_id: str
    kind: str
    document: dict[str, Any]


class Receipt(BaseModel):
    kind: str
    location: str
    sha256: str

"""Inputs of the register and outbox activities: what the workflow asks to be written.

Times come from the workflow (``workflow.now()``) so records match the history exactly.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from models.case import Clock
from models.intake import IntakeReport


class CaseOpening(BaseModel):
    report: IntakeReport
    system_known: bool
    stage: str
    opened_at: datetime


class StageChange(BaseModel):
    breach_id: str
    stage: str
    status: str
    at: datetime
    outcome: str | None = None


class ClockUpdate(BaseModel):
    breach_id: str
    clocks: list[Clock]


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

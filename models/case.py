"""The state of one breach case as the workflow holds it and as queries return it.

Clocks are data (name, start, due, state, source of the rule) so they can be shown,
queried and checked line by line against the plan.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, Field


class Stage(StrEnum):
    report = "report"
    confirm_pii = "confirm_pii"
    contractor_review = "contractor_review"
    risk_assessment = "risk_assessment"
    pim_review = "pim_review"
    cms_approval = "cms_approval"
    hhs_approval = "hhs_approval"
    notify = "notify"
    closed = "closed"


class ClockState(StrEnum):
    pending = "pending"
    met = "met"
    missed = "missed"
    paused = "paused"
    not_applicable = "not_applicable"


class Clock(BaseModel):
    """One deadline: when it started, when it is due, and the rule it comes from."""

    clock: str
    started_at: datetime
    due_at: datetime | None
    state: ClockState = ClockState.pending
    met_at: datetime | None = None
    source: str

    @classmethod
    def starting(cls, name: str, start: datetime, limit: timedelta, source: str) -> Clock:
        return cls(clock=name, started_at=start, due_at=start + limit, source=source)

    def remaining(self, now: datetime) -> timedelta | None:
        if self.state is not ClockState.pending or self.due_at is None:
            return None
        return self.due_at - now


class Finding(BaseModel):
    """Something the SOP must look at: a late report, an unknown system, a missed clock."""

    kind: str
    at: datetime
    detail: str


class SystemInfo(BaseModel):
    """What the inventory says about the breached system (None fields when unknown)."""

    system_id: str
    known: bool
    name: str | None = None
    pia_id: str | None = None
    sorns: list[str] = Field(default_factory=list)
    operator: str | None = None


class CaseView(BaseModel):
    """What `breach show`, the HTTP status route and tests read through the workflow query.

    Holds no personal data and not the report's free-text summary.
    """

    breach_id: str
    workflow_id: str
    stage: Stage
    status: str
    system: SystemInfo | None
    estimated_individuals: int
    contractor_involved: bool
    hipaa_covered: bool
    awaiting: str | None
    clocks: list[Clock]
    findings: list[Finding]
    outbox: list[str]

    @property
    def next_deadline(self) -> Clock | None:
        pending = [c for c in self.clocks if c.state is ClockState.pending and c.due_at]
        return min(pending, key=lambda c: c.due_at, default=None)

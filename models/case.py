"""The state of one breach case as queries return it: stage, clocks, findings, timeline.

Clocks are data (name, start, due, state, source of the rule) so they can be shown,
queried and checked line by line against the plan.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, field_validator


# OMB: the PII of 100,000 or more people makes a breach a major incident.
MAJOR_INCIDENT_INDIVIDUALS = 100_000


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


class ClockKind(StrEnum):
    statutory = "statutory"  # from law, OMB or the plan: warn, then record a missed deadline
    service_level = "service_level"  # our own limit on a human step: remind, then escalate


class Clock(BaseModel):
    """One deadline: when it started, when it is due, and the rule it comes from."""

    clock: str
    kind: ClockKind = ClockKind.statutory
    started_at: datetime
    due_at: datetime | None
    state: ClockState = ClockState.pending
    met_at: datetime | None = None
    source: str
    reminder_at: datetime | None = None
    reminded: bool = False
    paused_remaining: timedelta | None = None
    awaiting: list[str] = Field(default_factory=list, description="roles whose step this clock waits for")

    def remaining(self, now: datetime) -> timedelta | None:
        if self.state is ClockState.paused:
            return self.paused_remaining
        if self.state is not ClockState.pending or self.due_at is None:
            return None
        return self.due_at - now


class Finding(BaseModel):
    """Something the SOP must look at: a late report, an unknown system, a missed clock."""

    kind: str
    at: datetime
    detail: str


class TimelineEvent(BaseModel):
    """One line of a case's timeline, as exercises print it (DECISIONS.md, `--json` shape)."""

    at: datetime
    kind: str
    stage: str | None = None
    clock: str | None = None
    decision: str | None = None
    role: str | None = None
    by: str | None = None
    due_at: datetime | None = None
    detail: str | None = Field(None, description="free text; never holds absolute times (exercises shift times)")

    def compact(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class SystemInfo(BaseModel):
    """What the inventory says about the breached system (None fields when unknown)."""

    system_id: str
    known: bool
    name: str | None = None
    pia_id: str | None = None
    sorns: list[str] = Field(default_factory=list)
    operator: str | None = None


class CaseConfig(BaseModel):
    """Service levels and reminder lead times, fixed per case when it starts.

    Defaults are documented in the README. A case keeps the configuration it started
    with, so changing a default never changes the clocks of running cases.
    """

    csirc_report_limit: timedelta = timedelta(hours=1)
    service_levels: dict[str, timedelta] = {  # a partial dict is merged over these defaults
        "confirm_pii": timedelta(days=1),
        "co_acknowledge": timedelta(days=1),
        "co_record_contractor_response": timedelta(days=5),
        "co_complete_review": timedelta(days=10),
        "submit_risk_assessment": timedelta(days=5),
        "approve_major_incident": timedelta(days=1),
        "approve_response_plan": timedelta(days=3),
        "approve_notification": timedelta(days=3),
        "pim_approve_closure": timedelta(days=10),
        "respond_to_pim": timedelta(days=10),
        "record_notification_sent": timedelta(days=30),
    }
    reminder_fraction: float = Field(0.25, gt=0, lt=1, description="remind when this share of a clock's time is left")
    reminder_max_lead: timedelta = timedelta(days=2)
    oral_hold_limit: timedelta = timedelta(days=30)
    continue_as_new_events: int = Field(4000, ge=200)
    signature_window: timedelta = Field(timedelta(minutes=15), description="how far a decision's signing time may be from the case's clock")

    @field_validator("service_levels", mode="before")
    @classmethod
    def _merge_defaults(cls, value: dict) -> dict:
        return {**cls.model_fields["service_levels"].default, **(value or {})}


class CaseView(BaseModel):
    """What `breach show`, the HTTP status route and exercises read through the workflow query.

    Holds no personal data and not the report's free-text summary.
    """

    breach_id: str
    workflow_id: str
    stage: Stage
    status: str
    outcome: str | None = None
    system: SystemInfo | None
    estimated_individuals: int
    data_elements: list[str] = []
    contractor_involved: bool
    hipaa_covered: bool
    risk_level: str | None = None
    major_incident: bool = False
    individuals_notified: int = 0
    notification: str | None = Field(None, description="How far notification is: 'notified N of M' while the export runs, then the last round's figures")
    notify_progress: tuple[int, int] | None = Field(None, description="(roster rows done, rows expected) of the running export")
    notify_pending: bool = Field(False, description="The worker has notification work under way or due (letters, the export); no human step is awaited for it")
    awaiting: str | None
    hold_until: datetime | None = None
    clocks: list[Clock]
    findings: list[Finding]
    outbox: list[str]
    decisions: list[dict[str, Any]] = []

    @property
    def next_deadline(self) -> Clock | None:
        pending = [c for c in self.clocks if c.state is ClockState.pending and c.due_at]
        return min(pending, key=lambda c: c.due_at, default=None)

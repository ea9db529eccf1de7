"""The case register: SQLModel tables people query and report on (plan, Appendix A).

Written only by activities. Every table has a natural key so that a retried activity
upserts the same row instead of adding a second one.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, DateTime, UniqueConstraint
from sqlmodel import Field, SQLModel


def _ts(**kw) -> Field:
    return Field(sa_column=Column(DateTime(timezone=True), **kw))


class CaseRecord(SQLModel, table=True):
    """One breach, with the tracking fields of the plan's Appendix A."""

    __tablename__ = "cases"

    breach_id: str = Field(primary_key=True, max_length=200)
    workflow_id: str = Field(max_length=210, index=True)
    source: str = Field(max_length=32)
    external_id: str = Field(max_length=128)
    system_id: str = Field(max_length=128, index=True)
    system_known: bool
    stage: str = Field(max_length=32, index=True)
    status: str = Field(max_length=16, index=True, description="ongoing | concluded")
    outcome: str | None = Field(default=None, max_length=32)
    individuals: int = Field(description="number of individuals potentially affected")
    data_elements: list[str] = Field(sa_column=Column(JSON, nullable=False), description="types of information")
    contractor_involved: bool
    hipaa_covered: bool
    risk_level: str | None = Field(default=None, max_length=16)
    major_incident: bool = False
    notified: bool = False
    individuals_notified: int = 0
    services: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    reported_to_cisa: bool = False
    reported_to_congress: bool = False
    discovered_at: datetime = _ts(nullable=False)
    reported_at: datetime = _ts(nullable=False)
    opened_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)
    closed_at: datetime | None = _ts(nullable=True)


class DecisionRecord(SQLModel, table=True):
    """One accepted human decision: who, in which role, when, why, and its payload."""

    __tablename__ = "decisions"

    decision_id: str = Field(primary_key=True, max_length=128)
    breach_id: str = Field(max_length=200, index=True)
    decision: str = Field(max_length=64)
    role: str = Field(max_length=32)
    decided_by: str = Field(max_length=200)
    decided_at: datetime = _ts(nullable=False)
    rationale: str | None = None
    payload: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class ClockRecord(SQLModel, table=True):
    """The latest state of one clock of one case."""

    __tablename__ = "clocks"

    breach_id: str = Field(primary_key=True, max_length=200)
    clock: str = Field(primary_key=True, max_length=64)
    started_at: datetime = _ts(nullable=False)
    due_at: datetime | None = _ts(nullable=True)
    state: str = Field(max_length=16)
    met_at: datetime | None = _ts(nullable=True)
    source: str


class AuditEvent(SQLModel, table=True):
    """One entry of a case's audit trail; ``event_key`` makes a retried write land once."""

    __tablename__ = "audit_events"
    __table_args__ = (UniqueConstraint("event_key"),)

    id: int | None = Field(default=None, primary_key=True)
    event_key: str = Field(max_length=256)
    breach_id: str = Field(max_length=200, index=True)
    at: datetime = _ts(nullable=False)
    kind: str = Field(max_length=64)
    actor: str = Field(max_length=200)
    role: str | None = Field(default=None, max_length=32)
    detail: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))

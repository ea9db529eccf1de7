"""The case register: SQLModel tables people query and report on (plan, Appendix A).

Written only by activities. Every table has a natural key so that a retried activity
upserts the same row instead of adding a second one.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, BigInteger, Column, DateTime, UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator):
    """A point in time, stored in UTC and read back as an aware UTC datetime on every dialect.

    SQLite's DATETIME keeps no UTC offset: SQLAlchemy writes an aware time's wall-clock
    digits and drops the offset, so 08:30-05:00 came back as 08:30 (read as UTC: five
    hours early), while PostgreSQL's ``timestamptz`` stored 13:30 UTC and returned it in
    the server's time zone. Converting to UTC before writing (a naive time is taken as
    UTC) and marking what is read as UTC gives the same instants, and the same Python
    values, on both. Comparisons in queries go through the same conversion.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None or not isinstance(value, datetime):
            return value
        value = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts(**kw) -> Field:
    return Field(sa_column=Column(UTCDateTime(), **kw))


def _count(*, description: str | None = None, **default) -> Field:
    """A count of people: 64-bit (PostgreSQL's INTEGER stops at 2,147,483,647, SQLite's at 2**63 - 1)."""
    return Field(**default, description=description, sa_column=Column(BigInteger, nullable=False, **default))


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
    individuals: int = _count(description="number of individuals potentially affected")
    data_elements: list[str] = Field(sa_column=Column(JSON, nullable=False), description="types of information")
    contractor_involved: bool
    hipaa_covered: bool
    risk_level: str | None = Field(default=None, max_length=16)
    major_incident: bool = False
    notified: bool = False
    individuals_notified: int = _count(default=0)
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

    breach_id: str = Field(primary_key=True, max_length=200)
    decision_id: str = Field(primary_key=True, max_length=128, description="unique within its case: two cases may use the same id")
    decision: str = Field(max_length=64)
    role: str = Field(max_length=32)
    decided_by: str = Field(max_length=200)
    decided_at: datetime = _ts(nullable=False)
    rationale: str | None = None
    payload: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class NotificationRoundRecord(SQLModel, table=True):
    """One finished notification round: its counts, the roster it read and the files it wrote."""

    __tablename__ = "notification_rounds"

    breach_id: str = Field(primary_key=True, max_length=200)
    round: int = Field(primary_key=True)
    letter: str = Field(max_length=16, description="initial | follow_up")
    roster_sha256: str = Field(max_length=64)
    rows_read: int = _count()
    recipients: int = _count(description="unique persons notified this round")
    exported: int = _count(description="rows of the mail-house export")
    duplicates_merged: int = _count()
    errors: int = _count(description="roster rows refused (see the error report)")
    no_address: int = _count()
    substitute_notice_required: bool
    media_notice_states: list[str] = Field(sa_column=Column(JSON, nullable=False))
    by_state: dict = Field(sa_column=Column(JSON, nullable=False))
    export_path: str
    export_sha256: str = Field(max_length=64)
    manifest_path: str
    manifest_sha256: str = Field(max_length=64)
    completed_at: datetime = _ts(nullable=False)


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
    """One entry of the register's audit trail: an append-only hash chain.

    ``seq`` numbers the entries of the whole register 1, 2, 3, ... without gaps;
    ``prev_hash`` is the hash of entry ``seq - 1`` (a fixed genesis value for entry 1) and
    ``hash`` is SHA-256 over the canonical JSON of the entry (activities/audit.py), so a
    changed, removed or inserted row breaks the chain. ``event_key`` makes a retried
    write land once. Rows are written only through ``activities.audit.append``.
    """

    __tablename__ = "audit_events"
    __table_args__ = (UniqueConstraint("event_key"), UniqueConstraint("seq"))

    id: int | None = Field(default=None, primary_key=True)
    seq: int = Field(description="position in the register-wide chain, from 1, gapless")
    prev_hash: str = Field(max_length=64, description="hash of the previous entry (genesis value for seq 1)")
    hash: str = Field(max_length=64, description="sha256 hex over the canonical JSON of this entry")
    event_key: str = Field(max_length=256)
    breach_id: str = Field(max_length=200, index=True)
    at: datetime = _ts(nullable=False)
    kind: str = Field(max_length=64)
    actor: str = Field(max_length=200)
    role: str | None = Field(default=None, max_length=32)
    detail: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class AuditHead(SQLModel, table=True):
    """The chain's head: one row (id 1) with the last entry's seq and hash.

    Updated in the same transaction as every append, so removing the last entries of the
    trail (which leaves a valid but shorter chain) is detected by comparing with it.
    """

    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    last_seq: int
    last_hash: str = Field(max_length=64)
    updated_at: datetime = _ts(nullable=False)


class PayloadKeyRecord(SQLModel, table=True):
    """A payload key id some worker has encrypted with: every case written under it needs it.

    Written by each worker at start (``activities.register.note_payload_key``), so a worker
    whose key ring lacks a key still in use says so before any case fails to decode.
    """

    __tablename__ = "payload_keys"

    key_id: str = Field(primary_key=True, max_length=64)
    first_used_at: datetime = _ts(nullable=False)

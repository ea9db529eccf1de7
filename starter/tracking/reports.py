"""The tracking reports: each breach as the Appendix A template tracks it, totals, and the
three reports (cases over a period, the quarterly review, the annual summary).

The conventions every report states are in the package docstring (``starter/tracking``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from models.register import CaseRecord
from starter.tracking.periods import Period, fiscal_quarter, fiscal_year, iso, utc

NOTE_STATUS = "status is as of the review time (concluded when the case closed before it); the other fields are as the register holds them now"
NOTE_SERVICES = "services count as provided when individuals were notified with at least one approved service"


@dataclass(frozen=True)
class CaseLine:
    """One breach as the Appendix A template tracks it."""

    breach_id: str
    opened_at: datetime
    closed_at: datetime | None
    status: str
    stage: str
    outcome: str | None
    risk_level: str | None
    individuals: int
    individuals_notified: int
    data_elements: tuple[str, ...]
    notified: bool
    services: tuple[str, ...]
    services_provided: bool
    reported_to_cisa: bool
    reported_to_congress: bool
    major_incident: bool

    @property
    def reported_to_cisa_or_congress(self) -> bool:
        return self.reported_to_cisa or self.reported_to_congress

    def as_dict(self) -> dict[str, Any]:
        return {
            "breach_id": self.breach_id,
            "opened_at": iso(self.opened_at),
            "closed_at": iso(self.closed_at),
            "status": self.status,
            "stage": self.stage,
            "outcome": self.outcome,
            "risk_level": self.risk_level,
            "individuals": self.individuals,
            "individuals_notified": self.individuals_notified,
            "data_elements": list(self.data_elements),
            "notified": self.notified,
            "services": list(self.services),
            "services_provided": self.services_provided,
            "reported_to_cisa": self.reported_to_cisa,
            "reported_to_congress": self.reported_to_congress,
            "reported_to_cisa_or_congress": self.reported_to_cisa_or_congress,
            "major_incident": self.major_incident,
        }


def status_at(record: CaseRecord, review_end: datetime | None) -> str:
    """``concluded`` when the case had closed before ``review_end`` (``None``: now), else ``ongoing``."""
    if record.status != "concluded":
        return "ongoing"
    if review_end is None:
        return "concluded"
    concluded_at = utc(record.closed_at or record.updated_at)
    return "concluded" if concluded_at < review_end else "ongoing"


def case_line(record: CaseRecord, review_end: datetime | None = None) -> CaseLine:
    services = tuple(record.services or ())
    return CaseLine(
        breach_id=record.breach_id,
        opened_at=utc(record.opened_at),
        closed_at=utc(record.closed_at) if record.closed_at else None,
        status=status_at(record, review_end),
        stage=record.stage,
        outcome=record.outcome,
        risk_level=record.risk_level,
        individuals=record.individuals,
        individuals_notified=record.individuals_notified,
        data_elements=tuple(record.data_elements or ()),
        notified=record.notified,
        services=services,
        services_provided=bool(record.notified and services),
        reported_to_cisa=record.reported_to_cisa,
        reported_to_congress=record.reported_to_congress,
        major_incident=record.major_incident,
    )


@dataclass(frozen=True)
class Totals:
    cases: int = 0
    ongoing: int = 0
    concluded: int = 0
    individuals: int = 0
    individuals_notified: int = 0
    notified: int = 0
    services_provided: int = 0
    reported_to_cisa: int = 0
    reported_to_congress: int = 0
    reported_to_cisa_or_congress: int = 0
    major_incident: int = 0
    data_elements: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, lines: Iterable[CaseLine]) -> Totals:
        lines = list(lines)
        elements = Counter(e for line in lines for e in set(line.data_elements))
        return cls(
            cases=len(lines),
            ongoing=sum(line.status == "ongoing" for line in lines),
            concluded=sum(line.status == "concluded" for line in lines),
            individuals=sum(line.individuals for line in lines),
            individuals_notified=sum(line.individuals_notified for line in lines),
            notified=sum(line.notified for line in lines),
            services_provided=sum(line.services_provided for line in lines),
            reported_to_cisa=sum(line.reported_to_cisa for line in lines),
            reported_to_congress=sum(line.reported_to_congress for line in lines),
            reported_to_cisa_or_congress=sum(line.reported_to_cisa_or_congress for line in lines),
            major_incident=sum(line.major_incident for line in lines),
            data_elements=dict(sorted(elements.items())),
        )

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class Breakdown:
    period: Period
    totals: Totals


@dataclass(frozen=True)
class TrackingReport:
    kind: str  # "cases" | "quarterly" | "annual"
    title: str
    period: Period
    review_end: datetime | None  # status is as of this time; None: as of generation
    generated_at: datetime
    cases: list[CaseLine]
    totals: Totals
    by_quarter: list[Breakdown] = field(default_factory=list)
    fiscal_year: int | None = None
    quarter: int | None = None

    @property
    def status_as_of(self) -> datetime:
        return self.review_end or self.generated_at

    @property
    def notes(self) -> list[str]:
        return [f"breaches by case opening time, {self.period.describe()} (UTC)", NOTE_STATUS, NOTE_SERVICES]


def load_cases(session: Session, start: datetime | None, end: datetime | None) -> list[CaseRecord]:
    """Cases opened in ``[start, end)``, oldest first."""
    stmt = select(CaseRecord)
    if start is not None:
        stmt = stmt.where(CaseRecord.opened_at >= utc(start))
    if end is not None:
        stmt = stmt.where(CaseRecord.opened_at < utc(end))
    records = session.exec(stmt).all()
    return sorted(records, key=lambda r: (utc(r.opened_at), r.breach_id))


def _review_end(period_end: datetime | None, now: datetime) -> datetime | None:
    """The time statuses are taken at: the period's end once it has passed, else now (the current status)."""
    return period_end if period_end is not None and period_end <= utc(now) else None


def _quarters(fy: int, up_to: int, lines: list[CaseLine]) -> list[Breakdown]:
    out = []
    for q in range(1, up_to + 1):
        period = fiscal_quarter(fy, q)
        out.append(Breakdown(period, Totals.of(line for line in lines if period.contains(line.opened_at))))
    return out


def cases_report(session: Session, start: datetime | None = None, end: datetime | None = None, *, now: datetime) -> TrackingReport:
    """Every breach opened in ``[start, end)`` with its current status, and the totals."""
    if start is not None and end is not None and start >= end:
        raise ValueError(f"the period is empty: from {iso(start)} is not before to {iso(end)}")
    period = Period("period", utc(start) if start else None, utc(end) if end else None)
    lines = [case_line(r) for r in load_cases(session, period.start, period.end)]
    title = "Breaches opened " + ("(all)" if start is None and end is None else period.describe())
    return TrackingReport("cases", title, period, None, utc(now), lines, Totals.of(lines))


def quarterly_review(session: Session, fy: int, quarter: int, *, now: datetime) -> TrackingReport:
    """The SOP's review at the end of ``quarter``: every breach of fiscal year ``fy`` up to then, status at the quarter's end."""
    q = fiscal_quarter(fy, quarter)
    year = fiscal_year(fy)
    period = Period(q.label, year.start, q.end)
    review_end = _review_end(q.end, now)
    lines = [case_line(r, review_end) for r in load_cases(session, period.start, period.end)]
    when = f"status at {iso(review_end)}" if review_end else "quarter not over: status now"
    title = f"Quarterly review {q.label}: breaches of FY{fy} opened {period.describe()} ({when})"
    return TrackingReport("quarterly", title, period, review_end, utc(now), lines, Totals.of(lines), _quarters(fy, quarter, lines), fy, quarter)


def annual_summary(session: Session, fy: int, *, now: datetime) -> TrackingReport:
    """Every breach of fiscal year ``fy`` with its status at the year's end, totals and a per-quarter breakdown."""
    period = fiscal_year(fy)
    review_end = _review_end(period.end, now)
    lines = [case_line(r, review_end) for r in load_cases(session, period.start, period.end)]
    when = f"status at {iso(review_end)}" if review_end else "year not over: status now"
    title = f"Annual summary FY{fy}: breaches opened {period.describe()} ({when})"
    return TrackingReport("annual", title, period, review_end, utc(now), lines, Totals.of(lines), _quarters(fy, 4, lines), fy)

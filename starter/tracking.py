"""Tracking reports from the register (the plan's Appendix A, "Tracking and documenting").

Per breach: status (ongoing / concluded), number of individuals potentially affected,
types of information, whether individuals were notified, whether services were
provided, whether it was reported to CISA and/or Congress; totals over a period; the
SOP's quarterly review of every breach of the fiscal year; the annual summary.

Conventions (stated in every report):
- A breach belongs to a period by the time its case was opened (``opened_at``), in
  ``[from, to)``; period boundaries are at 00:00 UTC.
- The federal fiscal year starts on 1 October: FY2027 is 2026-10-01 to 2027-09-30 and
  its Q1 is 2026-10-01 to 2026-12-31.
- The quarterly review lists every breach opened from the start of the fiscal year to
  the end of the quarter, with its status at the end of the quarter (concluded when the
  case closed before then). The other fields are as the register holds them when the
  report is made: the register keeps their current value, not their history.
- Services count as provided when the individuals were notified (services are offered
  with the notification) and the approved notification named at least one service.

All functions here are pure over a Session (no Temporal, no globals), so reports are
reproducible and testable; the command line is in starter/tracking_cmd.py.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, select

from models.register import CaseRecord

NOTE_STATUS = "status is as of the review time (concluded when the case closed before it); the other fields are as the register holds them now"
NOTE_SERVICES = "services count as provided when individuals were notified with at least one approved service"


# ---------------------------------------------------------------------------- periods


@dataclass(frozen=True)
class Period:
    """``[start, end)`` in UTC; ``None`` means unbounded."""

    label: str
    start: datetime | None
    end: datetime | None

    def contains(self, at: datetime) -> bool:
        return (self.start is None or at >= self.start) and (self.end is None or at < self.end)

    @property
    def last_day(self) -> date | None:
        return (self.end - timedelta(microseconds=1)).date() if self.end else None

    def describe(self) -> str:
        if self.start is None and self.end is None:
            return "all dates"
        first = self.start.date().isoformat() if self.start else "the beginning"
        last = self.last_day.isoformat() if self.end else "now"
        return f"{first} to {last}"

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "from": _iso(self.start), "to": _iso(self.end), "last_day": self.last_day.isoformat() if self.end else None}


def _midnight(year: int, month: int) -> datetime:
    return datetime(year, month, 1, tzinfo=UTC)


def fiscal_year(fy: int) -> Period:
    """FY ``fy`` runs from 1 October of ``fy - 1`` to 30 September of ``fy``."""
    return Period(f"FY{fy}", _midnight(fy - 1, 10), _midnight(fy, 10))


def fiscal_quarter(fy: int, quarter: int) -> Period:
    """Q1 = October-December of ``fy - 1``, Q2 = January-March, Q3 = April-June, Q4 = July-September of ``fy``."""
    if quarter not in (1, 2, 3, 4):
        raise ValueError(f"quarter must be 1, 2, 3 or 4, not {quarter}")
    starts = [(fy - 1, 10), (fy, 1), (fy, 4), (fy, 7), (fy, 10)]
    return Period(f"FY{fy} Q{quarter}", _midnight(*starts[quarter - 1]), _midnight(*starts[quarter]))


def fiscal_quarter_of(at: datetime) -> tuple[int, int]:
    """(fiscal year, quarter) of a time, in UTC."""
    at = _utc(at)
    if at.month >= 10:
        return at.year + 1, 1
    return at.year, (at.month - 1) // 3 + 2


def parse_when(value: str) -> datetime:
    """A date (``2026-10-01``, midnight UTC) or an ISO 8601 time (naive means UTC)."""
    text = value.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)
        return _utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        raise ValueError(f"{value!r} is not a date (YYYY-MM-DD) or an ISO 8601 time") from None


# ---------------------------------------------------------------------------- rows


def _utc(at: datetime) -> datetime:
    """SQLite hands back naive times (stored in UTC); PostgreSQL aware ones."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _iso(at: datetime | None) -> str | None:
    return _utc(at).isoformat().replace("+00:00", "Z") if at else None


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
            "opened_at": _iso(self.opened_at),
            "closed_at": _iso(self.closed_at),
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
    concluded_at = _utc(record.closed_at or record.updated_at)
    return "concluded" if concluded_at < review_end else "ongoing"


def case_line(record: CaseRecord, review_end: datetime | None = None) -> CaseLine:
    services = tuple(record.services or ())
    return CaseLine(
        breach_id=record.breach_id,
        opened_at=_utc(record.opened_at),
        closed_at=_utc(record.closed_at) if record.closed_at else None,
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


# ---------------------------------------------------------------------------- queries


def load_cases(session: Session, start: datetime | None, end: datetime | None) -> list[CaseRecord]:
    """Cases opened in ``[start, end)``, oldest first."""
    stmt = select(CaseRecord)
    if start is not None:
        stmt = stmt.where(CaseRecord.opened_at >= _utc(start))
    if end is not None:
        stmt = stmt.where(CaseRecord.opened_at < _utc(end))
    records = session.exec(stmt).all()
    return sorted(records, key=lambda r: (_utc(r.opened_at), r.breach_id))


def _review_end(period_end: datetime | None, now: datetime) -> datetime | None:
    """The time statuses are taken at: the period's end once it has passed, else now (the current status)."""
    return period_end if period_end is not None and period_end <= _utc(now) else None


def _quarters(fy: int, up_to: int, lines: list[CaseLine]) -> list[Breakdown]:
    out = []
    for q in range(1, up_to + 1):
        period = fiscal_quarter(fy, q)
        out.append(Breakdown(period, Totals.of(line for line in lines if period.contains(line.opened_at))))
    return out


def cases_report(session: Session, start: datetime | None = None, end: datetime | None = None, *, now: datetime) -> TrackingReport:
    """Every breach opened in ``[start, end)`` with its current status, and the totals."""
    if start is not None and end is not None and start >= end:
        raise ValueError(f"the period is empty: from {_iso(start)} is not before to {_iso(end)}")
    period = Period("period", _utc(start) if start else None, _utc(end) if end else None)
    lines = [case_line(r) for r in load_cases(session, period.start, period.end)]
    title = "Breaches opened " + ("(all)" if start is None and end is None else period.describe())
    return TrackingReport("cases", title, period, None, _utc(now), lines, Totals.of(lines))


def quarterly_review(session: Session, fy: int, quarter: int, *, now: datetime) -> TrackingReport:
    """The SOP's review at the end of ``quarter``: every breach of fiscal year ``fy`` up to then, status at the quarter's end."""
    q = fiscal_quarter(fy, quarter)
    year = fiscal_year(fy)
    period = Period(q.label, year.start, q.end)
    review_end = _review_end(q.end, now)
    lines = [case_line(r, review_end) for r in load_cases(session, period.start, period.end)]
    when = f"status at {_iso(review_end)}" if review_end else "quarter not over: status now"
    title = f"Quarterly review {q.label}: breaches of FY{fy} opened {period.describe()} ({when})"
    return TrackingReport("quarterly", title, period, review_end, _utc(now), lines, Totals.of(lines), _quarters(fy, quarter, lines), fy, quarter)


def annual_summary(session: Session, fy: int, *, now: datetime) -> TrackingReport:
    """Every breach of fiscal year ``fy`` with its status at the year's end, totals and a per-quarter breakdown."""
    period = fiscal_year(fy)
    review_end = _review_end(period.end, now)
    lines = [case_line(r, review_end) for r in load_cases(session, period.start, period.end)]
    when = f"status at {_iso(review_end)}" if review_end else "year not over: status now"
    title = f"Annual summary FY{fy}: breaches opened {period.describe()} ({when})"
    return TrackingReport("annual", title, period, review_end, _utc(now), lines, Totals.of(lines), _quarters(fy, 4, lines), fy)


# ---------------------------------------------------------------------------- formats


def to_dict(report: TrackingReport) -> dict[str, Any]:
    return {
        "report": report.kind,
        "title": report.title,
        "fiscal_year": report.fiscal_year,
        "quarter": report.quarter,
        "period": report.period.as_dict(),
        "status_as_of": _iso(report.status_as_of),
        "generated_at": _iso(report.generated_at),
        "notes": report.notes,
        "cases": [line.as_dict() for line in report.cases],
        "totals": report.totals.as_dict(),
        "by_quarter": [{**b.period.as_dict(), "totals": b.totals.as_dict()} for b in report.by_quarter],
    }


def to_json(report: TrackingReport) -> str:
    return json.dumps(to_dict(report), indent=2, ensure_ascii=False) + "\n"


CSV_COLUMNS = [
    "record", "label", "opened_at", "closed_at", "status", "stage", "outcome", "risk_level", "data_elements", "services",
    "cases", "ongoing", "concluded", "individuals", "individuals_notified", "notified", "services_provided",
    "reported_to_cisa", "reported_to_congress", "reported_to_cisa_or_congress", "major_incident",
]
_COUNTS = ["cases", "ongoing", "concluded", "individuals", "individuals_notified", "notified", "services_provided", "reported_to_cisa", "reported_to_congress", "reported_to_cisa_or_congress", "major_incident"]


def _totals_row(record: str, label: str, totals: Totals) -> dict[str, Any]:
    row = {c: "" for c in CSV_COLUMNS} | {"record": record, "label": label}
    row |= {c: getattr(totals, c) for c in _COUNTS}
    row["data_elements"] = ";".join(f"{k}={v}" for k, v in totals.data_elements.items())
    return row


def to_csv(report: TrackingReport) -> str:
    """One row per breach (``record=case``; yes/no as 1/0), then one per quarter and the totals.

    Every count column of a ``total`` row is the sum of that column over the case
    rows, so a spreadsheet can re-check it; ``data_elements`` of a total row counts the
    cases per type of information (``ssn=3;name=5``).
    """
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for line in report.cases:
        writer.writerow({
            "record": "case",
            "label": line.breach_id,
            "opened_at": _iso(line.opened_at),
            "closed_at": _iso(line.closed_at) or "",
            "status": line.status,
            "stage": line.stage,
            "outcome": line.outcome or "",
            "risk_level": line.risk_level or "",
            "data_elements": ";".join(line.data_elements),
            "services": ";".join(line.services),
            "cases": 1,
            "ongoing": int(line.status == "ongoing"),
            "concluded": int(line.status == "concluded"),
            "individuals": line.individuals,
            "individuals_notified": line.individuals_notified,
            "notified": int(line.notified),
            "services_provided": int(line.services_provided),
            "reported_to_cisa": int(line.reported_to_cisa),
            "reported_to_congress": int(line.reported_to_congress),
            "reported_to_cisa_or_congress": int(line.reported_to_cisa_or_congress),
            "major_incident": int(line.major_incident),
        })
    for b in report.by_quarter:
        writer.writerow(_totals_row("quarter", b.period.label, b.totals))
    writer.writerow(_totals_row("total", report.period.label, report.totals))
    return buf.getvalue()


# ---------------------------------------------------------------------------- register access and output files


class RegisterUnavailable(Exception):
    """The register cannot be opened; the message says why and what to set."""


def open_register(url: str) -> Engine:
    """The register's engine; refuses to create a new empty SQLite file where none is (a wrong data folder)."""
    from activities.db import make_engine

    try:
        parsed = make_url(url)
    except SQLAlchemyError as exc:
        raise RegisterUnavailable(f"the register URL is not valid ({exc}); check BREACH_DATABASE_URL") from None
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:" and not Path(parsed.database).exists():
        raise RegisterUnavailable(f"no register at {parsed.database}: set BREACH_DATA_DIR to the service's data folder or BREACH_DATABASE_URL (the worker creates the register)")
    try:
        return make_engine(url)
    except SQLAlchemyError as exc:
        raise RegisterUnavailable(f"cannot open the register at {parsed.render_as_string(hide_password=True)}: {exc.__class__.__name__}: {getattr(exc, 'orig', None) or exc}") from None


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder, so a reader never sees half a file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or Path("."))
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

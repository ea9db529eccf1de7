"""Periods of the tracking reports: ``[start, end)`` in UTC, federal fiscal years and quarters.

The federal fiscal year starts on 1 October: FY2027 is 2026-10-01 to 2027-09-30 and its
Q1 is 2026-10-01 to 2026-12-31. Times from the register are read as UTC (SQLite hands
them back naive).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any


def utc(at: datetime) -> datetime:
    """SQLite hands back naive times (stored in UTC); PostgreSQL aware ones."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def iso(at: datetime | None) -> str | None:
    return utc(at).isoformat().replace("+00:00", "Z") if at else None


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
        return {"label": self.label, "from": iso(self.start), "to": iso(self.end), "last_day": self.last_day.isoformat() if self.end else None}


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
    at = utc(at)
    if at.month >= 10:
        return at.year + 1, 1
    return at.year, (at.month - 1) // 3 + 2


def parse_when(value: str) -> datetime:
    """A date (``2026-10-01``, midnight UTC) or an ISO 8601 time (naive means UTC)."""
    text = value.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)
        return utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        raise ValueError(f"{value!r} is not a date (YYYY-MM-DD) or an ISO 8601 time") from None

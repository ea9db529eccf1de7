"""The tracking reports as files: JSON (the whole report) and CSV (one row per breach, then
one per quarter and the totals, so a spreadsheet can re-check every sum).

The CSV's text cells are written safe for a spreadsheet (``activities.safe_text.csv_cell``:
one that would be evaluated as a formula gets a leading quote); the counts are numbers and
are written as they are, so every sum still adds up."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from activities.safe_text import csv_cell
from starter.tracking.periods import iso
from starter.tracking.reports import Totals, TrackingReport


def to_dict(report: TrackingReport) -> dict[str, Any]:
    return {
        "report": report.kind,
        "title": report.title,
        "fiscal_year": report.fiscal_year,
        "quarter": report.quarter,
        "period": report.period.as_dict(),
        "status_as_of": iso(report.status_as_of),
        "generated_at": iso(report.generated_at),
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

    def write(row: dict[str, Any]) -> None:
        writer.writerow({column: csv_cell(value) for column, value in row.items()})

    for line in report.cases:
        write({
            "record": "case",
            "label": line.breach_id,
            "opened_at": iso(line.opened_at),
            "closed_at": iso(line.closed_at) or "",
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
        write(_totals_row("quarter", b.period.label, b.totals))
    write(_totals_row("total", report.period.label, report.totals))
    return buf.getvalue()

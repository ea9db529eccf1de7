"""Clock rules: each deadline computed from its own trigger, with the rule it comes from."""

from __future__ import annotations

from datetime import timedelta

from models.case import Clock
from models.intake import IntakeReport

CONTRACTOR_REPORT_LIMIT = timedelta(hours=1)
CSIRC_REPORT_LIMIT = timedelta(hours=1)


def intake_clocks(report: IntakeReport) -> list[Clock]:
    """Clocks that start with the report itself."""
    clocks = [
        Clock.starting(
            "csirc_report",
            report.reported_at,
            CSIRC_REPORT_LIMIT,
            "plan: Reporting suspected or confirmed breaches to HHS (without unreasonable delay; HHS practice 1 hour from awareness)",
        )
    ]
    if report.contractor_involved:
        clocks.append(
            Clock.starting(
                "contractor_report",
                report.discovered_at,
                CONTRACTOR_REPORT_LIMIT,
                "plan: contractors report to the agency within one hour of discovery",
            )
        )
    return clocks

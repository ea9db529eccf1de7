"""Clock rules: each deadline computed from its own trigger, with the rule it comes from.

Pure arithmetic on datetimes, so the workflow and the tests compute the same due times.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from models.case import CaseConfig, Clock, ClockKind

HOUR, DAY = timedelta(hours=1), timedelta(days=1)

SOURCES = {
    "contractor_report": "plan: contractors report to the agency within one hour of discovery",
    "csirc_report": "plan and M-17-12: report to HHS CSIRC/PIM without unreasonable delay (HHS practice: 1 hour from awareness)",
    "cisa_omb": "plan: Initial notification to CISA and OMB OFCIO, within one hour of the major-incident determination",
    "congress_oig": "plan: Notification to Congress and HHS OIG, within seven days of the determination",
    "supplemental_30d": "plan and M-25-04: 30-day supplemental report to Congress, from discovery of the breach",
    "hipaa_individuals": "45 CFR 164.404: individual notice without unreasonable delay, at most 60 days from discovery",
    "hipaa_ocr": "45 CFR 164.408: notice to HHS OCR with the individual notice (500 or more individuals)",
    "hipaa_ocr_annual_log": "45 CFR 164.408(c): annual log to HHS within 60 days after the calendar year ends (fewer than 500)",
    "hipaa_media": "45 CFR 164.406: media notice within 60 days of discovery (more than 500 residents of one state)",
    "business_associate": "45 CFR 164.410: business associate notifies the covered entity within 60 days of discovery",
    "law_enforcement_hold": "plan: Timeliness; 45 CFR 164.412: notification held by law enforcement or national security",
}

LIMITS = {
    "contractor_report": HOUR,
    "cisa_omb": HOUR,
    "congress_oig": 7 * DAY,
    "supplemental_30d": 30 * DAY,
    "hipaa_individuals": 60 * DAY,
    "hipaa_ocr": 60 * DAY,
    "hipaa_media": 60 * DAY,
    "business_associate": 60 * DAY,
}

# Clocks that a law-enforcement or national-security hold pauses.
NOTIFICATION_CLOCKS = frozenset({"hipaa_individuals", "hipaa_ocr", "hipaa_media", "record_notification_sent"})


def reminder_at(start: datetime, due: datetime, config: CaseConfig) -> datetime:
    lead = min((due - start) * config.reminder_fraction, config.reminder_max_lead)
    return due - lead


def statutory(name: str, start: datetime, config: CaseConfig, limit: timedelta | None = None) -> Clock:
    due = start + (limit if limit is not None else LIMITS[name])
    return Clock(clock=name, started_at=start, due_at=due, source=SOURCES[name], reminder_at=reminder_at(start, due, config))


def service_level(name: str, start: datetime, config: CaseConfig, awaiting: list[str]) -> Clock:
    due = start + config.service_levels[name]
    return Clock(
        clock=name,
        kind=ClockKind.service_level,
        started_at=start,
        due_at=due,
        source=f"service level: {config.service_levels[name]} for {name} (CaseConfig.service_levels)",
        reminder_at=reminder_at(start, due, config),
        awaiting=awaiting,
    )


def annual_log_window(discovered: datetime) -> tuple[datetime, datetime]:
    """Start and due of the HIPAA annual log: the calendar year's end, then 60 days.

    Due at the end of 1 March (29 February in leap years), in the discovery's own offset.
    """
    year_end = datetime(discovered.year + 1, 1, 1, tzinfo=discovered.tzinfo)
    return year_end, year_end + 60 * DAY


def annual_log(discovered: datetime, config: CaseConfig) -> Clock:
    start, due = annual_log_window(discovered)
    return Clock(clock="hipaa_ocr_annual_log", started_at=start, due_at=due, source=SOURCES["hipaa_ocr_annual_log"], reminder_at=reminder_at(start, due, config))


def hold(start: datetime, until: datetime, written: bool, config: CaseConfig) -> Clock:
    """A hold ends at ``until``; an oral one lapses after the oral limit unless a written one follows."""
    end = until if written else min(until, start + config.oral_hold_limit)
    return Clock(clock="law_enforcement_hold", started_at=start, due_at=end, source=SOURCES["law_enforcement_hold"] + ("" if written else " (oral: at most 30 days)"))

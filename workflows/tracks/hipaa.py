"""The HIPAA clocks a covered case carries, and the notice to HHS OCR (45 CFR 164.404-410).

OCR hears with the individual notice when 500 or more people are affected, otherwise in
the annual log; the media notice applies above 500 residents of one state. The counts can
change with new information, so ``count_clocks`` is run again whenever they do.
"""

from __future__ import annotations

from models.case import ClockState
from workflows import clocks as rules
from workflows.case import Case
from workflows.ledger import CLOCK_FIXES


def count_clocks(case: Case, before: int | None = None) -> None:
    """OCR with the individual notice at 500 or more, else the annual log; media above 500.

    ``before`` is the count before new information changed it: a clock the count retired
    comes back when the count crosses its threshold again (unless OCR already heard).
    """
    s, ledger = case.s, case.ledger
    discovered = s.report.discovered_at
    wanted = "hipaa_ocr" if s.individuals >= 500 else "hipaa_ocr_annual_log"
    other = "hipaa_ocr_annual_log" if wanted == "hipaa_ocr" else "hipaa_ocr"
    crossed = before is not None and (before >= 500) != (s.individuals >= 500)
    back = crossed and _retired(case, wanted) and not _done(case, other)
    if not ledger.pending(wanted) and (wanted not in s.clocks or (back and ledger.patched(CLOCK_FIXES))):
        ledger.start(rules.statutory("hipaa_ocr", discovered, s.config) if wanted == "hipaa_ocr" else rules.annual_log(discovered, s.config))
    if ledger.pending(other):
        ledger.not_applicable(other, f"{s.individuals} individuals")
    media_back = before is not None and before <= 500 < s.individuals and _retired(case, "hipaa_media")
    if s.individuals > 500 and ("hipaa_media" not in s.clocks or (media_back and ledger.patched(CLOCK_FIXES))):
        ledger.start(rules.statutory("hipaa_media", discovered, s.config))
    elif s.individuals <= 500 and ledger.pending("hipaa_media"):
        ledger.not_applicable("hipaa_media", f"{s.individuals} individuals: no state can have more than 500")


def _retired(case: Case, name: str) -> bool:
    c = case.s.clocks.get(name)
    return c is not None and c.state is ClockState.not_applicable


def _done(case: Case, name: str) -> bool:
    c = case.s.clocks.get(name)
    return c is not None and c.met_at is not None


def ocr_open(case: Case) -> bool:
    """OCR is still to hear with the individual notice: its clock runs, or was missed and is not yet done."""
    c = case.s.clocks.get("hipaa_ocr")
    return c is not None and (c.state in (ClockState.pending, ClockState.paused) or (c.state is ClockState.missed and c.met_at is None))


def ocr_document(case: Case) -> dict:
    s = case.s
    return {
        "kind": "hipaa_breach_notice",
        "to": ["HHS Office for Civil Rights"],
        "breach_id": s.report.breach_id,
        "discovered_at": s.report.discovered_at.isoformat(),
        "individuals": s.individuals,
        "individuals_notified": s.individuals_notified,
        "data_elements": [e.value for e in s.data_elements],
        "sent_at": case.now().isoformat(),
    }

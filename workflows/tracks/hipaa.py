"""The HIPAA clocks a covered case carries, and the notice to HHS OCR (45 CFR 164.404-410).

OCR hears with the individual notice when 500 or more people are affected, otherwise in
the annual log; the media notice applies above 500 residents of one state. The counts can
change with new information, so ``count_clocks`` is run again whenever they do.
"""

from __future__ import annotations

from workflows import clocks as rules
from workflows.case import Case


def count_clocks(case: Case) -> None:
    """OCR with the individual notice at 500 or more, else the annual log; media above 500."""
    s, ledger = case.s, case.ledger
    discovered = s.report.discovered_at
    wanted = "hipaa_ocr" if s.individuals >= 500 else "hipaa_ocr_annual_log"
    other = "hipaa_ocr_annual_log" if wanted == "hipaa_ocr" else "hipaa_ocr"
    if not ledger.pending(wanted) and wanted not in s.clocks:
        ledger.start(rules.statutory("hipaa_ocr", discovered, s.config) if wanted == "hipaa_ocr" else rules.annual_log(discovered, s.config))
    if ledger.pending(other):
        ledger.not_applicable(other, f"{s.individuals} individuals")
    if s.individuals > 500 and "hipaa_media" not in s.clocks:
        ledger.start(rules.statutory("hipaa_media", discovered, s.config))
    elif s.individuals <= 500 and ledger.pending("hipaa_media"):
        ledger.not_applicable("hipaa_media", f"{s.individuals} individuals: no state can have more than 500")


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

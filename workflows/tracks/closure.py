"""Closing a case: its outcome, the HIPAA annual-log entry, the last audit entry.

A major incident stays open after its outcome until every outbound report is sent (plan:
the 30-day supplemental report to Congress follows the case), so ``close`` may only record
the outcome; ``workflows/tracks/major.py`` closes the case when the last report goes.
"""

from __future__ import annotations

from workflows.case import Case
from workflows.tracks.hipaa import ocr_document


async def close(case: Case, outcome: str) -> None:
    s, ledger = case.s, case.ledger
    s.main_outcome = outcome
    if not s.major.reports_done:
        ledger.event("awaiting_major_reports", detail=f"{outcome}; the case closes when every major-incident report is sent")
        ledger.publish()
        return
    if ledger.pending("hipaa_ocr_annual_log") and outcome == "notified":
        await case.send("hipaa_ocr_annual_log_entry", ocr_document(case), summary="Add the case to the HIPAA annual log to HHS (45 CFR 164.408(c))")
        ledger.settle("hipaa_ocr_annual_log")
    ledger.conclude(outcome)
    await case.audit(case.audit_entry("closed", {"outcome": outcome}), f"Audit: closed ({outcome})")

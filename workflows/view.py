"""What a case shows of itself: the details query, the awaiting and notification lines,
its search attributes and the register's snapshot of it.

Pure functions of the ledger (no Temporal), so the Web UI's current details, ``breach
show`` and the register always say the same thing about a case.
"""

from __future__ import annotations

from datetime import datetime

from models import search
from models.case import CaseView, Stage
from models.case_state import CaseState
from models.records import CaseSync
from workflows.ledger import ENTRY_SLA, CaseLedger


def export_round(s: CaseState) -> int:
    """The notice round the next (or running) export sends."""
    return s.notice_rounds + 1


def case_view(ledger: CaseLedger) -> CaseView:
    s = ledger.state
    return CaseView(
        breach_id=s.report.breach_id,
        workflow_id=s.report.workflow_id,
        stage=s.stage,
        status="concluded" if s.closed else "ongoing",
        outcome=s.main_outcome if s.closed else None,
        system=s.system,
        estimated_individuals=s.individuals,
        data_elements=[e.value for e in s.data_elements],
        contractor_involved=s.report.contractor_involved,
        hipaa_covered=s.report.hipaa_covered,
        risk_level=s.assessment.level.value if s.assessment else None,
        major_incident=s.major.determined,
        individuals_notified=s.individuals_notified,
        notification=notification_text(ledger),
        notify_progress=(s.notify_progress.rows_done, s.notify_progress.rows_expected) if s.notify_progress else None,
        notify_pending=ledger.exporting or s.preparing_letters or s.letters_stale or ledger.export_due(),
        awaiting=awaiting_text(s),
        hold_until=s.clocks["law_enforcement_hold"].due_at if s.hold else None,
        clocks=sorted(s.clocks.values(), key=lambda c: (c.due_at is None, c.due_at, c.clock)),
        findings=list(s.findings),
        outbox=list(s.outbox),
        decisions=[d.model_dump(mode="json") for d in s.decisions],
    )


def notification_text(ledger: CaseLedger) -> str | None:
    s = ledger.state
    if ledger.exporting:
        p = s.notify_progress
        done, of = (p.rows_done, p.rows_expected) if p else (0, s.individuals)
        return f"notified {done:,} of {of:,} (round {export_round(s)} export running; roster rows)"
    if s.rounds:
        last = s.rounds[-1]
        return f"notified {last.counts.recipients:,} of {last.counts.recipients:,} unique recipients (round {last.round}; {last.counts.rows_read:,} roster rows, {last.counts.duplicates_merged:,} duplicates merged)"
    if s.notice_rounds:
        return f"notified {s.individuals_notified:,} (recorded by the Notifying Official)"
    return None


def awaiting_text(s: CaseState) -> str | None:
    """Whose move it is, in the words of the decisions and steps the case waits for."""
    if s.closed:
        return None
    waits = []
    if s.main_outcome:
        waits.append(f"major-incident reports before closing ({s.main_outcome})")
    elif s.stage is Stage.contractor_review:
        waits.append("co_acknowledge" if not s.co_acknowledged else "co_record_contractor_response" if s.co_open_request else "co_request_information or co_complete_review")
    elif s.stage is Stage.pim_review:
        waits.append("respond_to_pim" if s.pim_open_request else "pim_approve_closure or pim_request_more_info")
    elif s.notify_problem and s.stage in (Stage.cms_approval, Stage.notify):
        waits.append(f"notify-retry once this is fixed: {s.notify_problem}")
    elif s.stage is Stage.notify and s.report.roster_uri:
        waits.append("the end of the hold, then the mail-house export" if s.hold else f"the mail-house export (round {export_round(s)})")
    elif s.stage in ENTRY_SLA:
        waits.append(ENTRY_SLA[s.stage])
    if s.major.status == "proposed":
        waits.append("approve_major_incident")
    for kind in s.major.drafts:
        if kind not in s.major.sent:
            waits.append(f"approve_outbound_report {kind}")
    if s.hold:
        waits.append(f"lift_delay (held by {s.hold.authority})")
    return "; ".join(waits) or None


def search_values(s: CaseState, view: CaseView) -> dict:
    """The case's search attributes as they should be now (keyed by the typed keys of models.search)."""
    nxt = view.next_deadline
    return {
        search.BREACH_STAGE: s.stage.value,
        search.SYSTEM_ID: s.report.system_id,
        search.AFFECTED_INDIVIDUALS: s.individuals,
        search.CONTRACTOR_INVOLVED: s.report.contractor_involved,
        search.HIPAA_COVERED: s.report.hipaa_covered,
        search.MAJOR_INCIDENT: s.major.determined,
        search.RISK_LEVEL: view.risk_level,
        search.NEXT_DEADLINE: nxt.due_at if nxt else None,
    }


def case_sync(s: CaseState, at: datetime) -> CaseSync:
    """The register's row and clocks for this case, as of ``at``."""
    return CaseSync(
        breach_id=s.report.breach_id,
        stage=s.stage.value,
        status="concluded" if s.closed else "ongoing",
        outcome=s.main_outcome if s.closed else None,
        individuals=s.individuals,
        data_elements=[e.value for e in s.data_elements],
        risk_level=s.assessment.level.value if s.assessment else None,
        major_incident=s.major.determined,
        notified=s.notice_rounds > 0,
        individuals_notified=s.individuals_notified,
        services=list(s.notification.services) if s.notification else [],
        reported_to_cisa="cisa_omb" in s.major.sent,
        reported_to_congress="congress_oig" in s.major.sent,
        clocks=list(s.clocks.values()),
        at=at,
    )

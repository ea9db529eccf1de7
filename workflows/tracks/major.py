"""The major-incident track: determination, the reports to CISA/OMB and Congress/OIG, and
the 30-day supplemental report (plan: Major incidents; OMB M-25-04).

A case becomes a major incident automatically at 100,000 individuals (OMB) or when the
risk assessment says so, or by the CMS SOP's proposal approved by the HHS SAOP. Each
report is drafted at once and sent when every approver of ``REPORT_APPROVERS`` approved
it; the case closes only after the last one is sent.
"""

from __future__ import annotations

from models.decisions import ApproveOutboundReport, Comments, Decision, DetermineMajorIncident, OptionalComments, OutboundKind
from models.records import DraftRequest
from models.roles import Role
from workflows import clocks as rules
from workflows.case import Case
from workflows.tracks.closure import close

# Outbound reports and the roles that must all approve them (only ASL clears Congress).
REPORT_APPROVERS = {
    OutboundKind.cisa_omb: {Role.hhs_brt},
    OutboundKind.congress_oig: {Role.hhs_brt, Role.hhs_asl},
    OutboundKind.supplemental_30d: {Role.hhs_brt, Role.hhs_asl},
}


async def start_major(case: Case, *, automatic: bool, rationale: str) -> None:
    s, ledger, now = case.s, case.ledger, case.now()
    if ledger.pending("approve_major_incident"):
        ledger.not_applicable("approve_major_incident", "superseded: the case became a major incident by count")
    s.major.status, s.major.automatic, s.major.rationale, s.major.determined_at = "determined", automatic, rationale, now
    ledger.event("major_incident_determined", detail=("automatic: " if automatic else "approved by the HHS SAOP: ") + rationale)
    ledger.start(rules.statutory("cisa_omb", now, s.config))
    ledger.start(rules.statutory("congress_oig", now, s.config))
    ledger.start(rules.statutory("supplemental_30d", s.report.discovered_at, s.config))
    ledger.publish()
    for kind in OutboundKind:
        s.major.drafts[kind.value] = await case.fx.draft(draft_request(case, kind.value), summary=f"Draft the {kind.value} report for HHS BRT approval")
    ledger.wake = True


def can_determine(case: Case, d: Decision, p: DetermineMajorIncident) -> str | None:
    return case.ledger.still_reporting() or {"proposed": "a proposal already awaits HHS SAOP approval", "determined": "the case is already a major incident"}.get(case.s.major.status)


async def determine(case: Case, d: Decision, p: DetermineMajorIncident) -> str:
    s = case.s
    if not p.is_major:
        case.ledger.event("major_incident_not_proposed", detail=p.rationale)
        return "recorded: the CMS BRT does not consider this a major incident"
    s.major.status, s.major.rationale = "proposed", p.rationale
    case.ledger.start_sla("approve_major_incident")
    return "major incident proposed; awaiting HHS SAOP approval"


def can_answer_proposal(case: Case, d: Decision, p: OptionalComments | Comments) -> str | None:
    return None if case.s.major.status == "proposed" else "no major-incident proposal awaits approval"


async def approve(case: Case, d: Decision, p: OptionalComments) -> str:
    case.ledger.settle("approve_major_incident")
    await start_major(case, automatic=False, rationale=case.s.major.rationale or "")
    return "major incident determined: CISA/OMB within 1 hour, Congress/OIG within 7 days"


async def reject(case: Case, d: Decision, p: Comments) -> str:
    case.s.major.status = "none"
    case.ledger.settle("approve_major_incident")
    return "major-incident proposal rejected by the HHS SAOP"


def can_approve_report(case: Case, d: Decision, p: ApproveOutboundReport) -> str | None:
    s, kind = case.s, p.kind.value
    if not s.major.determined:
        return "the case is not a major incident"
    if kind not in s.major.drafts:
        return f"the {kind} report is still being drafted"
    if kind in s.major.sent:
        return f"the {kind} report was already sent"
    if d.actor.role not in REPORT_APPROVERS[p.kind]:
        return f"the {kind} report is approved by {', '.join(sorted(r.value for r in REPORT_APPROVERS[p.kind]))}"
    if d.actor.role.value in s.major.approvals.get(kind, []):
        return f"{d.actor.role.value} already approved the {kind} report"
    return None


async def approve_report(case: Case, d: Decision, p: ApproveOutboundReport) -> str:
    s, kind = case.s, p.kind.value
    approvals = s.major.approvals.setdefault(kind, [])
    approvals.append(d.actor.role.value)
    missing = {r.value for r in REPORT_APPROVERS[p.kind]} - set(approvals)
    if missing:
        return f"{kind} approved by {d.actor.role.value}; still needs {', '.join(sorted(missing))}"
    s.major.sent[kind] = "sending"
    document = {**s.major.drafts[kind], "status": "approved by the HHS Breach Response Team", "approved_by": approvals, "sent_at": case.now().isoformat()}
    location = await case.send(kind, document, summary=f"Send the approved {kind} report")
    s.major.sent[kind] = location
    case.ledger.settle(kind)
    if s.main_outcome and s.major.reports_done:
        await close(case, s.main_outcome)
    return f"{kind} report sent"


def draft_request(case: Case, kind: str) -> DraftRequest:
    s = case.s
    hold = None
    if s.hold:
        hold = f"{'written' if s.hold.written else 'oral'} instruction from {s.hold.authority} until {s.clocks['law_enforcement_hold'].due_at.isoformat()}"
    notice = f"notified {s.individuals_notified} individuals" if s.notice_rounds else ("notification path" if s.assessment and s.assessment.notify else "notification not yet decided")
    return DraftRequest(
        kind=kind,
        breach_id=s.report.breach_id,
        system_id=s.report.system_id,
        system_name=s.system.name if s.system else None,
        discovered_at=s.report.discovered_at,
        determined_at=s.major.determined_at,
        individuals=s.individuals,
        data_elements=[e.value for e in s.data_elements],
        media=s.report.media.value,
        intent=s.report.intent.value,
        hold=hold,
        notice_status=notice,
        assessment=s.assessment,
        drafted_at=case.now(),
    )

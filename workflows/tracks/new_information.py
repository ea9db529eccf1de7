"""New information about a breach after its report (plan: the assessment is revisited
when the facts change): more people, more data elements, evidence of misuse.

The counts' clocks are computed again; a case past its assessment goes back to it (the
steps it waited for are superseded); 100,000 people make it a major incident; people
already notified get a follow-up letter saying what changed.
"""

from __future__ import annotations

from models.case import MAJOR_INCIDENT_INDIVIDUALS, Stage
from models.decisions import Decision, NewInformation
from models.intake import ELEMENT_LABELS
from workflows.case import Case
from workflows.tracks import hipaa
from workflows.tracks.assessment import enter_risk_assessment
from workflows.tracks.major import start_major

MAX_INDIVIDUALS = 1_000_000_000
SUPERSEDED_BY_REASSESSMENT = ("pim_approve_closure", "respond_to_pim", "approve_response_plan", "approve_notification", "record_notification_sent")


def can_add(case: Case, d: Decision, p: NewInformation) -> str | None:
    if reason := case.ledger.still_reporting():
        return reason
    if not (p.data_elements_added or p.individuals_delta or p.misuse_evidence):
        return "nothing new: give data_elements_added, individuals_delta or misuse_evidence"
    total = case.s.individuals + p.individuals_delta
    if total < 0:
        return f"individuals_delta {p.individuals_delta} would make the count negative ({total})"
    if total > MAX_INDIVIDUALS:
        return f"individuals_delta {p.individuals_delta} would make the count {total}, above 1,000,000,000"
    return None


async def add(case: Case, d: Decision, p: NewInformation) -> str:
    s, ledger = case.s, case.ledger
    before = s.individuals
    s.individuals += p.individuals_delta
    s.data_elements += [e for e in p.data_elements_added if e not in s.data_elements]
    s.misuse_reported = s.misuse_reported or p.misuse_evidence
    if s.notice_rounds or ledger.exporting:
        s.follow_up_reason = material_change(p)
    ledger.event("new_information", detail=f"individuals now {s.individuals}; added {[e.value for e in p.data_elements_added]}; misuse {p.misuse_evidence}")
    if s.report.hipaa_covered:
        hipaa.count_clocks(case, before)
    reopened = s.assessment is not None and s.stage in (Stage.pim_review, Stage.cms_approval, Stage.hhs_approval, Stage.notify)
    if reopened:
        s.pim_open_request, s.main_outcome = None, None
        ledger.supersede(SUPERSEDED_BY_REASSESSMENT, "superseded by a re-assessment after new information")
        await enter_risk_assessment(case)
    if s.individuals >= MAJOR_INCIDENT_INDIVIDUALS and not s.major.determined:
        await start_major(case, automatic=True, rationale=f"{s.individuals} individuals after new information: 100,000 or more (OMB)")
    return "risk assessment reopened" if reopened else "facts updated"


def material_change(p: NewInformation) -> str:
    """What a follow-up letter tells the people already notified."""
    parts = []
    if p.data_elements_added:
        parts.append("the information involved also included: " + ", ".join(ELEMENT_LABELS.get(e.value, e.value).lower() for e in p.data_elements_added))
    if p.misuse_evidence:
        parts.append("we have evidence that information from this breach has been misused")
    return "Since our first letter we have learned that " + "; and ".join(parts) + "." if parts else "Since our first letter we have learned more about this breach."

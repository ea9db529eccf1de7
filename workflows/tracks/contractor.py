"""The contractor loop through the Contracting Officer (plan: contractor breaches go
through the CO, who acknowledges, asks the contractor for information as often as needed,
and completes the review before the risk assessment)."""

from __future__ import annotations

from models.case import Stage
from models.decisions import CoCompleteReview, CoRecordContractorResponse, CoRequestInformation, Decision, Empty
from workflows.case import Case
from workflows.tracks.assessment import enter_risk_assessment


def can_acknowledge(case: Case, d: Decision, p: Empty) -> str | None:
    return case.ledger.need_stage(Stage.contractor_review) or ("the CO already acknowledged" if case.s.co_acknowledged else None)


async def acknowledge(case: Case, d: Decision, p: Empty) -> str:
    case.s.co_acknowledged = True
    case.ledger.settle("co_acknowledge")
    case.ledger.start_sla("co_complete_review")
    return "CO engaged"


def can_request_information(case: Case, d: Decision, p: CoRequestInformation) -> str | None:
    s = case.s
    return case.ledger.need_stage(Stage.contractor_review) or (
        "the CO must acknowledge first" if not s.co_acknowledged else "an information request is already open" if s.co_open_request else None
    )


async def request_information(case: Case, d: Decision, p: CoRequestInformation) -> str:
    s = case.s
    s.co_open_request, s.co_requests = p.request, s.co_requests + 1
    case.ledger.start_sla("co_record_contractor_response")
    return f"information request {s.co_requests} sent to the contractor through the CO"


def can_record_response(case: Case, d: Decision, p: CoRecordContractorResponse) -> str | None:
    return case.ledger.need_stage(Stage.contractor_review) or (None if case.s.co_open_request else "no information request is open")


async def record_response(case: Case, d: Decision, p: CoRecordContractorResponse) -> str:
    case.s.co_open_request = None
    case.ledger.settle("co_record_contractor_response")
    return f"contractor response recorded ({len(p.artifacts)} artifact reference(s))"


def can_complete_review(case: Case, d: Decision, p: CoCompleteReview) -> str | None:
    s = case.s
    return case.ledger.need_stage(Stage.contractor_review) or (
        "the CO must acknowledge first" if not s.co_acknowledged else "an information request is still open" if s.co_open_request else None
    )


async def complete_review(case: Case, d: Decision, p: CoCompleteReview) -> str:
    case.s.co_review = p
    case.ledger.settle("co_complete_review")
    if not p.contractor_cooperated:
        case.ledger.finding("contractor_did_not_cooperate", f"the CO recorded that the contractor did not cooperate; obligations: {p.obligations}")
    await enter_risk_assessment(case)
    return "CO review complete: risk assessment"

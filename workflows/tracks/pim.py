"""HHS PIM's review of a low-risk case (plan: when the risk is low, the results go to HHS
PIM, who approves closure or asks the agency for more information)."""

from __future__ import annotations

from models.case import Stage
from models.decisions import Decision, OptionalComments, RequestText, RespondToPim
from workflows.case import Case
from workflows.tracks.closure import close


def can_decide_closure(case: Case, d: Decision, p: OptionalComments | RequestText) -> str | None:
    return case.ledger.need_stage(Stage.pim_review) or ("the agency has not yet answered PIM's request" if case.s.pim_open_request else None)


async def approve_closure(case: Case, d: Decision, p: OptionalComments) -> str:
    case.ledger.settle("pim_approve_closure")
    await close(case, "closed_low_risk")
    return "PIM approved closure"


async def request_more_info(case: Case, d: Decision, p: RequestText) -> str:
    s = case.s
    s.pim_open_request, s.pim_requests = p.request, s.pim_requests + 1
    case.ledger.settle("pim_approve_closure")
    case.ledger.start_sla("respond_to_pim")
    return f"PIM request {s.pim_requests} sent back to the agency"


def can_respond(case: Case, d: Decision, p: RespondToPim) -> str | None:
    return case.ledger.need_stage(Stage.pim_review) or (None if case.s.pim_open_request else "PIM has no open request")


async def respond(case: Case, d: Decision, p: RespondToPim) -> str:
    case.s.pim_open_request = None
    case.ledger.settle("respond_to_pim")
    case.ledger.start_sla("pim_approve_closure")
    await case.send(f"pim_response_{case.s.pim_requests}", {**pim_document(case), "response": p.response}, summary="Send the agency's answer to HHS PIM")
    return "answer sent to PIM"


def pim_document(case: Case) -> dict:
    s = case.s
    a = s.assessment
    return {
        "kind": "investigation_results",
        "to": ["HHS PIM"],
        "breach_id": s.report.breach_id,
        "risk_level": a.level.value if a else None,
        "notify": a.notify if a else None,
        "policy_version": a.policy_version if a else None,
        "countermeasures": [r.model_dump(mode="json") for r in a.countermeasures] if a else [],
        "contractor_review": s.co_review.model_dump(mode="json") if s.co_review else None,
        "findings": [f.model_dump(mode="json") for f in s.findings],
        "sent_at": case.now().isoformat(),
    }

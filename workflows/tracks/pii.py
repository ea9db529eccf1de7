"""Confirming that the data is PII (plan: "Identifying whether the data is PII").

Not PII closes the case as documented; PII with a contractor goes to the Contracting
Officer's review, otherwise straight to the risk assessment.
"""

from __future__ import annotations

from models.case import Stage
from models.decisions import ConfirmPii, Decision
from workflows.case import Case
from workflows.tracks.assessment import enter_risk_assessment
from workflows.tracks.closure import close


def can_confirm(case: Case, d: Decision, p: ConfirmPii) -> str | None:
    return case.ledger.need_stage(Stage.confirm_pii)


async def confirm(case: Case, d: Decision, p: ConfirmPii) -> str:
    s = case.s
    s.pii = p
    if p.data_elements is not None:
        s.data_elements = list(p.data_elements)
    case.ledger.settle("confirm_pii")
    if not p.is_pii:
        await close(case, "no_pii")
        return "not PII: closed as not a breach of PII (documented)"
    if s.report.contractor_involved:
        case.ledger.enter(Stage.contractor_review)
        return "PII confirmed; contractor involved: the Contracting Officer's review starts"
    await enter_risk_assessment(case)
    return "PII confirmed: risk assessment"

"""The decision table: every human decision of the plan, who may make it, what it carries,
when it may be made and what it does (shared/design/DECISIONS.md).

One row per decision name, in the plan's order. ``guard`` returns the reason the case
refuses the decision now (or None); ``effect`` applies it and returns the message the
operator sees. ``prepare`` (the risk assessment only) runs before the decision is
accepted and may refuse it; its result is what the effect receives. ``busy`` says the
case is a moment away from being able to take the decision (the letters or the
assessment are being worked on): the validator turns it away without a record, since
the same decision sent again shortly will be taken. ``after_outcome``
rows may still be made once the case's outcome is recorded but a major incident keeps it
open. workflows/admission.py runs the common checks (signature, role, closed case) before
any row's guard.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from models.decisions import (
    ApproveNotification,
    ApproveOutboundReport,
    CoCompleteReview,
    CoRecordContractorResponse,
    CoRequestInformation,
    Comments,
    ConfirmPii,
    Decision,
    DelayNotification,
    DetermineMajorIncident,
    Empty,
    NewInformation,
    OptionalComments,
    RecordNotificationSent,
    RequestText,
    RespondToPim,
    SubmitRiskAssessment,
    UpdateOperators,
)
from models.roles import Role
from workflows.case import Case
from workflows.tracks import approvals, assessment, contractor, holds, major, new_information, notification, operators, pii, pim

Guard = Callable[[Case, Decision, Any], "str | None"]
Effect = Callable[[Case, Decision, Any], Awaitable[str]]
Busy = Callable[[Case], "str | None"]
Prepare = Callable[[Case, Decision, Any, bool], Awaitable[Any]]  # the bool: already accepted (replay of an older case)


@dataclass(frozen=True)
class DecisionRow:
    roles: frozenset[Role]
    payload: type[BaseModel]
    guard: Guard
    effect: Effect
    prepare: Prepare | None = None
    busy: Busy | None = None
    after_outcome: bool = False


def _row(roles: set[Role], payload: type[BaseModel], guard: Guard, effect: Effect, **more: Any) -> DecisionRow:
    return DecisionRow(roles=frozenset(roles), payload=payload, guard=guard, effect=effect, **more)


R = Role
DECISIONS: dict[str, DecisionRow] = {
    # Confirm PII (plan: "Identifying whether the data is PII")
    "confirm_pii": _row({R.cms_sop, R.program_office}, ConfirmPii, pii.can_confirm, pii.confirm),
    # The contractor loop through the Contracting Officer
    "co_acknowledge": _row({R.contracting_officer}, Empty, contractor.can_acknowledge, contractor.acknowledge),
    "co_request_information": _row({R.contracting_officer}, CoRequestInformation, contractor.can_request_information, contractor.request_information),
    "co_record_contractor_response": _row({R.contracting_officer}, CoRecordContractorResponse, contractor.can_record_response, contractor.record_response),
    "co_complete_review": _row({R.contracting_officer}, CoCompleteReview, contractor.can_complete_review, contractor.complete_review),
    # Risk assessment (plan, Attachment A)
    "submit_risk_assessment": _row({R.cms_brt, R.cms_sop}, SubmitRiskAssessment, assessment.can_submit, assessment.submit, prepare=assessment.score, busy=assessment.scoring),
    # Major incident
    "determine_major_incident": _row({R.cms_sop}, DetermineMajorIncident, major.can_determine, major.determine),
    "approve_major_incident": _row({R.hhs_saop}, OptionalComments, major.can_answer_proposal, major.approve),
    "reject_major_incident": _row({R.hhs_saop}, Comments, major.can_answer_proposal, major.reject),
    # CMS, then HHS approval
    "approve_response_plan": _row({R.cms_sop, R.cms_brt}, OptionalComments, approvals.can_approve_plan, approvals.approve_plan, busy=approvals.checking_letters),
    "reject_response_plan": _row({R.cms_sop, R.cms_brt}, Comments, approvals.can_reject_plan, approvals.reject_plan),
    "approve_notification": _row({R.hhs_saop, R.hhs_brt}, ApproveNotification, approvals.can_decide_notification, approvals.approve_notification),
    "reject_notification": _row({R.hhs_saop, R.hhs_brt}, Comments, approvals.can_decide_notification, approvals.reject_notification),
    "approve_outbound_report": _row({R.hhs_brt, R.hhs_asl}, ApproveOutboundReport, major.can_approve_report, major.approve_report, after_outcome=True),
    # Holds on notification
    "delay_notification": _row({R.hhs_saop}, DelayNotification, holds.can_delay, holds.delay),
    "lift_delay": _row({R.hhs_saop}, OptionalComments, holds.can_lift, holds.lift),
    # PIM review of a low-risk case
    "pim_approve_closure": _row({R.hhs_pim}, OptionalComments, pim.can_decide_closure, pim.approve_closure),
    "pim_request_more_info": _row({R.hhs_pim}, RequestText, pim.can_decide_closure, pim.request_more_info),
    "respond_to_pim": _row({R.cms_sop, R.program_office}, RespondToPim, pim.can_respond, pim.respond),
    # New information
    "new_information": _row({R.cms_sop, R.program_office}, NewInformation, new_information.can_add, new_information.add, after_outcome=True),
    # Notification recorded by the Notifying Official (cases without a roster)
    "record_notification_sent": _row({R.notifying_official}, RecordNotificationSent, notification.can_record_sent, notification.record_sent),
    # Who may decide
    "update_operators": _row({R.cms_sop}, UpdateOperators, operators.can_update, operators.update),
}

ROLES: dict[str, frozenset[Role]] = {name: row.roles for name, row in DECISIONS.items()}

"""The two tiers of approval: CMS approves the response plan and letters, then HHS
approves the notification (plan: "Notification" — CMS SOP/BRT, then HHS SAOP/BRT).

A CMS rejection returns the plan to drafting (the letters are checked again); an HHS
rejection returns the case to CMS approval.
"""

from __future__ import annotations

from models.case import Stage
from models.decisions import ApproveNotification, Comments, Decision, OptionalComments
from workflows.case import Case
from workflows.tracks.notification import letters_due


def can_approve_plan(case: Case, d: Decision, p: OptionalComments) -> str | None:
    s = case.s
    if reason := case.ledger.need_stage(Stage.cms_approval):
        return reason
    if s.notify_problem:
        return f"the letters cannot go to CMS approval: {s.notify_problem}. Fix it, then run `breach notify-retry {s.report.breach_id}`"
    return None


def checking_letters(case: Case) -> str | None:
    """Busy: the letters CMS approves are still being checked."""
    s = case.s
    if s.stage is Stage.cms_approval and (s.letters_stale or s.preparing_letters):
        return "the letters are still being checked; try again in a moment"
    return None


def can_reject_plan(case: Case, d: Decision, p: Comments) -> str | None:
    return case.ledger.need_stage(Stage.cms_approval)


async def approve_plan(case: Case, d: Decision, p: OptionalComments) -> str:
    case.ledger.settle("approve_response_plan")
    case.ledger.enter(Stage.hhs_approval)
    return "CMS approved the response plan and letters: HHS approval"


async def reject_plan(case: Case, d: Decision, p: Comments) -> str:
    s, ledger = case.s, case.ledger
    s.cms_rejections += 1
    ledger.settle("approve_response_plan")
    ledger.event("returned_to_drafting", detail=p.comments)
    ledger.start_sla("approve_response_plan")
    letters_due(case)  # the redrafted letters are checked again
    return f"returned to drafting with comments (CMS rejection {s.cms_rejections})"


def can_decide_notification(case: Case, d: Decision, p: ApproveNotification | Comments) -> str | None:
    return case.ledger.need_stage(Stage.hhs_approval)


async def approve_notification(case: Case, d: Decision, p: ApproveNotification) -> str:
    case.s.notification = p
    case.ledger.settle("approve_notification")
    case.ledger.enter(Stage.notify)
    return f"HHS approved notification by {', '.join(m.value for m in p.method)}; Notifying Official {p.notifying_official}"


async def reject_notification(case: Case, d: Decision, p: Comments) -> str:
    case.s.hhs_rejections += 1
    case.ledger.settle("approve_notification")
    case.ledger.event("returned_to_cms", detail=p.comments)
    case.ledger.enter(Stage.cms_approval)
    letters_due(case)
    return "HHS rejected: back to CMS approval"

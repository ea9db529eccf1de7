"""The risk-of-harm assessment (plan, Attachment A: "Risk assessment").

The case loads the current policy's version and digest on entering the stage and keeps
them, so every assessment of the case is scored under the same policy. Scoring, the
check of the operator's answers included, is the risk activity's (activities/assessment.py):
no policy code runs in the replayed workflow. A submission is therefore scored *before*
it is accepted (``score``, the decision's preparation): answers the policy refuses make a
refused decision on record, with the activity's reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from models.assessment import AssessRequest
from models.case import Stage
from models.decisions import Decision, DecisionRefused, SubmitRiskAssessment
from models.intake import DataElement
from models.risk import CaseFacts, RiskAssessment, facts_from_report
from workflows.case import Case
from workflows.effects import StepFailed
from workflows.tracks.major import start_major
from workflows.tracks.notification import letters_due
from workflows.tracks.pim import pim_document


@dataclass(frozen=True)
class Scored:
    """A submitted assessment, scored: what the decision's effect applies."""

    submission: SubmitRiskAssessment
    result: RiskAssessment
    submitted_at: datetime


async def enter_risk_assessment(case: Case) -> None:
    s = case.s
    case.ledger.enter(Stage.risk_assessment)
    if s.policy is None:
        s.policy = await case.fx.load_policy()
        case.ledger.wake = True


def facts(case: Case) -> CaseFacts:
    """The assessment's facts: the report's, with the count and elements as they stand now."""
    s = case.s
    return facts_from_report(s.report).model_copy(update={"individuals": s.individuals, "data_elements": sorted(set(s.data_elements), key=list(DataElement).index)})


def can_submit(case: Case, d: Decision, p: SubmitRiskAssessment) -> str | None:
    return case.ledger.need_stage(Stage.risk_assessment)


def scoring(case: Case) -> str | None:
    """Busy: the policy is still loading or another submission is being scored."""
    s = case.s
    if s.stage is Stage.risk_assessment and (s.policy is None or s.assessing):
        return "the assessment is being prepared or scored; try again in a moment"
    return None


async def score(case: Case, d: Decision, p: SubmitRiskAssessment, accepted: bool = False) -> Scored:
    """Score the submission under the case's policy; refused answers refuse the decision.

    ``accepted``: a case from before scoring came first (its validator checked the answers
    with the policy code), replaying a submission it accepted at once; its service-level
    clock was settled on arrival, before the scoring, and its replay must do the same.
    """
    s, now = case.s, case.now()
    s.assessing = True  # before the await: a second submission meanwhile is refused
    if accepted:
        case.ledger.settle("submit_risk_assessment", now)
    request = AssessRequest(
        facts=facts(case), answers=p.answers, policy_version=s.policy.version, policy_sha256=s.policy.sha256,
        assessed_by=f"{d.actor.name} ({d.actor.role.value})", assessed_at=now, sequence=len(s.assessments) + 1,
    )
    try:
        result = await case.fx.assess(request)
    except StepFailed as exc:
        s.assessing = False
        raise DecisionRefused(f"submit_risk_assessment: {exc}", recorded=True) from None
    except BaseException:
        s.assessing = False
        raise
    return Scored(submission=p, result=result, submitted_at=now)


async def submit(case: Case, d: Decision, scored: Scored) -> str:
    s, ledger, result = case.s, case.ledger, scored.result
    ledger.settle("submit_risk_assessment", scored.submitted_at)
    s.assessments.append(result)
    s.assessing = False
    ledger.event("risk_assessed", detail=f"level {result.level.value}; notify {'yes' if result.notify else 'no'}; policy v{result.policy_version}")
    if result.major_incident and not s.major.determined:
        await start_major(case, automatic=True, rationale=result.major_incident_reason)
    if result.notify:
        ledger.enter(Stage.cms_approval)
        letters_due(case)
        return f"risk {result.level.value}: notification path, CMS approval of the response plan"
    ledger.enter(Stage.pim_review)
    await case.send("pim_results", pim_document(case), summary="Send investigation results and the risk assessment to HHS PIM")
    return f"risk {result.level.value}: results sent to PIM for closure"

"""Risk activities: load the policy a case will be assessed under, and score an assessment.

The workflow keeps the loaded policy so its validator can refuse bad answers (an
override without a rationale) before anything is recorded; the assessment itself is
scored here, and its Markdown document is filed beside the case's other records.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.risk.document import render_markdown
from activities.risk.engine import AnswersRefused, assess
from activities.risk.policy import Policy, load_policy
from models.risk import CaseFacts, RiskAnswers, RiskAssessment


class AssessRequest(BaseModel):
    facts: CaseFacts
    answers: RiskAnswers
    policy_version: int
    policy_sha256: str
    assessed_by: str
    assessed_at: datetime
    sequence: int


class RiskActivities:
    def __init__(self, folder: Path) -> None:
        self._folder = Path(folder)

    @activity.defn(name="risk.load_policy")
    def load_policy(self, version: int | None) -> Policy:
        return load_policy(version)

    @activity.defn(name="risk.assess")
    def assess(self, req: AssessRequest) -> RiskAssessment:
        policy = load_policy(req.policy_version)
        if policy.sha256 != req.policy_sha256:
            raise ApplicationError(f"policy version {req.policy_version} changed on disk since the case loaded it; publish a new version instead", non_retryable=True)
        try:
            result = assess(req.facts, req.answers, policy, assessed_by=req.assessed_by, assessed_at=req.assessed_at)
        except AnswersRefused as exc:
            raise ApplicationError(str(exc), non_retryable=True) from None
        target = self._folder / req.facts.breach_id / f"risk-assessment-{req.sequence}.md"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render_markdown(result))
        return result

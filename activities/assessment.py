"""Risk activities: load the policy a case will be assessed under, and score an assessment.

The workflow keeps only the loaded policy's version and digest (``models.assessment.PolicyRef``):
every use of the policy's rules, the check of the operator's answers included, happens
here, outside the replayed code, so a new release of the engine cannot change what a
running case's replay does. Failures are typed (``models.assessment``): refused answers
and a policy file changed on disk are final for that submission (the workflow refuses the
decision with the reason); a missing or broken policy file is retried until fixed.
"""

from __future__ import annotations

from pathlib import Path

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.durable import write_atomic
from activities.risk.document import render_markdown
from activities.risk.engine import AnswersRefused, assess
from activities.risk.policy import PolicyError, load_policy
from models.assessment import ANSWERS_REFUSED, POLICY_CHANGED, POLICY_MISSING, AssessRequest, PolicyRef
from models.risk import RiskAssessment


class RiskActivities:
    def __init__(self, folder: Path) -> None:
        self._folder = Path(folder)

    @activity.defn(name="risk.load_policy")
    def load_policy(self, version: int | None) -> PolicyRef:
        try:
            policy = load_policy(version)
        except PolicyError as exc:  # retried: an operator restores the policy file, the case goes on
            raise ApplicationError(str(exc), type=POLICY_MISSING) from None
        return PolicyRef(version=policy.version, sha256=policy.sha256)

    @activity.defn(name="risk.assess")
    def assess(self, req: AssessRequest) -> RiskAssessment:
        try:
            policy = load_policy(req.policy_version)
        except PolicyError as exc:
            raise ApplicationError(str(exc), type=POLICY_MISSING) from None
        if policy.sha256 != req.policy_sha256:
            raise ApplicationError(f"policy version {req.policy_version} changed on disk since the case loaded it; publish a new version instead", type=POLICY_CHANGED, non_retryable=True)
        try:
            result = assess(req.facts, req.answers, policy, assessed_by=req.assessed_by, assessed_at=req.assessed_at)
        except AnswersRefused as exc:
            raise ApplicationError(str(exc), type=ANSWERS_REFUSED, non_retryable=True) from None
        write_atomic(self._folder / req.facts.breach_id / f"risk-assessment-{req.sequence}.md", render_markdown(result).encode())
        return result

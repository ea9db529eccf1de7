"""What a case keeps of its risk policy and what it asks the risk engine to score.

The engine and its policy files live in ``activities/risk``; the workflow holds only the
policy's version and digest, so no policy code ever runs while a case replays.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from models.risk import CaseFacts, RiskAnswers

# The types of the risk activity's non-retryable errors (``ApplicationError.type``).
ANSWERS_REFUSED = "AnswersRefused"  # an override without a rationale: the decision is refused
POLICY_CHANGED = "PolicyChanged"  # the policy file changed on disk since the case loaded it
POLICY_MISSING = "PolicyError"  # no policy file, or one that breaks the engine's rules


class PolicyRef(BaseModel):
    """The policy a case is assessed under: its version and the sha256 of its file.

    Reads a whole policy document too (extra fields are ignored), so histories and carried
    state from before this model, which held the full policy, still decode.
    """

    version: int
    sha256: str


class AssessRequest(BaseModel):
    facts: CaseFacts
    answers: RiskAnswers
    policy_version: int
    policy_sha256: str
    assessed_by: str
    assessed_at: datetime
    sequence: int

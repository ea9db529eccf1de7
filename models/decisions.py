"""The decision vocabulary (shared/design/DECISIONS.md): the signed envelope and each payload.

The same names are used by the CLI, the workflow's update handlers, the audit trail and
exercise scenarios; who may make each decision, and when, is the workflow's decision
table (``workflows/decision_table.py``). Payload models refuse unknown fields so that a
misspelt field is an error the operator sees, not a silent default.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from models.intake import DataElement
from models.operators import Operator
from models.roles import Role
from models.risk import RiskAnswers

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
_STRICT = ConfigDict(extra="forbid", frozen=True)


class Actor(BaseModel):
    model_config = _STRICT

    name: Name
    role: Role


class Decision(BaseModel):
    """One submitted decision: who (in which role), an id for exactly-once, why, and the payload.

    ``payload`` is checked against the decision's own model by the workflow's validator.
    """

    model_config = _STRICT

    decision_id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    actor: Actor
    rationale: Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)] | None = None
    payload: dict[str, Any] = {}
    signed_at: AwareDatetime | None = None
    signature: str | None = Field(None, description="Ed25519 signature (base64) over models.operators.signing_bytes")


class DecisionRefused(Exception):
    """A decision the case does not take; the message is the reason shown to the operator.

    One name wherever a refusal is seen: the workflow raises it, its name is the type of
    the ``ApplicationError`` the client receives, and the client raises it again.
    ``recorded`` says whether the refusal is on the case's record (history, timeline and
    audit trail): true for a signed decision of a registered operator that the case
    refused (role, stage, payload), false for a message the validator turned away
    (unsigned, forged, malformed, stale or already applied), which leaves no trace.
    """

    def __init__(self, reason: str, *, recorded: bool = False) -> None:
        super().__init__(reason)
        self.recorded = recorded


class DecisionOutcome(BaseModel):
    decision: str
    decision_id: str
    stage: str
    message: str


# ------------------------------------------------------------------------ payloads


class Empty(BaseModel):
    model_config = _STRICT


class ConfirmPii(BaseModel):
    model_config = _STRICT

    is_pii: bool
    federal_data: bool | None = None
    data_elements: list[DataElement] | None = None
    compliance_docs: list[Name] | None = None


class CoRequestInformation(BaseModel):
    model_config = _STRICT

    request: Text


class CoRecordContractorResponse(BaseModel):
    model_config = _STRICT

    summary: Text
    artifacts: list[Name] = Field(default_factory=list, description="references (file names, ticket ids), never contents")


class CoCompleteReview(BaseModel):
    model_config = _STRICT

    contractor_cooperated: bool
    obligations: Text


class SubmitRiskAssessment(BaseModel):
    model_config = _STRICT

    answers: RiskAnswers = RiskAnswers()


class DetermineMajorIncident(BaseModel):
    model_config = _STRICT

    is_major: bool
    rationale: Text


class Comments(BaseModel):
    model_config = _STRICT

    comments: Text


class OptionalComments(BaseModel):
    model_config = _STRICT

    comments: Text | None = None


class NotificationMethod(StrEnum):
    first_class_mail = "first_class_mail"
    email = "email"
    telephone = "telephone"
    substitute_notice = "substitute_notice"


class ApproveNotification(BaseModel):
    model_config = _STRICT

    method: list[NotificationMethod] = Field(min_length=1)
    notifying_official: Name
    services: list[Name] = []
    languages: list[Annotated[str, StringConstraints(min_length=2, max_length=8)]] = ["en"]


class OutboundKind(StrEnum):
    cisa_omb = "cisa_omb"
    congress_oig = "congress_oig"
    supplemental_30d = "supplemental_30d"


class ApproveOutboundReport(BaseModel):
    model_config = _STRICT

    kind: OutboundKind


class DelayNotification(BaseModel):
    model_config = _STRICT

    until: AwareDatetime
    authority: Name
    written: bool = Field(description="an oral instruction holds at most 30 days unless a written one follows")


class RequestText(BaseModel):
    model_config = _STRICT

    request: Text


class RespondToPim(BaseModel):
    model_config = _STRICT

    response: Text


class NewInformation(BaseModel):
    model_config = _STRICT

    data_elements_added: list[DataElement] = []
    individuals_delta: Annotated[int, Field(ge=-1_000_000_000, le=1_000_000_000)] = 0
    misuse_evidence: bool = False


class RecordNotificationSent(BaseModel):
    model_config = _STRICT

    individuals_notified: Annotated[int, Field(ge=0, le=1_000_000_000)]
    media_notice: bool = Field(False, description="HIPAA media notice published (over 500 residents of one state)")


class UpdateOperators(BaseModel):
    model_config = _STRICT

    operators: list[Operator] = Field(min_length=1)

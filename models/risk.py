"""The risk-of-harm assessment (plan Attachment A) as data: inputs, suggestions, result.

Why a separate model module: the assessment travels through Temporal (pydantic data
converter) and is stored in the register, so it must be plain, JSON-serialisable data
that stands on its own. A ``RiskAssessment`` therefore copies everything it was built
from (facts, answers, the factor questions, the recommendation texts and the policy
version and digest): re-rendering it years later never re-reads a policy file.

Imports only pydantic, the standard library and ``models.intake``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from models.intake import DataElement, IntakeReport, Intent, Media, Recipient

SCHEMA_VERSION = 1

_FROZEN = ConfigDict(extra="forbid", frozen=True)

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]


class Rating(StrEnum):
    """One ordinal scale for every factor and for the result: higher means more risk.

    For the likelihood factors the rating reads as "how much this factor raises the
    likelihood of access and use" (e.g. security safeguards ``low`` = well protected).
    """

    low = "low"
    moderate = "moderate"
    high = "high"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Rating.low: 0, Rating.moderate: 1, Rating.high: 2}
RATINGS_ASCENDING = (Rating.low, Rating.moderate, Rating.high)


def max_rating(*ratings: Rating) -> Rating:
    return max(ratings, key=lambda r: r.rank) if ratings else Rating.low


def min_rating(*ratings: Rating) -> Rating:
    return min(ratings, key=lambda r: r.rank) if ratings else Rating.high


class FactorName(StrEnum):
    """The Attachment A factors, in the plan's order."""

    data_elements = "data_elements"
    context = "context"
    private_information = "private_information"
    vulnerable_populations = "vulnerable_populations"
    permanence = "permanence"
    security_safeguards = "security_safeguards"
    format_media = "format_media"
    duration_of_exposure = "duration_of_exposure"
    evidence_of_misuse = "evidence_of_misuse"
    intent = "intent"
    recipient = "recipient"


class FactorGroup(StrEnum):
    nature = "Nature and sensitivity of the PII"
    likelihood = "Likelihood of access and use of the PII"
    type = "Type of breach"


FACTOR_GROUP: dict[FactorName, FactorGroup] = {
    FactorName.data_elements: FactorGroup.nature,
    FactorName.context: FactorGroup.nature,
    FactorName.private_information: FactorGroup.nature,
    FactorName.vulnerable_populations: FactorGroup.nature,
    FactorName.permanence: FactorGroup.nature,
    FactorName.security_safeguards: FactorGroup.likelihood,
    FactorName.format_media: FactorGroup.likelihood,
    FactorName.duration_of_exposure: FactorGroup.likelihood,
    FactorName.evidence_of_misuse: FactorGroup.likelihood,
    FactorName.intent: FactorGroup.type,
    FactorName.recipient: FactorGroup.type,
}

FACTOR_TITLE: dict[FactorName, str] = {
    FactorName.data_elements: "Data elements",
    FactorName.context: "Context",
    FactorName.private_information: "Private information",
    FactorName.vulnerable_populations: "Vulnerable populations",
    FactorName.permanence: "Permanence",
    FactorName.security_safeguards: "Security safeguards",
    FactorName.format_media: "Format and media",
    FactorName.duration_of_exposure: "Duration of exposure",
    FactorName.evidence_of_misuse: "Evidence of misuse",
    FactorName.intent: "Intent",
    FactorName.recipient: "Recipient",
}

# The questions of the plan's "Summary of factor for risk of harm" table.
FACTOR_QUESTION: dict[FactorName, str] = {
    FactorName.data_elements: "What is the sensitivity of each data element, and do the elements together "
    "(including those compromised in an earlier breach) pose a greater risk of harm?",
    FactorName.context: "What was the context of the information: the purpose for which it was collected, maintained and used?",
    FactorName.private_information: "To what extent is this information that an individual would generally keep private?",
    FactorName.vulnerable_populations: "Are the individuals from a particularly vulnerable population, at greater risk of harm?",
    FactorName.permanence: "Will the information permanently identify the individuals and remain relevant and useful over time?",
    FactorName.security_safeguards: "What safeguards protected the information: was encryption in effect, of what degree, "
    "at what level, and were the decryption keys controlled?",
    FactorName.format_media: "Does the format or media make the information easy or hard to use?",
    FactorName.duration_of_exposure: "How long was the information exposed?",
    FactorName.evidence_of_misuse: "Is there evidence of misuse of the information?",
    FactorName.intent: "Was the breach intentional, unintentional, or is the intent unknown (treated as possibly intentional)?",
    FactorName.recipient: "Who received the information, and can they be trusted (e.g. confirmed deletion)?",
}


class Population(StrEnum):
    """Vulnerable populations named by Attachment A, plus the deceased (Attachment B)."""

    children = "children"
    active_military = "active_military"
    sensitive_officials = "sensitive_officials"
    seniors = "seniors"
    disabilities = "disabilities"
    confidential_informants = "confidential_informants"
    witnesses = "witnesses"
    immigrants = "immigrants"
    non_english_speakers = "non_english_speakers"
    crime_victims = "crime_victims"
    deceased = "deceased"


class EncryptionDegree(StrEnum):
    fips_validated = "fips_validated"  # FIPS 140 validated, consistent with HHS guidance
    unvalidated = "unvalidated"  # strong algorithm, module not validated
    weak = "weak"  # weak or broken algorithm, or a guessable password


class EncryptionLevel(StrEnum):
    device = "device"
    file = "file"
    at_rest = "at_rest"
    in_transit = "in_transit"


class MisuseEvidence(StrEnum):
    confirmed = "confirmed"  # e.g. law enforcement sees it offered for sale, identity theft occurred
    suspected = "suspected"  # indications, not confirmed
    none_found = "none_found"  # looked, found nothing (absence of evidence)
    ruled_out = "ruled_out"  # e.g. forensics of the recovered device show the PII was not accessed


# --------------------------------------------------------------------------- inputs


class CaseFacts(BaseModel):
    """The intake facts the assessment uses; no data about individuals."""

    model_config = _FROZEN

    breach_id: str
    system_id: str
    data_elements: list[DataElement]
    individuals: Annotated[int, Field(ge=0)]
    media: Media
    encrypted: bool | None = None
    intent: Intent
    recipient: Recipient
    hipaa_covered: bool = False
    contractor_involved: bool = False
    exposure_window_hours: Annotated[float, Field(ge=0)] | None = None


def facts_from_report(report: IntakeReport) -> CaseFacts:
    """The assessment's view of an intake report (elements de-duplicated, in a stable order)."""
    window = None
    if report.occurred_from is not None and report.occurred_to is not None:
        window = round((report.occurred_to - report.occurred_from).total_seconds() / 3600, 2)
    order = list(DataElement)
    return CaseFacts(
        breach_id=report.breach_id,
        system_id=report.system_id,
        data_elements=sorted(set(report.data_elements), key=order.index),
        individuals=report.estimated_individuals,
        media=report.media,
        encrypted=report.encrypted,
        intent=report.intent,
        recipient=report.recipient,
        hipaa_covered=report.hipaa_covered,
        contractor_involved=report.contractor_involved,
        exposure_window_hours=window,
    )


class FactorAnswer(BaseModel):
    """The operator's rating of one factor. A rating that differs from the suggestion is an
    override and must carry a rationale; an equal rating confirms the suggestion."""

    model_config = _FROZEN

    rating: Rating
    rationale: Text = ""
    by: Name


class RiskAnswers(BaseModel):
    """What the operator knows beyond the intake report, and their factor ratings.

    Every situation fact is optional: ``None`` means "no information", and the suggestion
    then says which cautious default it used.
    """

    model_config = _FROZEN

    factors: dict[FactorName, FactorAnswer] = {}
    # Population: None = unknown; [] = known to include no vulnerable population.
    populations: list[Population] | None = None
    sensitive_context: bool | None = Field(
        default=None, description="Was the PII collected for a purpose that itself reveals something sensitive?"
    )
    previously_breached_elements: list[DataElement] = []
    # Security safeguards.
    encryption_in_effect: bool | None = Field(default=None, description="None: use the intake report's value.")
    encryption_degree: EncryptionDegree | None = None
    encryption_level: EncryptionLevel | None = None
    keys_controlled: bool | None = Field(default=None, description="Decryption keys controlled and not compromised.")
    remote_wipe_confirmed: bool | None = None
    # Duration of exposure.
    exposure_hours: Annotated[float, Field(ge=0)] | None = None
    exposure_ongoing: bool | None = None
    # Evidence of misuse, intent, recipient.
    misuse_evidence: MisuseEvidence | None = None
    information_targeted: bool | None = Field(
        default=None, description="For an intentional breach: was the information the target (not just the device)?"
    )
    recipient_confirmed_deletion: bool | None = None
    # Services: the BRT may recommend not to offer services (plan: Services).
    services_declined_reason: Text | None = None


class Suggestion(BaseModel):
    """A pre-filled rating and why; ``defaults_used`` names the facts that were missing."""

    model_config = _FROZEN

    factor: FactorName
    rating: Rating
    basis: str
    defaults_used: list[str] = []


# --------------------------------------------------------------------------- result


class FactorLine(BaseModel):
    """One factor in the assessment: where it started, where it ended, who moved it and why."""

    model_config = _FROZEN

    factor: FactorName
    title: str
    group: FactorGroup
    question: str
    dimension: Literal["impact", "likelihood"]
    suggested: Rating
    suggestion_basis: str
    defaults_used: list[str] = []
    rating: Rating
    source: Literal["suggested", "confirmed", "overridden"]
    by: str | None = None
    rationale: str
    points: int
    weight: int
    contribution: int


class Bound(BaseModel):
    """A floor or cap that took effect on a dimension."""

    model_config = _FROZEN

    factor: FactorName
    factor_rating: Rating
    kind: Literal["floor", "cap"]
    level: Rating


class DimensionResult(BaseModel):
    """How one dimension (impact or likelihood) was computed, step by step."""

    model_config = _FROZEN

    name: Literal["impact", "likelihood"]
    score: int
    max_score: int
    moderate_at: int
    high_at: int
    banded: Rating
    caps: list[Bound] = []
    floors: list[Bound] = []
    level: Rating


class Recommendation(BaseModel):
    """A service, a piece of guidance or a countermeasure, with why it applies."""

    model_config = _FROZEN

    id: str
    title: str
    text: str
    source: str
    reason: str


class HipaaFactor(BaseModel):
    model_config = _FROZEN

    name: str
    title: str
    rating: Rating
    from_factors: list[FactorName]
    combine: Literal["max", "min"]
    must_be_low: bool


class HipaaFourFactor(BaseModel):
    """The 45 CFR 164.402 low-probability-of-compromise assessment, derived from the factors."""

    model_config = _FROZEN

    factors: list[HipaaFactor]
    secured_phi: bool
    secured_reason: str
    low_probability_of_compromise: bool
    notification_required: bool
    summary: str


class RiskAssessment(BaseModel):
    """The complete, self-contained result of one assessment."""

    model_config = _FROZEN

    schema_version: int = SCHEMA_VERSION
    breach_id: str
    facts: CaseFacts
    answers: RiskAnswers
    factors: list[FactorLine]
    unreviewed_factors: list[FactorName]
    impact: DimensionResult
    likelihood: DimensionResult
    level: Rating
    matrix: dict[Rating, dict[Rating, Rating]]
    notify: bool
    notify_reason: str
    major_incident: bool
    major_incident_reason: str
    services: list[Recommendation]
    services_offered: bool
    no_services_reason: str | None = None
    guidance: list[Recommendation]
    countermeasures: list[Recommendation]
    hipaa_four_factor: HipaaFourFactor | None = None
    policy_version: int
    policy_title: str
    policy_sha256: str
    assessed_at: AwareDatetime
    assessed_by: Name

    def line(self, factor: FactorName) -> FactorLine:
        return next(line for line in self.factors if line.factor == factor)

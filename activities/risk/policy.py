"""The risk policy: every rule, weight and threshold of the scoring, as versioned data.

Why data and not code: an agency tunes its policy without a code change, and each
assessment must say which policy produced it. Policies live in ``policies/v<N>.toml``;
a new version is a new file, old files are never edited, so ``load_policy(N)`` gives
back exactly the policy an old assessment used (its sha256 proves it).

The loader refuses a policy that would break the engine's promises: every factor
weighted in exactly one dimension, non-negative weights, ordered thresholds and a
risk matrix that never goes down when impact or likelihood goes up (monotonicity).
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from models.intake import DataElement, Intent, Media, Recipient
from models.risk import (
    RATINGS_ASCENDING,
    EncryptionDegree,
    FactorName,
    MisuseEvidence,
    Population,
    Rating,
)

POLICIES_DIR = Path(__file__).parent / "policies"
_FILE = re.compile(r"^v([1-9][0-9]*)\.toml$")
_FROZEN = ConfigDict(extra="forbid", frozen=True)


class PolicyError(ValueError):
    """A policy file is missing, unreadable or breaks a rule of the engine."""


class FloorRule(BaseModel):
    """When ``factor`` is at or above ``when_at_least``, the dimension is at least ``level``."""

    model_config = _FROZEN
    factor: FactorName
    when_at_least: Rating
    level: Rating


class CapRule(BaseModel):
    """When ``factor`` is at or below ``when_at_most``, the dimension is at most ``level``
    (applied before the floors, so a floor always wins over a cap)."""

    model_config = _FROZEN
    factor: FactorName
    when_at_most: Rating
    level: Rating


class Dimension(BaseModel):
    model_config = _FROZEN
    weights: dict[FactorName, Annotated[int, Field(ge=0)]]
    moderate_at: Annotated[int, Field(ge=0)]
    high_at: Annotated[int, Field(ge=0)]
    floors: list[FloorRule] = []
    caps: list[CapRule] = []

    @model_validator(mode="after")
    def _ordered(self) -> Dimension:
        if self.high_at < self.moderate_at:
            raise ValueError("high_at must not be below moderate_at")
        return self


class ElementRule(BaseModel):
    model_config = _FROZEN
    sensitivity: Rating
    private: Rating
    permanence: Rating
    context: Rating | None = None
    note: str = ""


class Combination(BaseModel):
    model_config = _FROZEN
    elements: Annotated[list[DataElement], Field(min_length=2)]
    rating: Rating
    note: str


class Rated(BaseModel):
    model_config = _FROZEN
    rating: Rating
    note: str


class Unknown(BaseModel):
    """Cautious defaults used when a fact is missing ("no information, default X")."""

    model_config = _FROZEN
    data_elements: Rating
    context: Rating
    vulnerable_populations: Rating
    encryption: Rating
    encryption_degree: Rating
    key_control: Rating
    duration_of_exposure: Rating
    duration_device_not_recovered: Rating
    evidence_of_misuse: Rating


class Safeguards(BaseModel):
    model_config = _FROZEN
    unencrypted: Rating
    unencrypted_remote_wiped: Rating
    keys_compromised: Rating
    keys_controlled: Rating
    degree: dict[EncryptionDegree, Rating]
    in_transit_only_at_rest: Rating
    at_rest_media: list[Media]


class Duration(BaseModel):
    model_config = _FROZEN
    low_max_hours: Annotated[float, Field(ge=0)]
    moderate_max_hours: Annotated[float, Field(ge=0)]
    window_media: list[Media]
    device_media: list[Media]

    @model_validator(mode="after")
    def _ordered(self) -> Duration:
        if self.moderate_max_hours < self.low_max_hours:
            raise ValueError("moderate_max_hours must not be below low_max_hours")
        return self


class IntentRules(BaseModel):
    model_config = _FROZEN
    ratings: dict[Intent, Rating]
    not_targeted: Rating


class RecipientRule(BaseModel):
    model_config = _FROZEN
    default: Rating
    deleted: Rating
    not_deleted: Rating


class MisuseRules(BaseModel):
    model_config = _FROZEN
    ratings: dict[MisuseEvidence, Rating]
    malicious_recipient: Rating


class Rule(BaseModel):
    """A service, guidance item or countermeasure and when it applies.

    Conditions of different kinds must all hold; within one list any entry will do.
    """

    model_config = _FROZEN
    id: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]
    title: str
    text: str
    source: str
    always: bool = False
    elements_any: list[DataElement] = []
    populations_any: list[Population] = []
    media_any: list[Media] = []
    intents_any: list[Intent] = []
    recipients_any: list[Recipient] = []
    min_level: Rating | None = None

    @model_validator(mode="after")
    def _has_condition(self) -> Rule:
        conditions = (self.elements_any, self.populations_any, self.media_any, self.intents_any, self.recipients_any)
        if not self.always and not any(conditions) and self.min_level is None:
            raise ValueError(f"rule {self.id!r} has no condition; set always = true if it always applies")
        return self


class HipaaFactorRule(BaseModel):
    model_config = _FROZEN
    title: str
    from_factors: Annotated[list[FactorName], Field(min_length=1)]
    combine: Literal["max", "min"]


class Hipaa(BaseModel):
    model_config = _FROZEN
    factors: dict[str, HipaaFactorRule]
    must_be_low: list[str]
    secured_degrees: list[EncryptionDegree]

    @model_validator(mode="after")
    def _known(self) -> Hipaa:
        unknown = sorted(set(self.must_be_low) - set(self.factors))
        if unknown:
            raise ValueError(f"must_be_low names unknown HIPAA factors: {unknown}")
        return self


class Policy(BaseModel):
    """One version of the risk policy, validated. ``sha256`` is the digest of the file."""

    model_config = _FROZEN

    version: Annotated[int, Field(ge=1)]
    title: str
    effective: str
    notes: str = ""
    sha256: str = ""
    points: dict[Rating, Annotated[int, Field(ge=0)]]
    impact: Dimension
    likelihood: Dimension
    matrix: dict[Rating, dict[Rating, Rating]]
    notify_at: Rating
    major_incident_individuals: Annotated[int, Field(ge=1)]
    elements: dict[DataElement, ElementRule]
    combinations: list[Combination] = []
    populations: dict[Population, Rating]
    populations_implied: dict[DataElement, list[Population]] = {}
    media: dict[Media, Rated]
    valuable_data_media_floor: Rating
    unknown: Unknown
    safeguards: Safeguards
    duration: Duration
    intent: IntentRules
    recipient: dict[Recipient, RecipientRule]
    misuse: MisuseRules
    services: list[Rule]
    guidance: list[Rule]
    countermeasures: list[Rule]
    hipaa: Hipaa

    @model_validator(mode="after")
    def _coherent(self) -> Policy:
        problems: list[str] = []
        ranks = [self.points.get(r) for r in RATINGS_ASCENDING]
        if None in ranks:
            problems.append("points must give a value for low, moderate and high")
        elif ranks != sorted(ranks):
            problems.append("points must not decrease from low to high")
        both = set(self.impact.weights) & set(self.likelihood.weights)
        missing = set(FactorName) - set(self.impact.weights) - set(self.likelihood.weights)
        if both:
            problems.append(f"factors weighted in both dimensions: {sorted(f.value for f in both)}")
        if missing:
            problems.append(f"factors without a weight: {sorted(f.value for f in missing)}")
        problems += _matrix_problems(self.matrix)
        for name, table in (("elements", self.elements), ("populations", self.populations), ("media", self.media)):
            enum = {"elements": DataElement, "populations": Population, "media": Media}[name]
            absent = [e.value for e in enum if e not in table]
            if absent:
                problems.append(f"{name} has no entry for {absent}")
        for enum, table, name in ((Intent, self.intent.ratings, "intent.ratings"), (Recipient, self.recipient, "recipient"),
                                  (MisuseEvidence, self.misuse.ratings, "misuse.ratings"),
                                  (EncryptionDegree, self.safeguards.degree, "safeguards.degree")):
            absent = [e.value for e in enum if e not in table]
            if absent:
                problems.append(f"{name} has no entry for {absent}")
        if self.intent.ratings.get(Intent.unknown, Rating.high).rank < self.intent.ratings.get(Intent.unintentional, Rating.low).rank \
                or self.intent.not_targeted.rank < self.intent.ratings.get(Intent.unintentional, Rating.low).rank:
            problems.append("unknown intent (possibly intentional) must not rate below unintentional (Attachment A)")
        ids = [r.id for r in (*self.services, *self.guidance, *self.countermeasures)]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            problems.append(f"duplicate rule ids: {dupes}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def dimension(self, factor: FactorName) -> Literal["impact", "likelihood"]:
        return "impact" if factor in self.impact.weights else "likelihood"


def _matrix_problems(matrix: dict[Rating, dict[Rating, Rating]]) -> list[str]:
    """The level must never go down when likelihood (rows) or impact (columns) goes up."""
    problems = []
    for lik in RATINGS_ASCENDING:
        row = matrix.get(lik, {})
        if any(imp not in row for imp in RATINGS_ASCENDING):
            return [f"matrix row {lik.value!r} must give a level for low, moderate and high impact"]
    for i, lik in enumerate(RATINGS_ASCENDING):
        for j, imp in enumerate(RATINGS_ASCENDING):
            here = matrix[lik][imp].rank
            if j and matrix[lik][RATINGS_ASCENDING[j - 1]].rank > here:
                problems.append(f"matrix is not monotone: likelihood {lik.value}, impact {imp.value}")
            if i and matrix[RATINGS_ASCENDING[i - 1]][imp].rank > here:
                problems.append(f"matrix is not monotone: impact {imp.value}, likelihood {lik.value}")
    return problems


def available_versions(policies_dir: Path | None = None) -> list[int]:
    """The policy versions present, oldest first."""
    folder = Path(policies_dir) if policies_dir is not None else POLICIES_DIR
    if not folder.is_dir():
        return []
    return sorted(int(m.group(1)) for p in folder.iterdir() if (m := _FILE.match(p.name)))


def load_policy(version: int | str | None = None, *, policies_dir: Path | None = None) -> Policy:
    """Load policy ``version`` (``1``, ``"1"`` or ``"v1"``), or the newest one when None."""
    folder = Path(policies_dir) if policies_dir is not None else POLICIES_DIR
    versions = available_versions(folder)
    if version is None:
        if not versions:
            raise PolicyError(f"no policy files (v<N>.toml) in {folder}")
        number = versions[-1]
    else:
        text = str(version).strip().lower().removeprefix("v")
        if not text.isdigit():
            raise PolicyError(f"policy version must be a number like 1 or v1, not {version!r}")
        number = int(text)
    path = folder / f"v{number}.toml"
    if not path.is_file():
        raise PolicyError(f"policy version {number} not found in {folder} (available: {versions or 'none'})")
    return parse_policy(path.read_bytes(), expected_version=number, origin=str(path))


def parse_policy(content: bytes, *, expected_version: int | None = None, origin: str = "policy") -> Policy:
    """Validate policy file bytes; the digest is taken over exactly these bytes."""
    try:
        data = tomllib.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PolicyError(f"{origin}: not valid TOML: {exc}") from None
    if "sha256" in data:
        raise PolicyError(f"{origin}: sha256 is computed by the loader and must not be in the file")
    data["sha256"] = hashlib.sha256(content).hexdigest()
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        lines = [f"  {'.'.join(str(p) for p in e['loc']) or '(file)'}: {e['msg']}" for e in exc.errors()]
        raise PolicyError(f"{origin}: invalid policy:\n" + "\n".join(lines).replace("Value error, ", "")) from None
    if expected_version is not None and policy.version != expected_version:
        raise PolicyError(f"{origin}: file says version = {policy.version}, its name says {expected_version}")
    return policy

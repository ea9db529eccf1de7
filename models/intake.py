"""The intake contract, version 1 (shared/design/INTAKE.md), as one pydantic model.

Every intake route (CLI, HTTP, file drop, batch) validates through ``IntakeReport`` so
the rules live in exactly one place. The model holds no data about affected
individuals: the roster is only ever referenced by ``roster_uri``.
"""

from __future__ import annotations

import hashlib
import re
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

CONTRACT_VERSION = 1


class Source(StrEnum):
    contractor = "contractor"
    web_form = "web_form"
    email = "email"
    phone = "phone"
    api = "api"
    batch = "batch"
    csirc = "csirc"


class ReporterRole(StrEnum):
    contractor = "contractor"
    program_office = "program_office"
    employee = "employee"
    public = "public"
    csirc = "csirc"


class DataElement(StrEnum):
    name = "name"
    date_of_birth = "date_of_birth"
    place_of_birth = "place_of_birth"
    gender = "gender"
    mailing_address = "mailing_address"
    email = "email"
    phone = "phone"
    ssn = "ssn"
    medicare_id = "medicare_id"
    passport = "passport"
    drivers_license = "drivers_license"
    state_id = "state_id"
    bank_account = "bank_account"
    credit_card = "credit_card"
    password = "password"
    biometric = "biometric"
    alien_registration = "alien_registration"
    medical = "medical"
    mental_health = "mental_health"
    substance_use = "substance_use"
    financial = "financial"
    criminal = "criminal"
    immigration_status = "immigration_status"
    digital_signature = "digital_signature"
    organization = "organization"
    website = "website"
    other = "other"


# How a letter names each data element of the intake contract (INTAKE.md).
ELEMENT_LABELS = {
    "name": "Full name",
    "date_of_birth": "Date of birth",
    "place_of_birth": "Place of birth",
    "gender": "Gender",
    "mailing_address": "Mailing address",
    "email": "E-mail address",
    "phone": "Telephone number",
    "ssn": "Social Security number",
    "medicare_id": "Medicare number",
    "passport": "Passport number",
    "drivers_license": "Driver's license number",
    "state_id": "State identification number",
    "bank_account": "Bank account number",
    "credit_card": "Credit card number",
    "password": "Password",
    "biometric": "Biometric records",
    "alien_registration": "Alien registration number",
    "medical": "Medical information, such as diagnoses",
    "mental_health": "Mental health information",
    "substance_use": "Substance use treatment information",
    "financial": "Financial information",
    "criminal": "Criminal history",
    "immigration_status": "Immigration status",
    "digital_signature": "Digital signature",
    "organization": "Employer or organization",
    "website": "Web site account information",
    "other": "Other personal information",
}


class Media(StrEnum):
    email = "email"
    paper = "paper"
    laptop = "laptop"
    mobile_device = "mobile_device"
    removable_media = "removable_media"
    backup_tape = "backup_tape"
    server = "server"
    database = "database"
    web_application = "web_application"
    cloud_storage = "cloud_storage"
    verbal = "verbal"
    other = "other"


class Intent(StrEnum):
    intentional = "intentional"
    unintentional = "unintentional"
    unknown = "unknown"


class Recipient(StrEnum):
    hhs_internal = "hhs_internal"
    known_external = "known_external"
    external_unknown = "external_unknown"
    malicious = "malicious"
    unknown = "unknown"


NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


# Reports hold personal data: a validation error's text (which may reach a log line or a
# traceback) names the field and the problem, never the value sent.
REPORT_CONFIG = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class ReportedBy(BaseModel):
    model_config = REPORT_CONFIG

    name: NonEmpty
    email: NonEmpty
    organization: NonEmpty
    role: ReporterRole


class Contractor(BaseModel):
    model_config = REPORT_CONFIG

    name: NonEmpty
    contract_number: NonEmpty


class IntakeReport(BaseModel):
    """One suspected or confirmed breach as reported by an integration or a person.

    Unknown fields are refused so that a misspelt optional field (``hipaa_coverd``)
    is reported to the sender instead of being silently dropped.
    """

    model_config = REPORT_CONFIG

    external_id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    source: Source
    reported_by: ReportedBy
    system_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
    discovered_at: AwareDatetime
    reported_at: AwareDatetime
    occurred_from: AwareDatetime | None = None
    occurred_to: AwareDatetime | None = None
    contractor: Contractor | None = None
    summary: Annotated[str, StringConstraints(min_length=1, max_length=20_000)]
    data_elements: list[DataElement]
    estimated_individuals: Annotated[int, Field(ge=0, le=1_000_000_000, strict=True)]  # a search attribute: must fit 64 bits
    media: Media
    encrypted: bool | None = None
    intent: Intent
    recipient: Recipient
    hipaa_covered: bool = False
    roster_uri: Annotated[str, StringConstraints(min_length=1, max_length=2048)] | None = None

    @model_validator(mode="after")
    def _times_in_order(self) -> IntakeReport:
        if self.reported_at < self.discovered_at:
            raise ValueError("reported_at must not precede discovered_at")
        if self.occurred_from and self.occurred_to and self.occurred_to < self.occurred_from:
            raise ValueError("occurred_to must not precede occurred_from")
        return self

    @property
    def breach_id(self) -> str:
        return breach_id(self.source, self.external_id)

    @property
    def workflow_id(self) -> str:
        return workflow_id_for(self.breach_id)

    @property
    def contractor_involved(self) -> bool:
        return self.contractor is not None


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def breach_id(source: Source | str, external_id: str) -> str:
    """The stable breach id of a report: ``<source>-<external_id>``, normalised.

    Characters outside ``[A-Za-z0-9._-]`` become ``-``. Because that folding could make
    two different external ids collide (``A/1`` and ``A 1``), any id it changed gets a
    short digest of the original appended, so distinct reports never share a case.
    """
    src = Source(source).value
    safe = _UNSAFE.sub("-", external_id).strip("-") or "x"
    if safe != external_id:
        digest = hashlib.sha256(external_id.encode()).hexdigest()[:8]
        safe = f"{safe}-{digest}"
    return f"{src}-{safe}"


WORKFLOW_PREFIX = "breach-"


def workflow_id_for(breach: str) -> str:
    return f"{WORKFLOW_PREFIX}{breach}"


def breach_id_of(case: str) -> str:
    """The breach id of a case given as its breach id or as its workflow id."""
    return case.removeprefix(WORKFLOW_PREFIX)


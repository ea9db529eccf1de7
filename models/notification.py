"""Notifying individuals (plan: Notifying individuals, Contents and Method of notification):
the letter facts, the requests of the notification activities and their results.

Why these models hold no personal data: they travel through Temporal (workflow history,
heartbeats) and the register. The roster of affected individuals is only ever referenced
by URI and sha256; results carry counts, file paths and checksums, never a row. The
facts of a letter are about the breach (dates, data types, contacts), not about a person.

Imports only pydantic, the standard library, ``models.mailing`` and ``models.risk``.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from models.mailing import LetterKind, LetterVariant
from models.risk import Recommendation

# The signal a running export sends its case with its progress (NotifyProgress).
PROGRESS_SIGNAL = "notify_progress"

SCHEMA_VERSION = 1

_FROZEN = ConfigDict(extra="forbid", frozen=True)

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
# ISO 639-1 codes (optionally with a region, which is ignored for letters: "es-MX" reads "es").
Language = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[a-z]{2,3}$")]
BreachId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")]

# Toll-free prefixes of the North American Numbering Plan (47 CFR 52.101(f)).
TOLL_FREE_PREFIXES = ("800", "833", "844", "855", "866", "877", "888")
_TOLL_FREE = re.compile(r"^(?:1[-. ]?)?\(?(8(?:00|33|44|55|66|77|88))\)?[-. ]?\d{3}[-. ]?\d{4}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")

# HIPAA thresholds (45 CFR 164.404(d)(2) and 164.406).
SUBSTITUTE_NOTICE_THRESHOLD = 10
SUBSTITUTE_NOTICE_DAYS = 90
MEDIA_NOTICE_THRESHOLD = 500


class LetterItem(BaseModel):
    """One piece of guidance, countermeasure or service as the letter states it."""

    model_config = _FROZEN

    title: Name
    text: Text

    @classmethod
    def from_recommendation(cls, rec: Recommendation) -> LetterItem:
        """The letter wording of a risk assessment's recommendation (its reason stays internal)."""
        return cls(title=rec.title, text=rec.text)


class Contact(BaseModel):
    """How individuals learn more (element 7): toll-free phone, e-mail, postal address."""

    model_config = _FROZEN

    toll_free: Name = Field(description="Toll-free number, e.g. 1-800-555-0100")
    tty: Name | None = Field(None, description="TTY/TDD number for callers who are deaf or hard of hearing (Section 508)")
    hours: Name = Field(description="Call-center hours, e.g. 'Monday to Friday, 8 a.m. to 8 p.m. Eastern time'")
    email: Name
    postal_address: list[Name] = Field(min_length=2, max_length=6, description="Postal address, one line per entry")
    web_page: Name = Field(description="Web page with FAQs and updates")

    @field_validator("toll_free")
    @classmethod
    def _toll_free(cls, value: str) -> str:
        if not _TOLL_FREE.match(value):
            raise ValueError(f"{value!r} is not a toll-free number (prefix {', '.join(TOLL_FREE_PREFIXES)})")
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not _EMAIL.match(value):
            raise ValueError(f"{value!r} is not an e-mail address")
        return value

    @field_validator("web_page")
    @classmethod
    def _web(cls, value: str) -> str:
        if not value.startswith("https://"):
            raise ValueError("the web page must be an https:// address")
        return value


class LetterText(BaseModel):
    """The language-dependent wording of a letter's facts; one per language."""

    model_config = _FROZEN

    agency: Name | None = Field(None, description="The agency's name in this language (default: the English name)")
    hours: Name | None = Field(None, description="The call-center hours in this language (default: contact.hours)")
    notifying_official_title: Name | None = Field(None, description="The Notifying Official's title in this language")
    what_happened: Text
    pii_types: list[Name] = Field(min_length=1, description="Types of PII involved, e.g. 'Social Security number'")
    protection: Text = Field(description="Whether the information was encrypted or otherwise protected")
    guidance: list[LetterItem] = Field(min_length=1, description="What individuals can do (Attachment B)")
    countermeasures: list[LetterItem] = []
    services: list[LetterItem] = Field([], description="Services offered, e.g. credit monitoring, with how to enrol")
    mitigation_steps: list[Text] = Field(min_length=1, description="What the agency is doing to investigate, mitigate and prevent")
    follow_up_reason: Text | None = Field(None, description="For a follow-up round: the material change being reported")


class LetterFacts(LetterText):
    """Everything a letter states about the breach; the English wording is the base, other
    languages come from ``translations``. A language without a translation (or without a
    template) is sent in English and counted under ``untranslated_languages``."""

    breach_from: date
    breach_to: date | None = None
    discovered_on: date
    agency: Name = "Centers for Medicare & Medicaid Services"
    notifying_official: Name
    notifying_official_title: Name
    contact: Contact
    translations: dict[Language, LetterText] = {}

    @model_validator(mode="after")
    def _consistent(self) -> LetterFacts:
        if self.breach_to is not None and self.breach_to < self.breach_from:
            raise ValueError("breach_to must not precede breach_from")
        if self.discovered_on < self.breach_from:
            raise ValueError("discovered_on must not precede breach_from")
        if "en" in self.translations:
            raise ValueError("English is the base wording; do not list it under translations")
        return self

    def text_for(self, language: str) -> LetterText | None:
        """The wording in ``language``, or None when there is no translation."""
        if language == "en":
            return self
        return self.translations.get(language)


class Letterhead(BaseModel):
    """What every letter says that does not come from the case (``worker/defaults/letterhead.toml``)."""

    model_config = _FROZEN

    agency: Name
    notifying_official: Name = Field(description="Named in previews until HHS names the Notifying Official")
    notifying_official_title: Name
    mitigation_steps: list[Text] = Field(min_length=1)
    default_guidance: list[LetterItem] = Field(min_length=1, description="Used when the risk assessment recommends no guidance")
    contact: Contact


class PrepareRequest(BaseModel):
    """The case's facts for one round's letters; the activity adds the letterhead, checks the
    templates with the result and writes the PDF preview. No personal data: facts about the breach."""

    model_config = _FROZEN

    breach_id: BreachId
    round: Annotated[int, Field(ge=1, le=99)] = 1
    out_folder: Annotated[str, StringConstraints(min_length=1, max_length=1024)]
    languages: list[Language] = ["en"]
    breach_from: date
    breach_to: date | None = None
    discovered_on: date
    what_happened: Text
    data_elements: list[str] = Field(min_length=1)
    encrypted: bool | None
    guidance: list[LetterItem] = []
    countermeasures: list[LetterItem] = []
    services: list[LetterItem] = []
    notifying_official: Name | None = Field(None, description="None before HHS approval: the letterhead's placeholder")
    follow_up_reason: Text | None = None


class NotifyProgress(BaseModel):
    """Progress of a running export, signalled to the case so its details read "notified N of M"."""

    model_config = _FROZEN

    round: Annotated[int, Field(ge=1, le=99)]
    rows_done: Annotated[int, Field(ge=0)]
    rows_expected: Annotated[int, Field(ge=0)] = Field(description="Estimate from the share of the roster read so far")


class TemplateCheck(BaseModel):
    """A passed template check: what was rendered and which approved languages fall back to English."""

    model_config = _FROZEN

    languages: list[str] = Field(description="Approved languages that have a template and translated facts")
    untranslated: list[str] = Field(description="Approved languages that will be sent in English")
    variants: list[LetterVariant]
    letters_checked: int
    templates_sha256: Sha256


class FileRef(BaseModel):
    """A file the notification wrote: where, its checksum, its size and (for CSV) data rows."""

    model_config = _FROZEN

    path: str
    sha256: Sha256
    bytes: int
    rows: int | None = None


class PreviewResult(BaseModel):
    model_config = _FROZEN

    pdf: FileRef
    pages: int
    letters: int


class Prepared(BaseModel):
    """The letters of one round, ready: the facts they state, the template check and the preview."""

    model_config = _FROZEN

    facts: LetterFacts
    check: TemplateCheck
    preview: PreviewResult


class NotifyRequest(BaseModel):
    """One notification round. The roster is a reference (URI + expected sha256), never rows."""

    model_config = _FROZEN

    breach_id: BreachId
    round: Annotated[int, Field(ge=1, le=99)] = 1
    roster_uri: Annotated[str, StringConstraints(min_length=1, max_length=2048)]
    roster_sha256: Sha256 | None = Field(None, description="Expected checksum of the roster; None records what is read")
    facts: LetterFacts
    languages: list[Language] = Field(["en"], description="Languages the HHS BRT approved letters in")
    email_allowed: bool = Field(False, description="HHS BRT approved e-mail to official .gov/.mil addresses")
    out_folder: Annotated[str, StringConstraints(min_length=1, max_length=1024)]
    checkpoint_every: Annotated[int, Field(ge=100, le=1_000_000)] = 5000

    @model_validator(mode="after")
    def _follow_up(self) -> NotifyRequest:
        if self.round > 1 and self.facts.follow_up_reason is None:
            raise ValueError(f"round {self.round} is a follow-up notification: facts.follow_up_reason must state the material change")
        return self

    @property
    def letter_kind(self) -> LetterKind:
        return LetterKind.initial if self.round == 1 else LetterKind.follow_up


class NotifyCounts(BaseModel):
    """Counts of one round; every person counted once (after merging duplicates)."""

    model_config = _FROZEN

    rows_read: int = 0
    recipients: int = Field(0, description="Unique persons notified this round (export rows plus the no-address list)")
    exported: int = Field(0, description="Rows of the mail-house export (first-class mail or e-mail)")
    duplicates_merged: int = 0
    errors: int = Field(0, description="Rows refused (see the error report)")
    no_address: int = Field(0, description="Persons without a usable postal address")
    unreachable: int = Field(0, description="Persons with neither a usable address nor an approved e-mail")
    large_print: int = 0
    by_variant: dict[str, int] = {}
    by_language: dict[str, int] = Field({}, description="Language each letter is written in")
    by_method: dict[str, int] = {}
    by_state: dict[str, int] = Field({}, description="Persons by state of residence (all recipients)")
    untranslated_languages: dict[str, int] = Field({}, description="Requested language -> persons written to in English instead")
    not_in_previous_round: int | None = Field(None, description="Follow-up rounds: persons who were not in the previous round")
    cleaned: int = Field(0, description="Lines of the error report that note removed characters (a roster row, or the letter facts), not refusals")
    characters_removed: int = Field(0, description="Control and bidirectional-override characters removed from roster fields and the letter facts")


class NotifyResult(BaseModel):
    """The outcome of one round: counts, decisions the counts trigger, and the files written."""

    model_config = _FROZEN

    schema_version: int = SCHEMA_VERSION
    breach_id: str
    round: int
    letter: LetterKind
    roster_sha256: Sha256
    counts: NotifyCounts
    substitute_notice_required: bool
    substitute_notice_reason: str
    media_notice_states: list[str] = Field(description=f"States with more than {MEDIA_NOTICE_THRESHOLD} residents notified (HIPAA media notice)")
    export: FileRef
    manifest: FileRef
    no_address_list: FileRef
    error_report: FileRef
    call_center_sheet: FileRef
    substitute_notice: FileRef | None = None
    media_notice: FileRef | None = None
    resumed_from_row: int = Field(0, description="Roster row this attempt resumed from (0: started fresh)")
    already_done: bool = Field(False, description="The round was finished earlier; this is the stored result")


class ReturnedMailRequest(BaseModel):
    """Letters returned as undeliverable: a CSV with a ``recipient_key`` or ``record_id`` column."""

    model_config = _FROZEN

    breach_id: BreachId
    round: Annotated[int, Field(ge=1, le=99)] = 1
    out_folder: Annotated[str, StringConstraints(min_length=1, max_length=1024)]
    returned_uri: Annotated[str, StringConstraints(min_length=1, max_length=2048)]


class ReturnedMailResult(BaseModel):
    model_config = _FROZEN

    breach_id: str
    round: int
    returned_sha256: Sha256
    returned_rows: int
    matched: int = Field(description="Distinct recipients of the round's export named in the file")
    unknown: int = Field(description="Entries that name no recipient of the export (listed in the unmatched report)")
    repeated: int = Field(description="Entries naming a recipient already named earlier in the file")
    substitute_notice_required: bool
    by_state: dict[str, int]
    addendum: FileRef
    unmatched: FileRef
    summary: FileRef | None = Field(None, description="summary.json (which holds this result without this field)")
    substitute_notice: FileRef | None = None
    already_done: bool = False


NoAddressAction = Literal["none", "alternative_contact", "substitute_notice"]

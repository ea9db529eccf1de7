"""What a roster row must hold, and who gets the letter it leads to.

A row is checked column by column (``RowParser``) into a ``Person`` or a ``RowProblem``
that names the problem, never the row's personal data, so the error report can go to
people who may not see the roster. Its text fields lose their control and bidirectional
formatting characters first (``activities.safe_text``): what a letter, a notice or the
mail-house file shows is what the row holds, and ``Person.removed`` counts what was taken.

The rules are written once, here: the export's columnar fast path (``batch``) only ever
accepts rows this path would accept with the same result.

Routing (plan: Special considerations): minors are written to their parent or guardian,
deceased people to their estate or next of kin. What identifies a person across duplicate
records (``identity_material``: normalised first name, last name, date of birth and SSN,
or MBI when there is no SSN) is defined here too; ``person_key`` digests it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from operator import itemgetter

from activities.safe_text import UNSAFE, clean_line
from models.mailing import LetterVariant

COLUMNS: tuple[str, ...] = (
    "record_id", "first_name", "last_name", "date_of_birth", "ssn", "mbi", "address_line1", "address_line2",
    "city", "state", "zip", "email", "phone", "language", "large_print", "is_minor", "guardian_name", "deceased",
)

# USPS codes: the states, DC, the territories, the freely associated states and military mail.
STATES = frozenset(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND "
    "OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR VI GU AS MP FM MH PW AA AE AP".split()
)
UNKNOWN_STATE = "unknown"

_TRUE = {"true": True, "yes": True, "y": True, "1": True, "t": True, "false": False, "no": False, "n": False, "0": False, "f": False, "": False}
_DOB = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_SSN = re.compile(r"(\d{3})-?(\d{2})-?(\d{4})")
_MBI = re.compile(r"[1-9][A-Za-z][A-Za-z0-9]\d-?[A-Za-z][A-Za-z0-9]\d-?[A-Za-z]{2}\d{2}")
_ZIP = re.compile(r"\d{5}(?:-?\d{4})?")
_LANG = re.compile(r"([a-z]{2,3})(?:[-_][a-z0-9]{2,8})*")
_OFFICIAL_MAIL = re.compile(r"^[^@\s]+@(?:[A-Za-z0-9-]+\.)+(?:gov|mil)$", re.IGNORECASE)
_EARLIEST_BIRTH_YEAR = 1880


class RowProblem(Exception):
    """One row cannot be used; the message names the problem, never the row's values."""


@dataclass(slots=True)
class Person:
    """One valid roster row, with its routing worked out once. Personal data: stays in this
    process and in the letters; never logged, never in a workflow payload."""

    row: int
    record_id: str
    first_name: str
    last_name: str
    date_of_birth: str
    identity: str  # "ssn:<9 digits>" or "mbi:<11 characters>"
    address_line1: str
    address_line2: str
    city: str
    state: str  # USPS code, or "" when unknown
    zip: str
    email: str
    phone: str
    language: str
    large_print: bool
    is_minor: bool
    guardian_name: str
    deceased: bool
    variant: LetterVariant
    address_problem: str | None  # why the postal address is not usable; None when it is
    removed: int = 0  # control and bidi characters taken out of the row's text fields

    @property
    def official_email(self) -> bool:
        return self.is_official(self.email)

    @staticmethod
    def is_official(email: str) -> bool:
        """An official .gov or .mil address (Attachment C: the only e-mail HHS may use)."""
        return bool(email) and _OFFICIAL_MAIL.match(email) is not None

    def addressee(self) -> list[str]:
        """The first lines of the address block: who the envelope is for."""
        if self.deceased:
            return [f"To the estate or next of kin of {self.first_name} {self.last_name}"]
        if self.is_minor:
            line = f"Parent or guardian of {self.first_name}"
            return [self.guardian_name, line] if self.guardian_name else [line]
        return [f"{self.first_name} {self.last_name}"]

    def address_block(self) -> list[str]:
        lines = self.addressee()
        if self.address_problem is None:
            lines.append(self.address_line1)
            if self.address_line2:
                lines.append(self.address_line2)
            lines.append(f"{self.city} {self.state} {self.zip}")
        return lines

    def identity_material(self) -> bytes:
        return identity_material(self.first_name, self.last_name, self.date_of_birth, self.identity)


def normalise_name(value: str) -> str:
    """A name as the person key sees it: Unicode-normalised, single-spaced, case-folded."""
    if value.isascii():
        return value.lower() if value.isalpha() else " ".join(value.split()).lower()
    return " ".join(unicodedata.normalize("NFKC", value).split()).casefold()


def identity_material(first: str, last: str, dob: str, identity: str) -> bytes:
    """What the person key digests: normalised names, birth date and SSN (or MBI)."""
    return f"{normalise_name(first)}\x1f{normalise_name(last)}\x1f{dob}\x1f{identity}".encode()


def _flag(value: str, column: str) -> bool:
    try:
        return _TRUE[value]
    except KeyError:
        pass
    try:
        return _TRUE[value.lower()]
    except KeyError:
        raise RowProblem(f"{column} is not true or false") from None


def _valid_dob(text: str, today: date) -> bool:
    m = _DOB.fullmatch(text)
    if not m:
        return False
    year, month, day = int(m[1]), int(m[2]), int(m[3])
    if year < _EARLIEST_BIRTH_YEAR or not 1 <= month <= 12 or not 1 <= day <= 31:
        return False
    try:
        return date(year, month, day) <= today
    except ValueError:
        return False


def _address_problem(line1: str, city: str, state: str, zip_: str) -> str | None:
    if line1 and city and state and zip_:
        if (len(zip_) == 5 and zip_.isdigit()) or _ZIP.fullmatch(zip_):
            return None
        return "invalid ZIP code"
    if not (line1 or city or zip_):
        return "no address"
    missing = [n for n, v in (("street", line1), ("city", city), ("state", state), ("ZIP", zip_)) if not v]
    return "incomplete address: no " + ", ".join(missing)


_CACHE_LIMIT = 4096


class RowParser:
    """Turns roster fields into a ``Person`` or raises ``RowProblem``.

    Birth dates and language codes repeat across millions of rows, so their checks are
    cached; the caches are bounded (by the number of possible dates, and a fixed limit).
    """

    def __init__(self, today: date | None = None, *, width: int = len(COLUMNS), order: list[int] | None = None) -> None:
        self._today = today or date.today()
        self.width = width
        self.order = None if order is None or (order == list(range(len(COLUMNS))) and width == len(COLUMNS)) else list(order)
        self._pick = itemgetter(*self.order) if self.order else None
        self._dob_ok: dict[str, bool] = {}
        self._languages: dict[str, str | None] = {}

    def language_code(self, raw: str) -> str | None:
        """The language code a raw ``language`` value means ("" is English), or None if it is not one."""
        code = self._languages.get(raw)
        if code is None and raw not in self._languages:
            m = _LANG.fullmatch(raw.strip().lower() or "en")
            code = m[1] if m else None
            if len(self._languages) < _CACHE_LIMIT:
                self._languages[raw] = code
        return code

    @cached_property
    def iso_birth_dates(self) -> frozenset[str]:
        """Every valid birth date written YYYY-MM-DD (about 53,000 strings, 5 MB, 30 ms to build):
        the batch path checks a column of dates with one set difference; a value not in it
        (a bad date, or another spelling ``dob_ok`` may still accept) takes the per-row path."""
        first, last = date(_EARLIEST_BIRTH_YEAR, 1, 1).toordinal(), self._today.toordinal()
        return frozenset(map(date.isoformat, map(date.fromordinal, range(first, last + 1))))

    def dob_ok(self, text: str) -> bool:
        ok = self._dob_ok.get(text)
        if ok is None:
            ok = _valid_dob(text, self._today)
            if len(self._dob_ok) < 100_000:  # every date since 1880 fits
                self._dob_ok[text] = ok
        return ok

    def record_id_of(self, fields: list[str]) -> str:
        """The record id of a raw row, if it has one (for the error report)."""
        at = self.order[0] if self.order else 0
        return clean_line(fields[at])[0].strip() if len(fields) > at else ""

    def __call__(self, row: int, fields: list[str]) -> Person:
        if len(fields) != self.width:
            raise RowProblem(f"wrong number of fields ({len(fields)}, the header has {self.width})")
        if self._pick is not None:
            fields = self._pick(fields)
        (record_id, first, last, dob, ssn, mbi, line1, line2, city, state, zip_, email, phone,
         language, large_print, is_minor, guardian, deceased) = map(str.strip, fields)
        removed = 0
        joined = "".join(fields)
        if not joined.isprintable() and UNSAFE.search(joined):
            text = []
            for value in (record_id, first, last, line1, line2, city, email, phone, guardian):
                cleaned, n = clean_line(value)
                text.append(cleaned.strip())
                removed += n
            record_id, first, last, line1, line2, city, email, phone, guardian = text
        if not record_id:
            raise RowProblem("missing record_id")
        if not first:
            raise RowProblem("missing first_name")
        if not last:
            raise RowProblem("missing last_name")
        if not self.dob_ok(dob):
            raise RowProblem("date_of_birth is not a valid past date (YYYY-MM-DD)" if dob else "missing date_of_birth")
        if ssn:
            m = _SSN.fullmatch(ssn)
            if not m:
                raise RowProblem("ssn is not nine digits")
            identity = "ssn:" + m[1] + m[2] + m[3]
        elif mbi:
            if not _MBI.fullmatch(mbi):
                raise RowProblem("mbi is not a Medicare Beneficiary Identifier")
            identity = "mbi:" + mbi.replace("-", "").upper()
        else:
            raise RowProblem("neither ssn nor mbi is given")
        if state not in STATES:
            if state.upper() in STATES:
                state = state.upper()
            elif state:
                raise RowProblem("state is not a USPS state or territory code")
            elif line1:
                raise RowProblem("missing state")
        code = self.language_code(language)
        if code is None:
            raise RowProblem("language is not a language code")
        minor, dead = _flag(is_minor, "is_minor"), _flag(deceased, "deceased")
        variant = LetterVariant.estate if dead else LetterVariant.guardian if minor else LetterVariant.adult
        return Person(
            row, record_id, first, last, dob, identity, line1, line2, city, state, zip_, email, phone, code,
            _flag(large_print, "large_print"), minor, guardian, dead, variant, _address_problem(line1, city, state, zip_), removed,
        )

"""Rosters of affected individuals: where they are, what a row must hold, who gets the letter.

Why by reference: a roster is personal data of up to millions of people; it never enters
workflow history or logs. A case names it by URI (``file:`` URI or plain path, resolved
under a configured base folder and refused if it points outside it) and records its
sha256, so a re-run can prove it read the same file.

Why streaming: rows are read one at a time with the csv module, so memory does not grow
with the roster. A bad row is a *row problem* (reported with its row number and record
id, never its personal data) and the run goes on; a roster without the expected columns
is a ``RosterError`` that names the missing columns.

Routing (plan: Special considerations): minors are written to their parent or guardian,
deceased people to their estate or next of kin. The person key that reconciles duplicate
records is a keyed digest of the normalised first name, last name, date of birth and SSN
(or MBI when there is no SSN): the same person under two record ids gets one letter.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import struct
import unicodedata
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from itertools import islice, repeat
from operator import itemgetter, methodcaller
from pathlib import Path
from urllib.parse import unquote, urlsplit

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
_SPACES = re.compile(r"\s+")
_OFFICIAL_MAIL = re.compile(r"^[^@\s]+@(?:[A-Za-z0-9-]+\.)+(?:gov|mil)$", re.IGNORECASE)
_EARLIEST_BIRTH_YEAR = 1880


class RosterError(Exception):
    """The roster as a whole cannot be used: not found, outside the base folder, wrong
    header, not UTF-8, or changed since it was recorded. The message says which."""


class RowProblem(Exception):
    """One row cannot be used; the message names the problem, never the row's values."""


# --------------------------------------------------------------------------- where


def resolve(uri: str, base: Path) -> Path:
    """The file a roster URI names: ``file:`` URIs (``file:///abs``, ``file:rel/x.csv``)
    and plain paths, relative ones under ``base``. Refuses anything outside ``base``."""
    base = Path(base).resolve()
    text = uri.strip()
    if text.startswith("file:"):
        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost"):
            raise RosterError(f"roster URI {uri!r} names host {parts.netloc!r}; only local files are supported")
        text = unquote(parts.path)
    elif re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text):
        raise RosterError(f"roster URI {uri!r} has an unsupported scheme; use a file: URI or a path")
    if not text:
        raise RosterError(f"roster URI {uri!r} names no file")
    path = Path(text)
    path = (path if path.is_absolute() else base / path).resolve()
    if path != base and base not in path.parents:
        raise RosterError(f"roster URI {uri!r} resolves outside the roster folder {base}")
    if not path.is_file():
        raise RosterError(f"roster {path} does not exist or is not a file")
    return path


def _identity(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


class RosterReader:
    """Streams a roster in batches of raw rows (lists of strings, as csv gives them).

    ``batches(size)`` yields ``(first_row_number, rows)``; row 1 is the first record after
    the header, and every record counts (a blank line is an empty list the caller skips,
    so row numbers match what a person sees). ``parser()`` returns a ``RowParser`` that
    knows this file's column order. The file's checksum is taken separately
    (``sha256_file``); ``changed()`` tells whether the file was replaced or modified
    since it was opened, so a checksum taken before reading still describes what was read.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._binary = open(self.path, "rb")
        self._identity = _identity(os.fstat(self._binary.fileno()))
        self._text = io.TextIOWrapper(self._binary, encoding="utf-8-sig", newline="")
        self._reader = csv.reader(self._text, strict=False)
        self.records = 0
        try:
            header = next(self._reader)
        except StopIteration:
            self.close()
            raise RosterError(f"roster {self.path.name} is empty: no header row") from None
        except (UnicodeDecodeError, csv.Error) as exc:
            self.close()
            raise RosterError(f"roster {self.path.name} has an unreadable header: {exc}") from None
        names = [h.strip().lower() for h in header]
        missing = [c for c in COLUMNS if c not in names]
        if missing:
            self.close()
            raise RosterError(f"roster {self.path.name} lacks the column(s) {', '.join(missing)}; the header must name {', '.join(COLUMNS)}")
        dupes = sorted({n for n in names if names.count(n) > 1 and n in COLUMNS})
        if dupes:
            self.close()
            raise RosterError(f"roster {self.path.name} names the column(s) {', '.join(dupes)} more than once")
        self.width = len(names)
        self.order = [names.index(c) for c in COLUMNS]

    @property
    def bytes_read(self) -> int:
        """Bytes taken from the file so far (read ahead of the rows by at most one buffer)."""
        return self._binary.tell()

    def changed(self) -> bool:
        try:
            return _identity(os.stat(self.path)) != self._identity
        except FileNotFoundError:
            return True

    def parser(self, today: date | None = None) -> RowParser:
        return RowParser(today, width=self.width, order=self.order)

    def batches(self, size: int) -> Iterator[tuple[int, list[list[str]]]]:
        reader = self._reader
        try:
            while rows := list(islice(reader, size)):
                first = self.records + 1
                self.records += len(rows)
                yield first, rows
        except UnicodeDecodeError as exc:
            raise RosterError(f"roster {self.path.name} is not valid UTF-8 after row {self.records}: {exc.reason}") from None
        except csv.Error as exc:
            raise RosterError(f"roster {self.path.name} cannot be parsed after row {self.records}: {exc}") from None

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        for first, rows in self.batches(1024):
            yield from enumerate(rows, first)

    def skip(self, count: int) -> None:
        """Consume ``count`` records (resume from a checkpoint)."""
        while self.records < count:
            if not any(True for _ in self.batches(min(count - self.records, 65536))):
                raise RosterError(f"roster {self.path.name} has {self.records} rows, fewer than the {count} already processed: it changed")

    def close(self) -> None:
        self._text.close()

    def __enter__(self) -> RosterReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# --------------------------------------------------------------------------- what a row holds


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
        return fields[at].strip() if len(fields) > at else ""

    def __call__(self, row: int, fields: list[str]) -> Person:
        if len(fields) != self.width:
            raise RowProblem(f"wrong number of fields ({len(fields)}, the header has {self.width})")
        if self._pick is not None:
            fields = self._pick(fields)
        (record_id, first, last, dob, ssn, mbi, line1, line2, city, state, zip_, email, phone,
         language, large_print, is_minor, guardian, deceased) = map(str.strip, fields)
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
            _flag(large_print, "large_print"), minor, guardian, dead, variant, _address_problem(line1, city, state, zip_),
        )


# --------------------------------------------------------------------------- keys


_DIGEST, _UPDATE, _COPY = hashlib.blake2b.digest, hashlib.blake2b.update, methodcaller("copy")


class KeyMaker:
    """Keyed digests of a person's identity for one breach and round.

    The key is secret (per breach, kept in the work folder) so that a recipient key in a
    mail-house file cannot be tested against guessed SSNs and birth dates. ``digest``
    returns 16 bytes (its hex form is the recipient key printed in the export and on the
    letter); ``pair`` splits them into the two signed 64-bit integers the work database
    stores.
    """

    def __init__(self, secret: bytes, breach_id: str, round_: int) -> None:
        self._secret = secret
        self._person = f"r{round_:03d}".encode()
        self._salt = hashlib.blake2b(breach_id.encode(), digest_size=16).digest()
        # The keyed state, copied per person: whole batches hash with C-level maps, no Python frame per row.
        self._base = hashlib.blake2b(key=secret, salt=self._salt, person=self._person, digest_size=16)

    def digest(self, material: bytes) -> bytes:
        h = self._base.copy()
        h.update(material)
        return h.digest()

    def digests(self, materials: list[bytes]) -> list[bytes]:
        states = list(map(_COPY, repeat(self._base, len(materials))))
        deque(map(_UPDATE, states, materials), maxlen=0)
        return list(map(_DIGEST, states))

    pair = staticmethod(struct.Struct(">qq").unpack)


def load_secret(path: Path) -> bytes:
    """The breach's existing person key (to recompute recipient keys after the fact)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise RosterError(f"the breach key file {path} is missing: recipient keys of this breach cannot be recomputed") from None
    if len(data) != 32:
        raise RosterError(f"the breach key file {path} is damaged ({len(data)} bytes, expected 32)")
    return data


def load_or_create_secret(path: Path) -> bytes:
    """The breach's key for person digests: 32 random bytes, created once (0600), atomically."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, os.urandom(32))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # fails if another process created it first: theirs wins
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
        data = path.read_bytes()
    if len(data) != 32:
        raise RosterError(f"the breach key file {path} is damaged ({len(data)} bytes, expected 32)")
    return data

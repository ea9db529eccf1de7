"""One checkpoint's worth of roster rows turned into export lines, a batch at a time.

Why columnar: an interpreted loop that strips, checks, hashes and formats every field of
every row costs several times what it takes to read the CSV. Here a batch is transposed
into columns (``zip``) and the common case (an adult with a canonical SSN, a usable
address and clean fields) is checked, keyed and formatted with whole-column ``map``,
``set`` and %-formatting operations that run in C. Every other row (a data problem, a
minor, a deceased person, no usable address, an approved e-mail, unusual formatting)
takes the per-row path through ``RowParser`` and ``Person``: the rules are written once,
there. The fast path only ever *accepts* rows the per-row path would accept with the
same result; the tests run rosters both ways and compare the outputs byte for byte.

Safe cells: every line goes through ``csv_line``, which quotes a cell a spreadsheet would
evaluate (``activities.safe_text``); the fast path leaves rows with such a cell, or with a
control or bidirectional character to remove, to the per-row path, which cleans and quotes
them and notes each removal in the error report.

Nothing is decided here about who is new: the batch reports each row's identity material
and its export line without the recipient key; the export process computes the keyed
digests (the person key never leaves it) and keeps the first row of each person the work
database has not seen.
"""

from __future__ import annotations

import csv
import io
import re
from bisect import bisect_left
from collections import deque
from dataclasses import dataclass
from itertools import compress, count, repeat
from operator import itemgetter, methodcaller, mod, not_

from activities.notify.person import (
    STATES,
    UNKNOWN_STATE,
    Person,
    RowParser,
    RowProblem,
    normalise_name,
)
from activities.safe_text import FORMULA_START, UNSAFE, csv_row, removal_note
from models.mailing import BASE_LANGUAGE, DeliveryMethod, LetterVariant

ADDRESS_LINES = 5
EXPORT_COLUMNS = (
    "recipient_key", "record_id", "round", "letter", "variant", "language", "requested_language", "large_print", "method",
    "email", *(f"address_line_{i}" for i in range(1, ADDRESS_LINES + 1)), "state", "zip",
)
NO_ADDRESS_COLUMNS = (
    "recipient_key", "record_id", "round", "variant", "language", "requested_language", "large_print", "reason",
    "addressee_1", "addressee_2", "state", "phone", "email",
)
ERROR_COLUMNS = ("row", "record_id", "problem")
SUB_BATCH = 1000  # rows prepared at a time: large enough for column operations, small enough to stay in cache

_MAIL, _EMAIL = DeliveryMethod.first_class_mail.value, DeliveryMethod.email.value
_ADULT = LetterVariant.adult.value
_SEPARATORS = len(EXPORT_COLUMNS) - 2  # in a line without its recipient key (see Prepared.lines)
# An adult's export line, without its recipient key, by %-formatting (twice as fast as str.format here) of
# (record id, "round,letter,adult", "language,requested", large print, first name, last name, street, second
# street line, city, state, ZIP, state, ZIP); the address block is name, street, [second line,] "city state zip",
# padded to five lines. Without a second street line, "%.0s" consumes the empty field.
_LINE_4 = "%s,%s,%s,%s," + _MAIL + ",,%s %s,%s,%s,%s %s %s,,%s,%s\r\n"
_LINE_3 = "%s,%s,%s,%s," + _MAIL + ",,%s %s,%s,%.0s%s %s %s,,,%s,%s\r\n"
_MATERIAL = "{}\x1f{}\x1f{}\x1fssn:{}"  # identity_material() of an SSN holder with clean ASCII names
_SSN_CANONICAL = re.compile(r"\d{3}-\d{2}-\d{4}")
_SSN_COLUMN = re.compile(r"(?:\d{3}-\d{2}-\d{4}\x1f)*\d{3}-\d{2}-\d{4}")
_ZIP5 = re.compile(r"\d{5}")
_ZIP_COLUMN = re.compile(r"(?:\d{5}\x1f)*\d{5}")
_FLAGS = frozenset({"true", "false"})
_UNDASH = methodcaller("replace", "-", "")
_PAD = [("",) * (ADDRESS_LINES - n) for n in range(ADDRESS_LINES + 1)]
_FIRST = itemgetter(slice(0, 1))
_FORMULA_CELL = re.compile("\x00[" + re.escape("".join(sorted(FORMULA_START))) + "]")  # a value of a \0-joined column that starts one
_CELL_START = re.compile(",[" + re.escape("".join(sorted(FORMULA_START))) + "]")  # the same in a line of fields joined by commas
_strip = str.strip


def csv_line(fields) -> str:
    """One row as CSV, its cells safe for a spreadsheet (what csv.writer writes, fast when no field needs quoting)."""
    line = ",".join(fields)
    if _CELL_START.search("," + line):  # (a comma inside a field may match too: then every cell is checked)
        fields = csv_row(fields)
        line = ",".join(fields)
    if line.count(",") == len(fields) - 1 and '"' not in line and "\n" not in line and "\r" not in line:
        return line + "\r\n"
    buf = io.StringIO()
    csv.writer(buf).writerow(fields)
    return buf.getvalue()


@dataclass
class Prepared:
    """A batch, ready for the export: one entry per person row, in row order (blank and
    refused rows have none). Plain lists of strings, bytes and ints: cheap to pickle when a
    reader process prepares batches for the export process."""

    first_row: int
    size: int  # records in the batch, blank ones included
    blank: int
    errors: list[tuple[str, str, str]]  # (row, record_id, problem), in row order: refusals, and notes of removed characters
    cleaned: int  # of ``errors``, the notes: person rows whose text lost control or bidi characters
    removed: int  # the characters those rows lost
    materials: list[bytes]  # the identity material the person key is the keyed digest of
    lines: list[str]  # the mail-house export line without "<recipient key>," in front, or "" (no-address list)
    unreachable: dict[int, tuple]  # position -> the no-address list row, without its recipient key
    combos: list[int]  # position -> id of what the tally counts (see ``BatchPreparer.combos``)
    new_combos: dict[int, tuple]  # combo ids first used in this batch


class _ComboIds(dict):
    """Tally keys (variant, language, untranslated request, large print, method, state,
    no address) to small ids, so a batch carries one int per person."""

    def __init__(self) -> None:
        super().__init__()
        self.fresh: dict[int, tuple] = {}

    def __missing__(self, key: tuple) -> int:
        self[key] = ident = len(self)
        self.fresh[ident] = key
        return ident


class _Rows:
    """Per row of the batch while it is being prepared (None where there is no person)."""

    __slots__ = ("materials", "lines", "combos", "unreachable", "errors", "cleaned", "removed")

    def __init__(self, n: int) -> None:
        self.materials: list[bytes | None] = [None] * n
        self.lines: list[str | None] = [None] * n
        self.combos: list[tuple | None] = [None] * n
        self.unreachable: dict[int, tuple] = {}
        self.errors: list[tuple[str, str, str]] = []
        self.cleaned = 0
        self.removed = 0


class BatchPreparer:
    """Prepares batches of one roster for one round: checks, routing, export lines, tally keys.
    Its caches (valid birth dates, language codes, tally keys) are bounded by the values
    they can hold, not by the roster."""

    def __init__(self, parser: RowParser, *, round_: int, letter: str, languages: set[str], email_allowed: bool,
                 fast: bool = True) -> None:
        self._parser = parser
        self._round = str(round_)
        self._letter = letter
        self._head = f"{round_},{letter},{_ADULT}"
        self._ready = languages
        self._email_allowed = email_allowed
        self._fast = fast
        self._combos = _ComboIds()
        self._languages: dict[str, tuple[str, str, str, str] | None] = {}

    # ------------------------------------------------------------------ languages

    def _language(self, raw: str) -> tuple[str, str, str, str] | None:
        """(code, letter language, untranslated request, "letter,code") of a raw language value."""
        hit = self._languages.get(raw)
        if hit is None and raw not in self._languages:
            code = self._parser.language_code(raw)
            if code is not None:
                letter, untranslated = self.letter_language(code)
                hit = (code, letter, untranslated, f"{letter},{code}")
            if len(self._languages) < 4096:
                self._languages[raw] = hit
        return hit

    def letter_language(self, code: str) -> tuple[str, str]:
        """(language the letter is written in, the requested language when it is not served)."""
        if code in self._ready:
            return code, ""
        return BASE_LANGUAGE, "" if code == BASE_LANGUAGE else code

    # ------------------------------------------------------------------ a batch

    @property
    def combos(self) -> dict[int, tuple]:
        """Every combo id handed out so far, to its tally key."""
        return {ident: key for key, ident in self._combos.items()}

    def prepare(self, first_row: int, rows: list[list[str]]) -> Prepared:
        n = len(rows)
        out = _Rows(n)
        width = self._parser.width
        lens = list(map(len, rows))
        blank = 0
        if lens.count(width) == n:
            cand = list(range(n))
        else:
            cand = [i for i, length in enumerate(lens) if length == width]
            blank = lens.count(0)
        slow = set(range(len(cand))) if not self._fast else self._fast_lane(rows, cand, out)
        for j in sorted(slow):
            self._slow_row(first_row, cand[j], rows[cand[j]], out)
        for i, length in enumerate(lens):
            if length and length != width:
                self._slow_row(first_row, i, rows[i], out)  # refused with its field count
        if out.errors:
            out.errors.sort(key=lambda e: int(e[0]))
        # Compact: one entry per person row, in row order.
        present = [i for i, m in enumerate(out.materials) if m is not None]
        if len(present) == n:
            materials, lines, combos = out.materials, out.lines, out.combos
        elif present:
            pick = itemgetter(*present) if len(present) > 1 else (lambda col: (col[present[0]],))
            materials, lines, combos = (list(pick(c)) for c in (out.materials, out.lines, out.combos))
        else:
            materials, lines, combos = [], [], []
        unreachable = {}
        if out.unreachable:
            unreachable = {bisect_left(present, i): row for i, row in out.unreachable.items()}  # its position among the persons
        ids = list(map(self._combos.__getitem__, combos))
        fresh, self._combos.fresh = self._combos.fresh, {}
        return Prepared(first_row, n, blank, out.errors, out.cleaned, out.removed, materials, lines, unreachable, ids, fresh)

    def _fast_lane(self, rows: list[list[str]], cand: list[int], out: _Rows) -> set[int]:
        """Handle the common rows column-wise; returns the positions (in ``cand``) left for the per-row path."""
        if not cand:
            return set()
        sub = rows if len(cand) == len(rows) else [rows[i] for i in cand]
        cols = list(zip(*sub))
        if self._parser.order:
            cols = [cols[i] for i in self._parser.order]
        rid, first, last, dob, ssn, _mbi, line1, line2, city, state, zip_, email, _phone, lang, large, minor, _guardian, dead = cols
        rid, first, last, line1, line2, city = (tuple(map(_strip, c)) for c in (rid, first, last, line1, line2, city))
        slow: set[int] = set()

        def flag(marks) -> None:  # marks: one truth value per row of the column, true where the row needs the per-row path
            slow.update(compress(count(), marks))

        for col in (rid, first, last, line1, city):
            if not all(col):
                flag(map(not_, col))
        for col in (rid, first, last, line1, line2, city):
            text = "".join(col)
            if not text.isprintable() and UNSAFE.search(text):  # characters to remove: the per-row path cleans and counts them
                flag(map(UNSAFE.search, col))
        for col in (rid, first, line1, line2, city):  # the fields an export cell starts with
            if _FORMULA_CELL.search("\x00" + "\x00".join(col)):
                flag(map(FORMULA_START.__contains__, map(_FIRST, col)))
        unusual = set(dob) - self._parser.iso_birth_dates  # bad dates and other spellings: the per-row path decides
        if unusual:
            flag(map(unusual.__contains__, dob))
        if not _SSN_COLUMN.fullmatch("\x1f".join(ssn)):  # one regex over the column; per value only if it fails
            flag(map(not_, map(_SSN_CANONICAL.fullmatch, ssn)))
        if not set(state) <= STATES:
            flag(map(not_, map(STATES.__contains__, state)))
        if not _ZIP_COLUMN.fullmatch("\x1f".join(zip_)):
            flag(map(not_, map(_ZIP5.fullmatch, zip_)))
        for col in (large, minor, dead):
            if not set(col) <= _FLAGS:
                flag(map(not_, map(_FLAGS.__contains__, col)))
        for col in (minor, dead):
            if "true" in col:
                flag(map("true".__eq__, col))
        langs = {raw: self._language(raw) for raw in set(lang)}
        if None in langs.values():
            flag(map(not_, map(langs.__getitem__, lang)))  # None: not a language
        if self._email_allowed and any(email):
            flag(bool(v) and Person.is_official(v.strip()) for v in email)
        if slow:
            keep = [j for j in range(len(sub)) if j not in slow]
            if not keep:
                return slow
            pick = itemgetter(*keep) if len(keep) > 1 else (lambda col: (col[keep[0]],))
            rid, first, last, dob, ssn, line1, line2, city, state, zip_, lang, large = (
                pick(c) for c in (rid, first, last, dob, ssn, line1, line2, city, state, zip_, lang, large))
        else:
            keep = range(len(sub))
        if _clean_names(first, last):  # normalise_name() is lower() for these
            materials = list(map(str.encode, map(str.lower, map(_MATERIAL.format, first, last, dob, map(_UNDASH, ssn)))))
        else:
            materials = list(map(str.encode, map(_MATERIAL.format, map(normalise_name, first), map(normalise_name, last), dob,
                                                 map(_UNDASH, ssn))))
        routes = list(map(langs.__getitem__, lang))
        lines = list(map(mod, [_LINE_4 if a else _LINE_3 for a in line2], zip(
            rid, repeat(self._head), map(itemgetter(3), routes), large, first, last, line1, line2, city, state, zip_, state, zip_)))
        text = "".join(lines)
        if text.count(",") != _SEPARATORS * len(lines) or '"' in text or text.count("\n") != len(lines) or text.count("\r") != len(lines):
            for j, line in enumerate(lines):  # a field needs CSV quoting: write those rows properly
                if line.count(",") != _SEPARATORS or '"' in line or line.count("\n") != 1 or line.count("\r") != 1:
                    cityline = f"{city[j]} {state[j]} {zip_[j]}"
                    lines[j] = csv_line((rid[j], self._round, self._letter, _ADULT, routes[j][1], routes[j][0], large[j],
                                         _MAIL, "", f"{first[j]} {last[j]}", line1[j], *((line2[j], cityline, "") if line2[j] else (cityline, "", "")),
                                         state[j], zip_[j]))
        combos = list(zip(repeat(_ADULT), map(itemgetter(1), routes), map(itemgetter(2), routes), map("true".__eq__, large),
                          repeat(_MAIL), state, repeat(False)))
        at = keep if len(cand) == len(rows) else [cand[j] for j in keep]
        for target, values in ((out.materials, materials), (out.lines, lines), (out.combos, combos)):
            deque(map(target.__setitem__, at, values), maxlen=0)
        return slow

    def _slow_row(self, first_row: int, i: int, fields: list[str], out: _Rows) -> None:
        """The per-row path: parse and route one row with ``Person`` (the rules' one home)."""
        try:
            p = self._parser(first_row + i, fields)
        except RowProblem as exc:
            out.errors.append((str(first_row + i), self._parser.record_id_of(fields), str(exc)))
            return
        material = p.identity_material()
        code = p.language
        letter, untranslated = self.letter_language(code)
        problem = p.address_problem
        method = _EMAIL if self._email_allowed and p.official_email else _MAIL if problem is None else ""
        variant = p.variant.value
        large = "true" if p.large_print else "false"
        if method:
            block = p.address_block() if problem is None else p.addressee()
            out.lines[i] = csv_line((p.record_id, self._round, self._letter, variant, letter, code, large, method,
                                      p.email if method == _EMAIL else "", *block, *_PAD[len(block)], p.state,
                                      p.zip if problem is None else ""))
        else:
            who = p.addressee()
            out.lines[i] = ""
            out.unreachable[i] = (p.record_id, self._round, variant, letter, code, large, problem, who[0],
                                  who[1] if len(who) > 1 else "", p.state, p.phone, p.email)
        if p.removed:
            out.errors.append((str(first_row + i), p.record_id, removal_note(p.removed)))
            out.cleaned += 1
            out.removed += p.removed
        out.materials[i] = material
        out.combos[i] = (variant, letter, untranslated, p.large_print, method, p.state or UNKNOWN_STATE, problem is not None)


def _clean_names(*columns: tuple[str, ...]) -> bool:
    """True when every name is ASCII with no run of whitespace: normalise_name() is then lower()."""
    joined = "\x1f".join(["\x1f".join(c) for c in columns])
    return joined.isascii() and "  " not in joined and "\t" not in joined and "\n" not in joined and "\r" not in joined \
        and "\x0b" not in joined and "\x0c" not in joined

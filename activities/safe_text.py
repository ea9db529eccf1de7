"""Text from reports and rosters, made safe for the files the project writes for people.

Two rules, kept here so every writer applies the same one (issue 14, "Safe outputs"):

* **No hidden characters** (``clean_line``, ``clean_text``, ``clean_model``). Control
  characters (Unicode category Cc: C0, DEL, C1) and the bidirectional formatting
  characters (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069) are removed before
  text reaches a letter, a notice, a PDF or a CSV. Why: an escape sequence rewrites a
  terminal that shows the file, and a right-to-left override makes a printed name or
  sentence read differently from what it holds, so an approver or a recipient would see
  one thing where another was sent. A whitespace control (tab, line feed, vertical tab,
  form feed, carriage return) becomes a space rather than vanishing, so words stay apart;
  multi-line text keeps its line feeds. Every removal is counted: the caller reports how
  many (a round writes them to its error report), so nothing is changed silently.
* **No formulas in CSV cells** (``csv_cell``, ``csv_row``). A cell a spreadsheet would
  evaluate (one that starts with ``=``, ``+``, ``-``, ``@``, tab or carriage return) gets
  a leading single quote, OWASP's rule against CSV injection: a vendor who opens the
  mail-house file sees the text, never runs it. A cell that already starts with a single
  quote gets one too, so the rule is exactly reversible (``csv_value``) for the project's
  own readers of its files (letters on demand, returned mail). Only text is quoted:
  numbers (the counts) are written by us as numbers, and a spreadsheet reads ``-1`` as a
  number, not a formula; quoting it would turn it into text and break every sum over it.
  Hex recipient keys never start with one of these characters, so they stay exact.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import BaseModel

_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}]")  # what ``clean_line`` removes or turns into a space
_UNSAFE_IN_TEXT = re.compile(f"[\x00-\x09\x0b-\x1f\x7f-\x9f{_BIDI}]")  # the same, line feeds kept
_LINE_SPACE = re.compile("[\t\n\x0b\x0c\r]")
_TEXT_SPACE = re.compile("[\t\x0b\x0c]|\r(?!\n)")
_CRLF = re.compile("\r(?=\n)")

FORMULA_START = frozenset("=+-@\t\r'")  # the single quote: so the quoting can be undone exactly


def clean_line(value: str) -> tuple[str, int]:
    """A one-line field (a name, an address line) without control or bidi characters, and how many there were."""
    if not UNSAFE.search(value):
        return value, 0
    spaced, turned = _LINE_SPACE.subn(" ", value)
    cleaned, removed = UNSAFE.subn("", spaced)
    return cleaned, turned + removed


def clean_text(value: str) -> tuple[str, int]:
    """Multi-line text (what happened, guidance) the same way, its line feeds kept (a CR LF becomes a LF)."""
    if not _UNSAFE_IN_TEXT.search(value):
        return value, 0
    joined, crlf = _CRLF.subn("", value)
    spaced, turned = _TEXT_SPACE.subn(" ", joined)
    cleaned, removed = _UNSAFE_IN_TEXT.subn("", spaced)
    return cleaned, crlf + turned + removed


def clean_model(model: BaseModel) -> tuple[BaseModel, int]:
    """A model (letter facts) with every text in it cleaned, and the number of characters removed.
    The same model comes back when nothing had to be removed."""
    removed = 0

    def walk(value):
        nonlocal removed
        if isinstance(value, str):
            cleaned, n = clean_text(value)
            removed += n
            return cleaned
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [walk(v) for v in value]
        return value

    data = walk(model.model_dump())
    return (type(model).model_validate(data) if removed else model), removed


def removal_note(removed: int) -> str:
    """How a round's error report states a removal (a count, never the text it was taken from)."""
    return f"{removed} control or bidirectional-override character{'' if removed == 1 else 's'} removed"


def csv_cell(value):
    """A text cell a spreadsheet will not evaluate; anything else (a number) as it is."""
    if isinstance(value, str) and value[:1] in FORMULA_START:
        return "'" + value
    return value


def csv_row(values: Iterable) -> list:
    return [csv_cell(v) for v in values]


def csv_value(cell: str) -> str:
    """The text a cell written by ``csv_cell`` holds (for the project's own readers of its files)."""
    return cell[1:] if cell[:1] == "'" else cell

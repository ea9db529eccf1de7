"""Notification letters: the Jinja2 template set, its languages, and rendering.

Layout: ``templates/<language>/language.json`` (month names, date format, the words for
"personally identifiable information", the large-print marker), ``letter.txt.j2`` (the
letter, with one block per element every letter must contain: ``letter_check``) and one
template per variant (``adult``, ``guardian``, ``estate``) that extends it. A language
without a folder, or without a translation of the facts, is sent in English and counted
as untranslated. The round's other documents (call-center sheet, substitute and media
notices) are templates of the same set.

Why a sandbox: templates are files an agency edits, so they are not code we trust. They
render in Jinja's ``ImmutableSandboxedEnvironment``: a template that reaches for
``__globals__``, ``__class__`` or another internal attribute (and from there ``os``, the
environment, the keys) is refused with a ``LetterError``, and none can change the facts
it is given. What a template states is cleaned first: the facts and the recipient lose
their control and bidirectional characters (``activities.safe_text``) before any letter,
notice or preview shows them.

Letters are plain text with a light markup ("## " heading, "- " list item, blank line
between paragraphs) that the PDF renderer understands. Large print (Section 508) is the
same letter with the language's marker at the top and a larger font in the PDF.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from jinja2 import BytecodeCache, FileSystemLoader, StrictUndefined, TemplateError, TemplateNotFound
from jinja2.bccache import Bucket
from jinja2.sandbox import ImmutableSandboxedEnvironment

from activities.safe_text import clean_line, clean_model

from models.mailing import BASE_LANGUAGE, LetterVariant
from models.notification import LetterFacts

TEMPLATE_DIR = Path(__file__).parent / "templates"
DOCUMENTS = ("call-center", "substitute-notice", "media-notice")  # rendered when a round ends (closing)


class TemplateRefused(Exception):
    """A letter template that must not be used; ``problems`` name the template and element."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("letter templates refused:\n" + "\n".join(f"  - {p}" for p in problems))


class LetterError(Exception):
    """A letter that cannot be rendered (unknown language, missing translation, bad font)."""


@dataclass(frozen=True)
class Language:
    code: str
    name: str
    months: tuple[str, ...]
    date_format: str
    pii_phrase: str
    large_print_marker: str

    def format_date(self, value: date) -> str:
        return self.date_format.format(day=value.day, month=self.months[value.month - 1], year=value.year)


@dataclass(frozen=True)
class Recipient:
    """Who one letter is for. Personal data: used to render a letter, never logged or returned."""

    variant: LetterVariant
    first_name: str
    last_name: str
    address_lines: tuple[str, ...]
    reference: str
    language: str = BASE_LANGUAGE
    large_print: bool = False

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class _CompiledTemplates(BytecodeCache):
    """Compiled templates shared by every ``Letters`` of this process. The activities read the
    templates afresh for each round (so a fixed template is used without a restart); this
    saves compiling them again. Jinja checks each entry against its source's checksum, so an
    edited template is compiled anew."""

    def __init__(self) -> None:
        self._store: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._store.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._store[bucket.key] = bucket.bytecode_to_string()


_COMPILED = _CompiledTemplates()


class Letters:
    """The template set: loads languages, renders letters and documents (checked by ``letter_check``)."""

    def __init__(self, template_dir: Path | None = None) -> None:
        self.dir = Path(template_dir or TEMPLATE_DIR)
        if not self.dir.is_dir():
            raise TemplateRefused([f"template folder {self.dir} does not exist"])
        self.env = ImmutableSandboxedEnvironment(
            loader=FileSystemLoader(str(self.dir)),
            undefined=StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            auto_reload=False,
            bytecode_cache=_COMPILED,
        )
        self._languages: dict[str, Language] = {}
        for folder in sorted(p for p in self.dir.iterdir() if p.is_dir()):
            meta = folder / "language.json"
            if not meta.is_file():
                continue
            try:
                data = json.loads(meta.read_text(encoding="utf-8"))
                lang = Language(
                    code=data["code"], name=data["name"], months=tuple(data["months"]), date_format=data["date_format"],
                    pii_phrase=data["pii_phrase"], large_print_marker=data["large_print_marker"],
                )
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise TemplateRefused([f"{meta}: not a valid language description ({exc})"]) from None
            if lang.code != folder.name or len(lang.months) != 12:
                raise TemplateRefused([f"{meta}: code must be {folder.name!r} and there must be 12 month names"])
            self._languages[lang.code] = lang
        if BASE_LANGUAGE not in self._languages:
            raise TemplateRefused([f"{self.dir}: no {BASE_LANGUAGE}/language.json: English letters are the fallback for every language"])

    # ------------------------------------------------------------------ languages

    @property
    def languages(self) -> list[str]:
        return list(self._languages)

    def language(self, code: str) -> Language:
        try:
            return self._languages[code]
        except KeyError:
            raise LetterError(f"there are no letter templates in language {code!r}") from None

    def translated(self, approved: list[str], facts: LetterFacts) -> list[str]:
        """The approved languages letters can be written in (template and translated facts)."""
        ready = [BASE_LANGUAGE]
        for code in approved:
            if code not in ready and code in self._languages and facts.text_for(code) is not None:
                ready.append(code)
        return ready

    @property
    def sha256(self) -> str:
        """Digest of every template file (names and contents): records which wording was used."""
        digest = hashlib.sha256()
        for path in sorted(p for p in self.dir.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            digest.update(str(path.relative_to(self.dir)).encode() + b"\0" + path.read_bytes() + b"\0")
        return digest.hexdigest()

    # ------------------------------------------------------------------ rendering

    def _context(self, facts: LetterFacts, language: str, **extra) -> dict:
        facts = clean_model(facts)[0]
        lang = self.language(language)
        text = facts.text_for(language)
        if text is None:
            raise LetterError(f"the letter facts have no {lang.name} ({language}) translation")
        return {
            "facts": facts,
            "text": text,
            "agency": text.agency or facts.agency,
            "hours": text.hours or facts.contact.hours,
            "official_title": text.notifying_official_title or facts.notifying_official_title,
            "lang": lang,
            "marker": lang.large_print_marker,
            "dates": {
                "breach_from": lang.format_date(facts.breach_from),
                "breach_to": lang.format_date(facts.breach_to) if facts.breach_to and facts.breach_to != facts.breach_from else None,
                "discovered_on": lang.format_date(facts.discovered_on),
            },
            **extra,
        }

    def letter_context(self, facts: LetterFacts, recipient: Recipient, round_: int) -> dict:
        return self._context(
            facts, recipient.language, recipient=_cleaned(recipient), round=round_, follow_up=round_ > 1, large_print=recipient.large_print,
        )

    def render(self, facts: LetterFacts, recipient: Recipient, round_: int = 1) -> str:
        """The full text of one letter."""
        return self._render(f"{recipient.language}/{recipient.variant.value}.txt.j2", self.letter_context(facts, recipient, round_))

    def render_document(self, name: str, facts: LetterFacts, language: str = BASE_LANGUAGE, **extra) -> str:
        """A document other than a letter (substitute notice, media notice, call-center sheet)."""
        return self._render(f"{language}/{name}.txt.j2", self._context(facts, language, **extra))

    def _render(self, template: str, context: dict) -> str:
        try:
            return self.env.get_template(template).render(context)
        except TemplateNotFound:
            raise LetterError(f"template {template} does not exist") from None
        except TemplateError as exc:
            raise LetterError(f"template {template} cannot be rendered: {exc}") from None

    def has_document(self, name: str, language: str) -> bool:
        return (self.dir / language / f"{name}.txt.j2").is_file()


def _cleaned(recipient: Recipient) -> Recipient:
    """The recipient as a letter names them: without control or bidirectional characters."""
    def line(value: str) -> str:
        return clean_line(value)[0]

    return replace(recipient, first_name=line(recipient.first_name), last_name=line(recipient.last_name),
                   address_lines=tuple(map(line, recipient.address_lines)), reference=line(recipient.reference))

"""Notification letters: Jinja2 templates with one block per required element, checked
before any letter is sent.

Why one block per element: the plan ("Contents of the notification") lists seven things
every letter must contain. Naming a block after each turns "does every letter say what
happened, with the dates?" into a mechanical check: ``check`` renders every variant in
every approved language with the case's facts and refuses a template whose block is
missing, renders empty, is not placed in the letter, or leaves out a required fact (the
dates, each type of PII, the toll-free number, e-mail and postal address...), naming the
element in the error.

Layout: ``templates/<language>/language.json`` (month names, date format, the words for
"personally identifiable information", the large-print marker), ``letter.txt.j2`` (the
letter and its blocks) and one template per variant (``adult``, ``guardian``,
``estate``) that extends it. A language without a folder, or without a translation of
the facts, is sent in English and counted as untranslated.

Letters are plain text with a light markup ("## " heading, "- " list item, blank line
between paragraphs) that the PDF renderer understands. Large print (Section 508) is the
same letter with the language's marker at the top and a larger font in the PDF.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from jinja2 import BytecodeCache, Environment, FileSystemLoader, StrictUndefined, Template, TemplateError, TemplateNotFound
from jinja2.bccache import Bucket
from jinja2.utils import concat

from models.mailing import BASE_LANGUAGE, LetterVariant
from models.notification import (
    Contact,
    LetterFacts,
    LetterItem,
    LetterText,
    TemplateCheck,
)

TEMPLATE_DIR = Path(__file__).parent / "templates"
DOCUMENTS = ("call-center", "substitute-notice", "media-notice")  # rendered when a round ends (export._finish)


@dataclass(frozen=True)
class Element:
    block: str
    number: int
    description: str

    def __str__(self) -> str:
        return f"element {self.number} ({self.block}: {self.description})"


ELEMENTS: tuple[Element, ...] = (
    Element("opening", 1, "an opening sentence saying the letter reports a breach of the person's PII"),
    Element("what_happened", 2, "what happened, with the breach date(s) and the discovery date"),
    Element("information_involved", 3, "the types of PII involved"),
    Element("protection", 4, "whether the information was encrypted or otherwise protected"),
    Element("guidance_and_services", 5, "guidance, countermeasures and services offered"),
    Element("what_we_are_doing", 6, "what is being done to investigate, mitigate and prevent"),
    Element("more_information", 7, "how to learn more: toll-free phone, e-mail and postal address"),
)


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


def _collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


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
    """The template set: loads languages, renders letters and documents, checks templates."""

    def __init__(self, template_dir: Path | None = None) -> None:
        self.dir = Path(template_dir or TEMPLATE_DIR)
        if not self.dir.is_dir():
            raise TemplateRefused([f"template folder {self.dir} does not exist"])
        self.env = Environment(
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
            facts, recipient.language, recipient=recipient, round=round_, follow_up=round_ > 1, large_print=recipient.large_print,
        )

    def render(self, facts: LetterFacts, recipient: Recipient, round_: int = 1) -> str:
        """The full text of one letter."""
        context = self.letter_context(facts, recipient, round_)
        name = f"{recipient.language}/{recipient.variant.value}.txt.j2"
        try:
            return self.env.get_template(name).render(context)
        except TemplateNotFound:
            raise LetterError(f"template {name} does not exist") from None
        except TemplateError as exc:
            raise LetterError(f"template {name} cannot be rendered: {exc}") from None

    def render_document(self, name: str, facts: LetterFacts, language: str = BASE_LANGUAGE, **extra) -> str:
        """A document other than a letter (substitute notice, media notice, call-center sheet)."""
        template = f"{language}/{name}.txt.j2"
        try:
            return self.env.get_template(template).render(self._context(facts, language, **extra))
        except TemplateNotFound:
            raise LetterError(f"template {template} does not exist") from None
        except TemplateError as exc:
            raise LetterError(f"template {template} cannot be rendered: {exc}") from None

    def has_document(self, name: str, language: str) -> bool:
        return (self.dir / language / f"{name}.txt.j2").is_file()

    # ------------------------------------------------------------------ checking

    def check(self, facts: LetterFacts | None = None, languages: list[str] | None = None, rounds: list[int] | None = None) -> TemplateCheck:
        """Render every variant in every approved language (initial and follow-up, regular
        and large print) and refuse the templates if any element is missing or incomplete."""
        facts = facts or sample_facts()
        approved = list(dict.fromkeys([BASE_LANGUAGE, *(languages or [])]))
        ready = self.translated(approved, facts)
        untranslated = [code for code in approved if code not in ready]
        problems: list[str] = []
        checked = 0
        for code in ready:
            lang = self._languages[code]
            text = facts.text_for(code)
            assert text is not None
            for variant in LetterVariant:
                name = f"{code}/{variant.value}.txt.j2"
                template = self._compiled(name, problems)
                if template is None:
                    continue
                for round_ in rounds or [1, 2]:
                    for large in (False, True):
                        recipient = replace(SAMPLE_RECIPIENTS[variant], language=code, large_print=large)
                        context = self.letter_context(facts, recipient, round_)
                        try:
                            problems.extend(self._check_one(name, template, context, lang, text, facts, round_, large))
                        except TemplateError as exc:
                            problems.append(f"{name}: {exc.__class__.__name__}: {exc}")
                        checked += 1
        problems.extend(self._check_documents(ready))
        if problems:
            raise TemplateRefused(list(dict.fromkeys(problems)))
        return TemplateCheck(languages=ready, untranslated=untranslated, variants=list(LetterVariant), letters_checked=checked, templates_sha256=self.sha256)

    def _check_documents(self, languages: list[str]) -> list[str]:
        """The round's other documents compile (every one in English; translations where they
        exist): a broken one is refused now, not after the export has read the whole roster."""
        problems = []
        for code in languages:
            for document in DOCUMENTS:
                if code != BASE_LANGUAGE and not self.has_document(document, code):
                    continue
                self._compiled(f"{code}/{document}.txt.j2", problems)
        return problems

    def _compiled(self, name: str, problems: list[str]) -> Template | None:
        """The template, or None with the reason added to ``problems`` (missing, or does not compile)."""
        try:
            return self.env.get_template(name)
        except TemplateNotFound:
            problems.append(f"{name}: the template file is missing")
        except TemplateError as exc:
            problems.append(f"{name}: {exc.__class__.__name__}: {exc}")
        return None

    def _check_one(self, name, template, context, lang: Language, text: LetterText, facts: LetterFacts, round_: int, large: bool) -> list[str]:
        ctx = template.new_context(context)
        letter = _collapse(concat(template.root_render_func(ctx)))
        problems = []
        for element in ELEMENTS:
            if element.block not in ctx.blocks:
                problems.append(f"{name}: {element} is missing: there is no {{% block {element.block} %}}")
                continue
            body = _collapse(concat(ctx.blocks[element.block][0](ctx)))
            if not body:
                problems.append(f"{name}: {element} renders empty")
                continue
            if body not in letter:
                problems.append(f"{name}: {element} is not placed in the letter (its block is never rendered)")
                continue
            for what, value in _required(element.block, lang, text, facts, context["dates"], round_):
                if _collapse(value) not in body:
                    problems.append(f"{name}{' (follow-up)' if what == _FOLLOW_UP else ''}: {element} lacks {what} ({value!r})")
        if large and lang.large_print_marker not in letter:
            problems.append(f"{name}: the large-print letter lacks the marker {lang.large_print_marker!r}")
        return problems


_FOLLOW_UP = "the reason for the follow-up"


def _required(block: str, lang: Language, text: LetterText, facts: LetterFacts, dates: dict, round_: int) -> list[tuple[str, str]]:
    """The facts an element must state, as (what, value) pairs."""
    contact: Contact = facts.contact
    if block == "opening":
        needed = [("the words for personally identifiable information", lang.pii_phrase)]
        if round_ > 1 and text.follow_up_reason:
            needed.append((_FOLLOW_UP, text.follow_up_reason))
        return needed
    if block == "what_happened":
        needed = [("the description of what happened", text.what_happened), ("the breach date", dates["breach_from"])]
        if dates["breach_to"]:
            needed.append(("the last breach date", dates["breach_to"]))
        return [*needed, ("the discovery date", dates["discovered_on"])]
    if block == "information_involved":
        return [("the PII type", item) for item in text.pii_types]
    if block == "protection":
        return [("the statement on encryption or protection", text.protection)]
    if block == "guidance_and_services":
        return [(f"the {kind}", item.title) for kind, items in (("guidance", text.guidance), ("service", text.services), ("countermeasure", text.countermeasures)) for item in items]
    if block == "what_we_are_doing":
        return [("the mitigation step", step) for step in text.mitigation_steps]
    if block == "more_information":
        return [("the toll-free number", contact.toll_free), ("the e-mail address", contact.email)] + [
            ("the postal address", line) for line in contact.postal_address
        ]
    return []


# --------------------------------------------------------------------------- samples

SAMPLE_RECIPIENTS: dict[LetterVariant, Recipient] = {
    LetterVariant.adult: Recipient(LetterVariant.adult, "Alex", "Sample", ("Alex Sample", "100 Sample Street", "Apt 1", "Anytown MD 21244"), "SAMPLE-ADULT-0001"),
    LetterVariant.guardian: Recipient(LetterVariant.guardian, "Jamie", "Sample", ("Pat Sample", "Parent or guardian of Jamie", "200 Sample Street", "Anytown MD 21244"), "SAMPLE-GUARDIAN-0002"),
    LetterVariant.estate: Recipient(LetterVariant.estate, "Chris", "Sample", ("To the estate or next of kin of Chris Sample", "300 Sample Street", "Anytown MD 21244"), "SAMPLE-ESTATE-0003"),
}


def sample_facts() -> LetterFacts:
    """Plausible facts for checking templates when no case is at hand (never a real breach)."""
    return LetterFacts(
        breach_from=date(2026, 3, 2),
        breach_to=date(2026, 3, 9),
        discovered_on=date(2026, 3, 12),
        notifying_official="Jordan Example",
        notifying_official_title="Administrator",
        what_happened="A laptop holding a claims extract was stolen from a contractor's car.",
        pii_types=["Full name", "Social Security number", "Date of birth", "Medicare number"],
        protection="The laptop's disk was not encrypted.",
        guidance=[
            LetterItem(title="Place a fraud alert", text="Call one of the three national credit bureaus; it tells the other two."),
            LetterItem(title="Get your free credit reports", text="Visit annualcreditreport.com and look for accounts you do not recognize."),
        ],
        countermeasures=[LetterItem(title="Change-of-address watch", text="We will confirm any request to change your address with you by mail.")],
        services=[LetterItem(title="Credit monitoring", text="Two years at no cost; enroll with the code in this letter by June 30, 2026.")],
        mitigation_steps=["reported the theft to law enforcement", "required full-disk encryption on every contractor laptop"],
        follow_up_reason="We have learned that bank account numbers were also on the laptop.",
        contact=Contact(
            toll_free="1-800-555-0100",
            tty="1-800-555-0101",
            hours="Monday to Friday, 8 a.m. to 8 p.m. Eastern time",
            email="privacy-incident@example.gov",
            postal_address=["Privacy Office, Mail Stop S1-00-00", "7500 Security Boulevard", "Baltimore, MD 21244"],
            web_page="https://www.example.gov/breach",
        ),
        translations={
            "es": LetterText(
                agency="Centros de Servicios de Medicare y Medicaid",
                hours="de lunes a viernes, de 8 a. m. a 8 p. m., hora del Este",
                notifying_official_title="Administrador",
                what_happened="Robaron del automóvil de un contratista una computadora portátil con un extracto de reclamaciones.",
                pii_types=["Nombre completo", "Número de Seguro Social", "Fecha de nacimiento", "Número de Medicare"],
                protection="El disco de la computadora portátil no estaba cifrado.",
                guidance=[
                    LetterItem(title="Coloque una alerta de fraude", text="Llame a una de las tres agencias nacionales de crédito; ella avisa a las otras dos."),
                    LetterItem(title="Obtenga sus informes de crédito gratuitos", text="Visite annualcreditreport.com y busque cuentas que no reconozca."),
                ],
                countermeasures=[LetterItem(title="Vigilancia de cambios de dirección", text="Confirmaremos con usted por correo cualquier solicitud de cambio de dirección.")],
                services=[LetterItem(title="Monitoreo de crédito", text="Dos años sin costo; inscríbase con el código de esta carta antes del 30 de junio de 2026.")],
                mitigation_steps=["denunciamos el robo a las autoridades", "exigimos el cifrado completo del disco en todas las computadoras portátiles de los contratistas"],
                follow_up_reason="Supimos que en la computadora portátil también había números de cuentas bancarias.",
            )
        },
    )

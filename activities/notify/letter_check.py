"""What every letter must say, and the check that refuses templates which do not say it.

Why one block per element: the plan ("Contents of the notification") lists seven things
every letter must contain. Naming a template block after each turns "does every letter say
what happened, with the dates?" into a mechanical check: ``check_templates`` renders every
variant in every approved language with the case's facts and refuses a template whose
block is missing, renders empty, is not placed in the letter, or leaves out a required fact
(the dates, each type of PII, the toll-free number, e-mail and postal address...), naming
the element in the error. The round's other documents must at least compile, so a broken
one is refused at CMS approval, not after the export has read the whole roster.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from jinja2 import Environment, Template, TemplateError, TemplateNotFound
from jinja2.utils import concat

from activities.notify.letters import DOCUMENTS, Language, Letters, TemplateRefused
from activities.notify.samples import SAMPLE_RECIPIENTS, sample_facts
from activities.safe_text import clean_model
from models.mailing import BASE_LANGUAGE, LetterVariant
from models.notification import Contact, LetterFacts, LetterText, TemplateCheck


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


def check_templates(letters: Letters, facts: LetterFacts | None = None, languages: list[str] | None = None,
                    rounds: list[int] | None = None) -> TemplateCheck:
    """Render every variant in every approved language (initial and follow-up, regular
    and large print) and refuse the templates if any element is missing or incomplete."""
    facts = clean_model(facts or sample_facts())[0]  # as the letters state them (``Letters`` cleans them too)
    approved = list(dict.fromkeys([BASE_LANGUAGE, *(languages or [])]))
    ready = letters.translated(approved, facts)
    untranslated = [code for code in approved if code not in ready]
    problems: list[str] = []
    checked = 0
    for code in ready:
        lang = letters.language(code)
        text = facts.text_for(code)
        assert text is not None
        for variant in LetterVariant:
            name = f"{code}/{variant.value}.txt.j2"
            template = _compiled(letters.env, name, problems)
            if template is None:
                continue
            for round_ in rounds or [1, 2]:
                for large in (False, True):
                    recipient = replace(SAMPLE_RECIPIENTS[variant], language=code, large_print=large)
                    context = letters.letter_context(facts, recipient, round_)
                    try:
                        problems.extend(_check_one(name, template, context, lang, text, facts, round_, large))
                    except TemplateError as exc:
                        problems.append(f"{name}: {exc.__class__.__name__}: {exc}")
                    checked += 1
    problems.extend(_check_documents(letters, ready))
    if problems:
        raise TemplateRefused(list(dict.fromkeys(problems)))
    return TemplateCheck(languages=ready, untranslated=untranslated, variants=list(LetterVariant), letters_checked=checked, templates_sha256=letters.sha256)


def _check_documents(letters: Letters, languages: list[str]) -> list[str]:
    """The round's other documents compile (every one in English; translations where they
    exist): a broken one is refused now, not after the export has read the whole roster."""
    problems: list[str] = []
    for code in languages:
        for document in DOCUMENTS:
            if code != BASE_LANGUAGE and not letters.has_document(document, code):
                continue
            _compiled(letters.env, f"{code}/{document}.txt.j2", problems)
    return problems


def _compiled(env: Environment, name: str, problems: list[str]) -> Template | None:
    """The template, or None with the reason added to ``problems`` (missing, or does not compile)."""
    try:
        return env.get_template(name)
    except TemplateNotFound:
        problems.append(f"{name}: the template file is missing")
    except TemplateError as exc:
        problems.append(f"{name}: {exc.__class__.__name__}: {exc}")
    return None


def _collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _check_one(name, template, context, lang: Language, text: LetterText, facts: LetterFacts, round_: int, large: bool) -> list[str]:
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

"""Letter templates: every variant in every language has the seven required elements
(plan: Contents of the notification), and a template missing one is refused by name."""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from activities.notify.letter_check import ELEMENTS, check_templates
from activities.notify.letters import TEMPLATE_DIR, LetterError, Letters, TemplateRefused
from activities.notify.samples import SAMPLE_RECIPIENTS, sample_facts
from activities.notify.preview import letter_pdf, preview_pdf
from models.mailing import LetterVariant
from models.notification import Contact, LetterFacts, NotifyRequest

FACTS = sample_facts()
LETTERS = Letters()
ES = FACTS.translations["es"]


def _broken_copy(tmp_path: Path, file: str, old: str, new: str) -> Letters:
    """A copy of the templates with every ``old`` in ``file`` replaced by ``new``."""
    folder = tmp_path / "templates"
    shutil.copytree(TEMPLATE_DIR, folder)
    path = folder / file
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {file}"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return Letters(folder)


def _without_block(text: str, block: str) -> str:
    """The template text with ``{% block <block> %} ... {% endblock %}`` (and what it nests) removed."""
    start = text.index(f"{{% block {block} %}}")
    depth, at = 0, start
    for m in re.finditer(r"{%-?\s*(block \w+|endblock)\s*-?%}", text[start:]):
        depth += 1 if m.group(1).startswith("block") else -1
        if depth == 0:
            at = start + m.end()
            break
    return text[:start] + text[at:]


# ------------------------------------------------------------------ every variant renders every element


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("variant", list(LetterVariant))
@pytest.mark.parametrize("large_print", [False, True])
@pytest.mark.parametrize("round_", [1, 2])
def test_each_variant_states_the_seven_elements(language, variant, large_print, round_):
    recipient = replace(SAMPLE_RECIPIENTS[variant], language=language, large_print=large_print)
    text = LETTERS.render(FACTS, recipient, round_)
    words = FACTS if language == "en" else ES
    lang = LETTERS.language(language)
    flat = " ".join(text.split())
    # (1) opening: reports a breach of the person's PII
    assert lang.pii_phrase in flat
    # (2) what happened, with the breach dates and the discovery date
    assert words.what_happened in flat
    for day in (FACTS.breach_from, FACTS.breach_to, FACTS.discovered_on):
        assert lang.format_date(day) in flat
    # (3) the types of PII
    for item in words.pii_types:
        assert f"- {item}" in text
    # (4) encrypted or otherwise protected
    assert words.protection in flat
    # (5) guidance, countermeasures, services
    for item in [*words.guidance, *words.countermeasures, *words.services]:
        assert item.title in flat
    # (6) investigate, mitigate, prevent
    for step in words.mitigation_steps:
        assert step in flat
    # (7) toll-free phone, e-mail, postal address
    assert FACTS.contact.toll_free in flat and FACTS.contact.email in flat
    for line in FACTS.contact.postal_address:
        assert line in text
    assert (lang.large_print_marker in text) is large_print
    assert (words.follow_up_reason in flat) is (round_ > 1)
    assert recipient.reference in text


def test_variants_address_the_right_person():
    guardian = LETTERS.render(FACTS, SAMPLE_RECIPIENTS[LetterVariant.guardian])
    assert "Dear Parent or Guardian of Jamie:" in guardian and "credit freeze for Jamie" in guardian
    estate = LETTERS.render(FACTS, SAMPLE_RECIPIENTS[LetterVariant.estate])
    assert "To the Estate or Next of Kin of Chris Sample:" in estate and "deceased alert" in estate
    adult = LETTERS.render(FACTS, SAMPLE_RECIPIENTS[LetterVariant.adult])
    assert "Dear Alex Sample:" in adult and "breach of your personally identifiable information" in adult
    es = LETTERS.render(FACTS, replace(SAMPLE_RECIPIENTS[LetterVariant.guardian], language="es"))
    assert "Estimado padre, madre o tutor de Jamie:" in es and "12 de marzo de 2026" in es


def test_check_passes_and_reports_untranslated_languages():
    check = check_templates(LETTERS, FACTS, ["en", "es", "zh", "vi"])
    assert check.languages == ["en", "es"]
    assert check.untranslated == ["zh", "vi"]
    assert check.letters_checked == 2 * 3 * 2 * 2  # languages x variants x rounds x large print
    # Spanish approved but the facts have no Spanish wording: sent in English, reported.
    english_only = FACTS.model_copy(update={"translations": {}})
    assert check_templates(LETTERS, english_only, ["en", "es"]).untranslated == ["es"]


# ------------------------------------------------------------------ refusing broken templates


@pytest.mark.parametrize("element", ELEMENTS, ids=lambda e: e.block)
def test_a_template_without_a_block_is_refused_naming_the_element(tmp_path, element):
    folder = tmp_path / "templates"
    shutil.copytree(TEMPLATE_DIR, folder)
    base = folder / "en" / "letter.txt.j2"
    base.write_text(_without_block(base.read_text(encoding="utf-8"), element.block), encoding="utf-8")
    with pytest.raises(TemplateRefused) as refused:
        check_templates(Letters(folder), FACTS, ["en"])
    message = str(refused.value)
    assert f"element {element.number} ({element.block}:" in message
    assert "is missing" in message or "lacks" in message


def test_an_empty_block_is_refused(tmp_path):
    broken = _broken_copy(tmp_path, "es/letter.txt.j2", "## ¿Estaba protegida la información?\n\n{{ text.protection }}\n", "")
    with pytest.raises(TemplateRefused, match=r"es/adult\.txt\.j2: element 4 \(protection: .*\) renders empty"):
        check_templates(broken, FACTS, ["en", "es"])


@pytest.mark.parametrize(("old", "what"), [
    ("We discovered it on {{ dates.discovered_on }}.", "element 2 (what_happened: .*) lacks the discovery date"),
    ("- {{ item }}\n", "element 3 (information_involved: .*) lacks the PII type"),
    ("E-mail: {{ facts.contact.email }}", "element 7 (more_information: .*) lacks the e-mail address"),
    ("{{ facts.contact.toll_free }}", "element 7 (more_information: .*) lacks the toll-free number"),
    ("{{ text.protection }}", "element 4 (protection: .*) lacks the statement on encryption or protection"),
])
def test_a_block_without_a_required_fact_is_refused(tmp_path, old, what):
    broken = _broken_copy(tmp_path, "en/letter.txt.j2", old, "")
    with pytest.raises(TemplateRefused, match=what.replace("(", r"\(").replace(")", r"\)").replace(r"\(\.\*\)", "(.*)")):
        check_templates(broken, FACTS, ["en"])


def test_a_variant_that_is_not_placed_in_the_letter_is_refused(tmp_path):
    # The child template overrides a block the layout never renders: the wording would never be sent.
    _broken_copy(tmp_path, "en/letter.txt.j2", "{% block opening %}", "{% if false %}{% block opening %}")
    broken_text = (tmp_path / "templates" / "en" / "letter.txt.j2").read_text()
    (tmp_path / "templates" / "en" / "letter.txt.j2").write_text(
        broken_text.replace("{% endblock %}\n\n{% block what_happened %}", "{% endblock %}{% endif %}\n\n{% block what_happened %}", 1))
    with pytest.raises(TemplateRefused, match=r"element 1 \(opening: .*\) (is not placed in the letter|renders empty)"):
        check_templates(Letters(tmp_path / "templates"), FACTS, ["en"])


def test_a_missing_variant_file_and_a_syntax_error_are_refused(tmp_path):
    folder = tmp_path / "templates"
    shutil.copytree(TEMPLATE_DIR, folder)
    (folder / "es" / "estate.txt.j2").unlink()
    (folder / "en" / "guardian.txt.j2").write_text("{% extends 'en/letter.txt.j2' %}{% block opening %}{{ oops(}}{% endblock %}")
    with pytest.raises(TemplateRefused) as refused:
        check_templates(Letters(folder), FACTS, ["es"])
    assert "es/estate.txt.j2: the template file is missing" in str(refused.value)
    assert "en/guardian.txt.j2: TemplateSyntaxError" in str(refused.value)


def test_english_is_required(tmp_path):
    folder = tmp_path / "templates"
    shutil.copytree(TEMPLATE_DIR, folder)
    (folder / "en" / "language.json").unlink()
    with pytest.raises(TemplateRefused, match="no en/language.json"):
        Letters(folder)


# ------------------------------------------------------------------ facts


def test_facts_are_validated():
    data = FACTS.model_dump()
    with pytest.raises(ValueError, match="not a toll-free number"):
        Contact.model_validate({**data["contact"], "toll_free": "1-410-555-0100"})
    with pytest.raises(ValueError, match="discovered_on must not precede breach_from"):
        LetterFacts.model_validate({**data, "discovered_on": date(2026, 1, 1)})
    with pytest.raises(ValueError, match="follow_up_reason must state the material change"):
        NotifyRequest(breach_id="B", round=2, roster_uri="r.csv", facts=FACTS.model_copy(update={"follow_up_reason": None}), out_folder="o")
    with pytest.raises(LetterError, match="no Chinese|no .*zh"):
        LETTERS.render(FACTS, replace(SAMPLE_RECIPIENTS[LetterVariant.adult], language="zh"))


# ------------------------------------------------------------------ PDF


def test_preview_pdf_has_a_page_per_variant_and_language_and_is_reproducible():
    data, pages, count = preview_pdf(LETTERS, FACTS, ["en", "es", "zh"], "BR-1", 1)
    assert data.startswith(b"%PDF-")
    assert count == 2 * (3 + 1)  # en and es (zh has no template): three variants and a large-print sample each
    assert pages >= count
    again, _, _ = preview_pdf(LETTERS, FACTS, ["en", "es", "zh"], "BR-1", 1)
    assert again == data
    follow_up, _, _ = preview_pdf(LETTERS, FACTS, ["en"], "BR-1", 2)
    assert follow_up != data


def test_large_print_pdf_uses_larger_type():
    text = LETTERS.render(FACTS, SAMPLE_RECIPIENTS[LetterVariant.adult])
    regular, large = letter_pdf(text, large_print=False), letter_pdf(text, large_print=True)
    assert b"/Count" in regular and large.count(b"/Type /Page\n") > regular.count(b"/Type /Page\n")


def test_a_broken_document_template_is_refused_before_the_export(tmp_path):
    # The substitute notice is rendered only when a round ends; a syntax error in it must stop
    # the check at CMS approval, not surface after the export read the whole roster.
    folder = tmp_path / "templates"
    shutil.copytree(TEMPLATE_DIR, folder)
    (folder / "es" / "substitute-notice.txt.j2").write_text("{{ oops(}}")
    check_templates(Letters(folder), FACTS, ["en"])  # Spanish not approved: its notice is not used
    (folder / "en" / "media-notice.txt.j2").unlink()
    with pytest.raises(TemplateRefused) as refused:
        check_templates(Letters(folder), FACTS, ["es"])
    assert "es/substitute-notice.txt.j2: TemplateSyntaxError" in str(refused.value)
    assert "en/media-notice.txt.j2: the template file is missing" in str(refused.value)

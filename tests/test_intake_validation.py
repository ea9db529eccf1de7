"""Every rule of the intake contract (INTAKE.md), checked without a server: each invalid
report names its offending field."""

from __future__ import annotations

import json

import pytest

from models.intake import breach_id
from starter.intake.filing import InvalidReport, parse_report
from tests.support import REPORTS


def base() -> dict:
    return json.loads((REPORTS / "recon-misdirected-email.json").read_text())


def problems(doc: dict | str) -> dict[str, str]:
    text = doc if isinstance(doc, str) else json.dumps(doc)
    with pytest.raises(InvalidReport) as info:
        parse_report(text)
    return dict(info.value.problems)


@pytest.mark.parametrize("path", [p.name for p in sorted(REPORTS.glob("*.json"))])
def test_sample_reports_are_valid(path):
    report = parse_report((REPORTS / path).read_text())
    assert report.breach_id == f"{report.source.value}-{report.external_id}"


@pytest.mark.parametrize(
    "field",
    ["external_id", "source", "reported_by", "system_id", "discovered_at", "reported_at", "summary", "data_elements", "estimated_individuals", "media", "intent", "recipient"],
)
def test_missing_required_field_is_named(field):
    doc = base()
    del doc[field]
    assert problems(doc) == {field: "Field required"}


def test_missing_reporter_subfield_is_named():
    doc = base()
    del doc["reported_by"]["email"]
    assert "reported_by.email" in problems(doc)


@pytest.mark.parametrize(
    "field,value",
    [("source", "fax"), ("media", "carrier_pigeon"), ("intent", "malicious"), ("recipient", "everyone"), ("reported_by", {"name": "a", "email": "b", "organization": "c", "role": "ceo"})],
)
def test_wrong_enum_is_named(field, value):
    doc = base()
    doc[field] = value
    found = problems(doc)
    assert any(k == field or k.startswith(field + ".") for k in found), found


def test_wrong_data_element_names_its_index():
    doc = base()
    doc["data_elements"] = ["name", "shoe_size"]
    assert "data_elements.1" in problems(doc)


def test_reported_before_discovered_is_refused():
    doc = base()
    doc["reported_at"] = "2026-11-18T09:00:00-05:00"
    (message,) = problems(doc).values()
    assert "reported_at must not precede discovered_at" in message


def test_occurred_to_before_from_is_refused():
    doc = base()
    doc["occurred_from"], doc["occurred_to"] = "2026-11-17T16:30:00-05:00", "2026-11-17T10:00:00-05:00"
    (message,) = problems(doc).values()
    assert "occurred_to must not precede occurred_from" in message


def test_timestamp_without_offset_is_refused():
    doc = base()
    doc["discovered_at"] = "2026-11-18T09:12:00"
    assert "discovered_at" in problems(doc)


def test_oversize_summary_is_refused():
    doc = base()
    doc["summary"] = "x" * 20_001
    assert "at most 20000 characters" in problems(doc)["summary"]
    doc["summary"] = "x" * 20_000
    parse_report(json.dumps(doc))


def test_empty_summary_and_external_id_are_refused():
    doc = base()
    doc["summary"], doc["external_id"] = "", "x" * 129
    assert set(problems(doc)) == {"summary", "external_id"}


def test_negative_count_is_refused():
    doc = base()
    doc["estimated_individuals"] = -1
    assert "greater than or equal to 0" in problems(doc)["estimated_individuals"]


def test_count_must_be_an_integer():
    doc = base()
    doc["estimated_individuals"] = "812"
    assert "estimated_individuals" in problems(doc)


def test_non_json_is_refused():
    found = problems("{not json")
    assert list(found) == ["(body)"] and found["(body)"].startswith("not valid JSON")


def test_unknown_field_is_named():
    doc = base()
    doc["hipaa_coverd"] = True
    assert "hipaa_coverd" in problems(doc)


def test_every_offending_field_is_named_at_once():
    doc = base()
    doc["source"], doc["estimated_individuals"] = "fax", -5
    del doc["summary"]
    assert {"source", "estimated_individuals", "summary"} <= set(problems(doc))


def test_optional_fields_default():
    doc = base()
    for field in ("occurred_from", "occurred_to", "contractor", "encrypted", "hipaa_covered"):
        doc.pop(field)
    report = parse_report(json.dumps(doc))
    assert report.hipaa_covered is False and report.contractor is None and report.encrypted is None and report.roster_uri is None


def test_breach_id_is_stable_and_collision_free():
    assert breach_id("api", "INC-1") == "api-INC-1"
    # Folding unsafe characters would make these two collide without the digest suffix.
    assert breach_id("api", "A/1") != breach_id("api", "A 1")
    assert breach_id("api", "A/1") == breach_id("api", "A/1")
    assert breach_id("api", "A/1").startswith("api-A-1-")


def test_a_validation_error_never_repeats_the_values_sent():
    """Issue 14: an error's text can reach a log line or a traceback; it names fields, never values."""
    from pydantic import ValidationError

    from models.intake import IntakeReport

    doc = base()
    doc["reported_by"]["email"] = "CANARY-REPORTER@example.gov" * 30  # too long: refused
    doc["summary"] = {"CANARY": "not text"}
    doc["source"] = "CANARY-SOURCE"
    with pytest.raises(ValidationError) as info:
        IntakeReport.model_validate(doc)
    text = str(info.value)
    assert "reported_by.email" in text and "summary" in text and "source" in text
    assert "CANARY" not in text, text

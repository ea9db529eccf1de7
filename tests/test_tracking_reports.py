"""The Appendix A tracking reports match counts computed independently from the rows inserted.

Cases are inserted straight into the register with varied opening times over several
fiscal quarters, statuses, closing times, notification, services and CISA / Congress
reports. Each report is checked in all three formats (JSON and CSV parsed back, the
table rendered to text). Fiscal years here are in the past, so the commands, which use
the real clock, review them as finished.

Every test that reads the register runs on SQLite and on PostgreSQL
(tests/register_backends.py). Opening times are inserted with varied UTC offsets, so
boundaries are checked by instant whatever the database does with offsets.
"""

from __future__ import annotations

import csv
import io
import json
import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
from rich.console import Console
from sqlmodel import Session
from typer.testing import CliRunner

from activities.db import make_engine
from models.register import CaseRecord
from starter.cli.tracking import render_table, tracking_app
from starter.tracking import formats, periods, reports
from tests.register_backends import register_url  # noqa: F401 (fixture)

ELEMENTS = ["name", "date_of_birth", "ssn", "medicare_id", "mailing_address", "medical", "bank_account"]
LATER = datetime(2030, 1, 1, tzinfo=UTC)  # "now" for the pure functions: every period has ended


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def make_cases() -> list[dict]:
    """40 random cases from FY2020 Q4 to FY2022 Q1, plus hand-placed edge cases at the boundaries."""
    rng = random.Random(20210930)
    cases = []
    for i in range(40):
        opened = utc(2020, 8, 1) + timedelta(minutes=rng.randrange(0, 487 * 24 * 60))
        concluded = rng.random() < 0.6
        notified = concluded and rng.random() < 0.5
        cases.append(dict(
            breach_id=f"api-R{i:02d}", opened_at=opened, status="concluded" if concluded else "ongoing",
            closed_at=opened + timedelta(days=rng.randrange(1, 200)) if concluded else None,
            notified=notified, services=rng.choice([[], ["credit_monitoring"], ["credit_monitoring", "identity_monitoring"]]),
            reported_to_cisa=rng.random() < 0.3, reported_to_congress=rng.random() < 0.2,
            individuals=rng.choice([3, 40, 499, 500, 12_000, 150_000]), data_elements=rng.sample(ELEMENTS, rng.randrange(1, 4)),
        ))
    edges = [
        # opened at the first instant of FY2021: in FY2021 Q1
        dict(breach_id="edge-first-instant", opened_at=utc(2020, 10, 1), status="concluded", closed_at=utc(2020, 12, 31, 23, 59), notified=True, services=["credit_monitoring"], reported_to_cisa=True, reported_to_congress=True),
        # opened at the last instant of FY2020: not in FY2021
        dict(breach_id="edge-last-of-fy2020", opened_at=utc(2020, 9, 30, 23, 59, 59, 999999), status="concluded", closed_at=utc(2020, 10, 2), notified=False, services=[], reported_to_cisa=False, reported_to_congress=False),
        # closed exactly when Q2 ends: still ongoing at the Q2 review, concluded at the Q3 review
        dict(breach_id="edge-closed-at-q2-end", opened_at=utc(2021, 2, 10, 8), status="concluded", closed_at=utc(2021, 4, 1), notified=True, services=[], reported_to_cisa=False, reported_to_congress=True),
        # services approved but the individuals not notified (yet): services not provided
        dict(breach_id="edge-services-not-sent", opened_at=utc(2021, 5, 5), status="ongoing", closed_at=None, notified=False, services=["identity_monitoring"], reported_to_cisa=True, reported_to_congress=False),
        # opened in the last microsecond of Q2
        dict(breach_id="edge-end-of-q2", opened_at=utc(2021, 3, 31, 23, 59, 59, 999999), status="ongoing", closed_at=None, notified=False, services=[], reported_to_cisa=False, reported_to_congress=False),
    ]
    for e in edges:
        e.setdefault("individuals", 7)
        e.setdefault("data_elements", ["name", "ssn"])
    return cases + edges


CASES = make_cases()


# The register is written with the times the workflow and the reports give, not always in UTC.
OFFSETS = [UTC, timezone(timedelta(hours=-4)), timezone(timedelta(hours=-5)), timezone(timedelta(hours=9, minutes=30))]


def insert(engine, cases: list[dict]) -> None:
    with Session(engine) as session:
        for i, c in enumerate(cases):
            tz = OFFSETS[i % len(OFFSETS)]
            c = c | {"opened_at": c["opened_at"].astimezone(tz), "closed_at": c["closed_at"].astimezone(tz) if c["closed_at"] else None}
            session.add(CaseRecord(
                breach_id=c["breach_id"], workflow_id=f"breach-{c['breach_id']}", source="api", external_id=c["breach_id"], system_id="sys-1",
                system_known=True, stage="closed" if c["status"] == "concluded" else "notify", status=c["status"],
                outcome="notified" if c["notified"] else None, individuals=c["individuals"], data_elements=c["data_elements"],
                contractor_involved=False, hipaa_covered=False, notified=c["notified"], individuals_notified=c["individuals"] if c["notified"] else 0,
                services=c["services"], reported_to_cisa=c["reported_to_cisa"], reported_to_congress=c["reported_to_congress"],
                discovered_at=c["opened_at"] - timedelta(hours=2), reported_at=c["opened_at"], opened_at=c["opened_at"],
                updated_at=c["closed_at"] or c["opened_at"], closed_at=c["closed_at"],
            ))
        session.commit()


@pytest.fixture
def engine(register_url):  # noqa: F811 - the imported fixture
    eng = make_engine(register_url)
    insert(eng, CASES)
    yield eng
    eng.dispose()


def expected(start: datetime, end: datetime, review_end: datetime | None) -> tuple[dict[str, str], dict[str, int]]:
    """Statuses and totals computed straight from the inserted rows."""
    chosen = [c for c in CASES if start <= c["opened_at"] < end]
    status = {
        c["breach_id"]: "concluded" if c["status"] == "concluded" and (review_end is None or c["closed_at"] < review_end) else "ongoing"
        for c in chosen
    }
    totals = {
        "cases": len(chosen),
        "ongoing": list(status.values()).count("ongoing"),
        "concluded": list(status.values()).count("concluded"),
        "individuals": sum(c["individuals"] for c in chosen),
        "notified": sum(1 for c in chosen if c["notified"]),
        "services_provided": sum(1 for c in chosen if c["notified"] and c["services"]),
        "reported_to_cisa": sum(1 for c in chosen if c["reported_to_cisa"]),
        "reported_to_congress": sum(1 for c in chosen if c["reported_to_congress"]),
        "reported_to_cisa_or_congress": sum(1 for c in chosen if c["reported_to_cisa"] or c["reported_to_congress"]),
        "ssn": sum(1 for c in chosen if "ssn" in c["data_elements"]),
    }
    return status, totals


def check_json(data: dict, status: dict[str, str], totals: dict[str, int]) -> None:
    assert {c["breach_id"]: c["status"] for c in data["cases"]} == status
    got = data["totals"]
    for name, value in totals.items():
        assert (got["data_elements"].get("ssn", 0) if name == "ssn" else got[name]) == value, name
    # per case: the Appendix A fields
    by_id = {c["breach_id"]: c for c in CASES}
    for line in data["cases"]:
        src = by_id[line["breach_id"]]
        assert (line["individuals"], line["data_elements"], line["notified"], line["reported_to_cisa"], line["reported_to_congress"]) == (
            src["individuals"], src["data_elements"], src["notified"], src["reported_to_cisa"], src["reported_to_congress"])
        assert line["services_provided"] is bool(src["notified"] and src["services"])


def check_csv(text: str, status: dict[str, str], totals: dict[str, int], quarters: int) -> None:
    records = list(csv.DictReader(io.StringIO(text)))
    cases = [r for r in records if r["record"] == "case"]
    assert {r["label"]: r["status"] for r in cases} == status
    (total,) = [r for r in records if r["record"] == "total"]
    assert len([r for r in records if r["record"] == "quarter"]) == quarters
    for name, value in totals.items():
        if name == "ssn":
            assert f"ssn={value}" in total["data_elements"].split(";") or value == 0
            continue
        assert int(total[name]) == value, name
        assert sum(int(r[name]) for r in cases) == value, name  # total rows are column sums


def check_table(report, status: dict[str, str], totals: dict[str, int]) -> None:
    buf = io.StringIO()
    Console(file=buf, width=260, color_system=None).print(render_table(report))
    text = buf.getvalue()
    for breach_id in status:
        assert breach_id in text
    total_line = next(line for line in text.splitlines() if line.strip("│ ").startswith("total"))
    numbers = [cell.strip().replace(",", "") for cell in total_line.split("│")[2:-1]]
    assert numbers[:8] == [str(totals[k]) for k in ("cases", "ongoing", "concluded", "individuals", "notified", "services_provided", "reported_to_cisa", "reported_to_congress")]


# ---------------------------------------------------------------------------- fiscal calendar


def test_fiscal_calendar():
    assert periods.fiscal_quarter(2027, 1) == periods.Period("FY2027 Q1", utc(2026, 10, 1), utc(2027, 1, 1))
    assert periods.fiscal_quarter(2027, 1).last_day.isoformat() == "2026-12-31"
    assert periods.fiscal_quarter(2027, 4) == periods.Period("FY2027 Q4", utc(2027, 7, 1), utc(2027, 10, 1))
    assert periods.fiscal_year(2027) == periods.Period("FY2027", utc(2026, 10, 1), utc(2027, 10, 1))
    assert [periods.fiscal_quarter_of(utc(2026, m, 15)) for m in (9, 10, 12)] == [(2026, 4), (2027, 1), (2027, 1)]
    assert [periods.fiscal_quarter_of(utc(2027, m, 1)) for m in (1, 3, 4, 6, 7, 9)] == [(2027, 2), (2027, 2), (2027, 3), (2027, 3), (2027, 4), (2027, 4)]
    with pytest.raises(ValueError):
        periods.fiscal_quarter(2027, 5)
    assert periods.parse_when("2026-10-01") == utc(2026, 10, 1)
    assert periods.parse_when("2026-10-01T08:00:00-04:00") == utc(2026, 10, 1, 12)
    with pytest.raises(ValueError, match="not a date"):
        periods.parse_when("2026-13-01")


# ---------------------------------------------------------------------------- the reports


@pytest.mark.parametrize("quarter", [1, 2, 3, 4])
def test_quarterly_review_matches_independent_counts(engine, quarter):
    ends = {1: utc(2021, 1, 1), 2: utc(2021, 4, 1), 3: utc(2021, 7, 1), 4: utc(2021, 10, 1)}
    status, totals = expected(utc(2020, 10, 1), ends[quarter], ends[quarter])
    assert totals["cases"] > 0
    with Session(engine) as session:
        report = reports.quarterly_review(session, 2021, quarter, now=LATER)
    assert report.review_end == ends[quarter] and len(report.by_quarter) == quarter
    check_json(json.loads(formats.to_json(report)), status, totals)
    check_csv(formats.to_csv(report), status, totals, quarters=quarter)
    check_table(report, status, totals)
    # the per-quarter breakdown adds up to the review's totals
    assert sum(b.totals.cases for b in report.by_quarter) == totals["cases"]


def test_quarterly_review_boundaries(engine):
    with Session(engine) as session:
        q2 = {line.breach_id: line for line in reports.quarterly_review(session, 2021, 2, now=LATER).cases}
        q3 = {line.breach_id: line for line in reports.quarterly_review(session, 2021, 3, now=LATER).cases}
        q1 = {line.breach_id: line for line in reports.quarterly_review(session, 2021, 1, now=LATER).cases}
    assert "edge-first-instant" in q1 and "edge-last-of-fy2020" not in q1
    assert q2["edge-closed-at-q2-end"].status == "ongoing" and q3["edge-closed-at-q2-end"].status == "concluded"
    assert "edge-end-of-q2" in q2
    assert q3["edge-services-not-sent"].services_provided is False and q3["edge-services-not-sent"].services == ("identity_monitoring",)


def test_a_quarter_not_yet_over_shows_the_current_status(engine):
    with Session(engine) as session:
        report = reports.quarterly_review(session, 2021, 2, now=utc(2021, 3, 1))
    assert report.review_end is None
    status, _ = expected(utc(2020, 10, 1), utc(2021, 4, 1), None)
    assert {line.breach_id: line.status for line in report.cases} == status


def test_annual_summary_matches_independent_counts(engine):
    status, totals = expected(utc(2020, 10, 1), utc(2021, 10, 1), utc(2021, 10, 1))
    with Session(engine) as session:
        report = reports.annual_summary(session, 2021, now=LATER)
    check_json(json.loads(formats.to_json(report)), status, totals)
    check_csv(formats.to_csv(report), status, totals, quarters=4)
    check_table(report, status, totals)
    for b, (start, end) in zip(report.by_quarter, [(utc(2020, 10, 1), utc(2021, 1, 1)), (utc(2021, 1, 1), utc(2021, 4, 1)), (utc(2021, 4, 1), utc(2021, 7, 1)), (utc(2021, 7, 1), utc(2021, 10, 1))], strict=True):
        assert b.totals.cases == sum(1 for c in CASES if start <= c["opened_at"] < end)


def test_cases_over_a_period_have_their_current_status(engine):
    status, totals = expected(utc(2020, 11, 15), utc(2021, 6, 1), None)
    with Session(engine) as session:
        report = reports.cases_report(session, utc(2020, 11, 15), utc(2021, 6, 1), now=LATER)
        everything = reports.cases_report(session, now=LATER)
        with pytest.raises(ValueError, match="the period is empty"):
            reports.cases_report(session, utc(2021, 1, 1), utc(2021, 1, 1), now=LATER)
    check_json(json.loads(formats.to_json(report)), status, totals)
    check_csv(formats.to_csv(report), status, totals, quarters=0)
    check_table(report, status, totals)
    assert everything.totals.cases == len(CASES)
    assert [line.opened_at for line in everything.cases] == sorted(c["opened_at"] for c in CASES)


# ---------------------------------------------------------------------------- the commands


@pytest.fixture
def cli(monkeypatch, engine, register_url):  # noqa: F811 - the imported fixture
    monkeypatch.setenv("BREACH_DATABASE_URL", register_url)  # not str(engine.url): that hides the password
    return CliRunner()


def test_quarterly_command_writes_json_and_csv(cli, tmp_path):
    status, totals = expected(utc(2020, 10, 1), utc(2021, 4, 1), utc(2021, 4, 1))
    out = tmp_path / "q2.json"
    result = cli.invoke(tracking_app, ["quarterly", "--fy", "2021", "--quarter", "2", "--format", "json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert (data["report"], data["fiscal_year"], data["quarter"], data["period"]["from"], data["period"]["last_day"]) == ("quarterly", 2021, 2, "2020-10-01T00:00:00Z", "2021-03-31")
    check_json(data, status, totals)
    as_csv = cli.invoke(tracking_app, ["quarterly", "--fy", "2021", "--quarter", "2", "--format", "csv"])
    assert as_csv.exit_code == 0
    check_csv(as_csv.stdout, status, totals, quarters=2)


def test_annual_and_cases_commands(cli, tmp_path):
    status, totals = expected(utc(2020, 10, 1), utc(2021, 10, 1), utc(2021, 10, 1))
    table = tmp_path / "fy2021.txt"
    assert cli.invoke(tracking_app, ["annual", "--fy", "2021", "--out", str(table)]).exit_code == 0
    text = table.read_text()
    assert "Annual summary FY2021" in text and all(b in text for b in status)
    status, totals = expected(utc(2021, 1, 1), utc(2021, 2, 1), None)
    result = cli.invoke(tracking_app, ["cases", "--from", "2021-01-01", "--to", "2021-02-01", "--format", "json"])
    assert result.exit_code == 0, result.output
    check_json(json.loads(result.stdout), status, totals)


@pytest.mark.parametrize("args, message", [
    (["cases", "--from", "2021-13-01"], "--from: '2021-13-01' is not a date"),
    (["cases", "--from", "2021-02-01", "--to", "2021-01-01"], "the period is empty"),
    (["quarterly", "--fy", "2021", "--quarter", "5"], "--quarter"),
    (["annual", "--fy", "2021", "--format", "xml"], "--format"),
    (["annual", "--fy", "2021", "--out", "/nonexistent-folder/x.csv", "--format", "csv"], "cannot write /nonexistent-folder/x.csv"),
])
def test_commands_refuse_bad_input_with_a_clear_message(cli, args, message):
    result = cli.invoke(tracking_app, args)
    assert result.exit_code == 2
    assert message in result.output


@pytest.mark.parametrize("args", [["--help"], ["cases", "--help"], ["quarterly", "--help"], ["annual", "--help"]])
def test_tracking_help_runs_with_an_example(args):
    result = CliRunner().invoke(tracking_app, args)
    assert result.exit_code == 0, result.output
    if args != ["--help"]:
        assert "Example: breach tracking" in result.output

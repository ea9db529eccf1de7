"""`breach risk`: the preview command, driven through a tiny Typer app that wraps it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from models.risk import RiskAssessment
from starter.cli.risk import PREVIEW_ASSESSOR, risk

REPORTS = Path(__file__).parents[2] / "shared" / "fixtures" / "reports"
LAPTOP = REPORTS / "laptop-claims-major.json"
RECON = REPORTS / "recon-misdirected-email.json"
LAPTOP_ANSWERS = Path(__file__).parents[1] / "examples" / "risk-answers" / "laptop-claims-major.json"

app = typer.Typer()
app.command()(risk)
runner = CliRunner()


def invoke(*args: str, stdin: str | None = None):
    return runner.invoke(app, [str(a) for a in args], input=stdin)


@pytest.mark.parametrize(("report", "level"), [
    ("laptop-claims-major", "HIGH"), ("qecp-public-pdfs", "HIGH"), ("recon-misdirected-email", "LOW"),
])
def test_markdown_preview_of_each_sample_report(report, level):
    result = invoke(REPORTS / f"{report}.json")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("# Risk-of-harm assessment: ")
    assert f"**Overall risk level: {level}**" in result.stdout
    assert f"by {PREVIEW_ASSESSOR}" in result.stdout


def test_json_output_is_the_assessment_and_reproducible():
    first = invoke(LAPTOP, "--answers", LAPTOP_ANSWERS, "--json")
    assert first.exit_code == 0, first.output
    assessment = RiskAssessment.model_validate_json(first.stdout)
    report = json.loads(LAPTOP.read_text())
    assert assessment.assessed_at.isoformat() == "2026-11-20T08:30:00-05:00" == report["reported_at"]
    assert assessment.assessed_by == PREVIEW_ASSESSOR
    assert (assessment.level, assessment.major_incident, assessment.unreviewed_factors) == ("high", True, [])
    assert invoke(LAPTOP, "--answers", LAPTOP_ANSWERS, "--json").stdout == first.stdout


def test_report_from_stdin():
    result = invoke("-", stdin=RECON.read_text())
    assert result.exit_code == 0, result.output
    assert "Risk-of-harm assessment: contractor-OUTREACH-CTR-2026-0117" in result.stdout


def test_invalid_report_names_each_field_without_a_traceback():
    bad = json.loads(RECON.read_text())
    del bad["media"]
    bad["estimated_individuals"] = -1
    bad["hipaa_coverd"] = True
    result = invoke("-", stdin=json.dumps(bad))
    assert result.exit_code == 2
    assert result.stdout == ""
    for field in ("media", "estimated_individuals", "hipaa_coverd"):
        assert field in result.stderr
    assert "Traceback" not in result.output


def test_report_that_is_not_json_or_missing():
    result = invoke("-", stdin="{not json")
    assert result.exit_code == 2 and "not valid JSON" in result.stderr
    missing = invoke("/nonexistent/report.json")
    assert missing.exit_code == 2 and "cannot read report" in missing.stderr


def test_answers_in_toml(tmp_path):
    answers = tmp_path / "answers.toml"
    answers.write_text(
        'populations = []\nsensitive_context = false\nrecipient_confirmed_deletion = true\n'
        '[factors.recipient]\nrating = "low"\nby = "Dana (APO)"\n'
    )
    result = invoke(RECON, "-a", answers)
    assert result.exit_code == 0, result.output
    assert "confirmed by Dana (APO)" in result.stdout
    assert "**Overall risk level: LOW** (likelihood low, impact low)" in result.stdout


def test_invalid_answers_name_the_field(tmp_path):
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"factors": {"recipeint": {"rating": "low", "by": "x"},
                                               "intent": {"rating": "severe", "by": "x"}},
                                   "exposure_hours": -3}))
    result = invoke(RECON, "--answers", answers)
    assert result.exit_code == 2
    assert "answers file is invalid" in result.stderr
    for field in ("factors.recipeint", "factors.intent.rating", "exposure_hours"):
        assert field in result.stderr
    assert "Traceback" not in result.output


def test_override_without_rationale_is_refused_naming_the_factor(tmp_path):
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"factors": {"security_safeguards": {"rating": "low", "by": "Lee"}}}))
    result = invoke(LAPTOP, "--answers", answers)
    assert result.exit_code == 2
    assert "security_safeguards: overriding the suggested high with low needs a rationale" in result.stderr
    assert result.stdout == ""

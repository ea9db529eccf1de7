"""`breach risk`: preview the risk-of-harm assessment of a report, without Temporal.

Why a preview command: the BRT can see the suggested ratings for a report, try their
answers, and read the document before submitting the assessment to the case. The
output is reproducible: the assessment time is the report's ``reported_at`` and the
assessor is fixed, so the same files always print the same document.
"""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path
from typing import Annotated

import typer
from pydantic import BaseModel, ValidationError

from activities.risk import AnswersRefused, PolicyError, assess, load_policy, render_markdown
from models.intake import IntakeReport
from models.risk import RiskAnswers, facts_from_report
from starter.cli.console import fail

PREVIEW_ASSESSOR = "breach risk (preview)"


def _problems(exc: ValidationError) -> list[str]:
    return [f"  {'.'.join(str(p) for p in e['loc']) or '(document)'}: {e['msg']}" for e in exc.errors()]


def _read(path: Path, what: str) -> str:
    if str(path) == "-":
        return sys.stdin.read()
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def _parse(model: type[BaseModel], text: str, what: str, toml: bool = False) -> BaseModel:
    try:
        data = tomllib.loads(text) if toml else json.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise fail(f"the {what} is not valid {'TOML' if toml else 'JSON'}: {exc}") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise fail("\n".join([f"the {what} is invalid:", *_problems(exc)])) from None


def risk(
    report: Annotated[Path, typer.Argument(help="Intake report JSON file, or '-' to read it from stdin.", allow_dash=True)],
    answers: Annotated[Path | None, typer.Option(
        "--answers", "-a", help="The BRT's answers and factor ratings: a JSON file, or TOML if it ends in .toml.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the assessment as JSON instead of Markdown.")] = False,
) -> None:
    """Preview the risk-of-harm assessment of a report (Attachment A), as Markdown or JSON.

    Each factor starts from a suggestion based on the report; the answers file adds
    facts the report lacks and confirms or overrides ratings (an override needs a
    rationale). Nothing is sent to Temporal.

    Example (from the repository root):
    breach risk ../shared/fixtures/reports/laptop-claims-major.json --answers examples/risk-answers/laptop-claims-major.json
    """
    intake = _parse(IntakeReport, _read(report, "report"), "report")
    given = RiskAnswers()
    if answers is not None:
        given = _parse(RiskAnswers, _read(answers, "answers file"), "answers file", toml=answers.suffix.lower() == ".toml")
    try:
        policy = load_policy()
        result = assess(facts_from_report(intake), given, policy,
                        assessed_by=PREVIEW_ASSESSOR, assessed_at=intake.reported_at)
    except AnswersRefused as exc:
        raise fail("\n".join(["the answers are refused:", *(f"  {f.value}: {m}" for f, m in exc.problems)])) from None
    except PolicyError as exc:
        raise fail(str(exc)) from None
    typer.echo(result.model_dump_json(indent=2) if json_out else render_markdown(result))

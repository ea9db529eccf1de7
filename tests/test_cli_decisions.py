"""Every decision command of the CLI, end to end against the real dev server: operators
are created with `breach operator add`, cases are driven to their ends with signed CLI
decisions only, and a refusal the CLI sees lands in the audit trail."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.support import REPORTS, eventually
from workflows.breach import BreachResponseWorkflow
from workflows.decision_table import DECISIONS

pytestmark = pytest.mark.e2e

PEOPLE = {
    "Sam Ortiz": ["cms_sop"],
    "Priya Raman": ["program_office"],
    "Robin Diaz": ["cms_brt"],
    "Chris Lee": ["contracting_officer"],
    "Pat Kim": ["hhs_pim"],
    "Alex Kim": ["hhs_saop"],
    "Dana Brooks": ["hhs_brt"],
    "Lee Park": ["hhs_asl"],
    "Jordan Wu": ["notifying_official"],
}
ROLE_OF = {name: roles[0] for name, roles in PEOPLE.items()}


@pytest.fixture(scope="module")
def cli(stack, tmp_path_factory):
    stack.env["BREACH_OPERATOR_KEY_DIR"] = str(tmp_path_factory.mktemp("operator-keys"))
    for name, roles in PEOPLE.items():
        added = stack.run_cli("operator", "add", name, *[a for r in roles for a in ("--role", r)])
        assert added.returncode == 0, added.stderr
    used: list[str] = []

    def decide(case: str, decision: str, person: str, *options: str, expect: int = 0) -> dict:
        used.append(decision)
        result = stack.run_cli(decision.replace("_", "-"), case, "--as", person, "--role", ROLE_OF[person], "--json", *options)
        assert result.returncode == expect, (decision, result.stdout, result.stderr)
        return json.loads(result.stdout)

    decide.used = used
    yield decide
    assert set(DECISIONS) <= set(used), f"decision commands not exercised end to end: {sorted(set(DECISIONS) - set(used))}"


def file_now(stack, sample: str, **changes) -> str:
    """File a sample report as if reported now (no clock is overdue), return its breach id."""
    doc = json.loads((REPORTS / sample).read_text())
    now = datetime.now(UTC).replace(microsecond=0)
    doc.update(discovered_at=(now - timedelta(minutes=30)).isoformat(), reported_at=now.isoformat(), occurred_from=(now - timedelta(days=1)).isoformat(), occurred_to=(now - timedelta(minutes=30)).isoformat(), **changes)
    filed = stack.run_cli("report", "-", "--json", input=json.dumps(doc))
    assert filed.returncode == 0, filed.stderr
    return json.loads(filed.stdout)["breach_id"]


async def wait_stage(client, breach: str, stage: str) -> None:
    handle = client.get_workflow_handle(f"breach-{breach}")

    async def reached() -> bool:
        return (await handle.query(BreachResponseWorkflow.details)).stage.value == stage

    await eventually(reached)


async def test_contractor_low_risk_case_to_closure(stack, client, cli):
    case = file_now(stack, "recon-misdirected-email.json", external_id="CLI-LOW-1")
    await wait_stage(client, case, "confirm_pii")
    refused = cli(case, "pim_approve_closure", "Pat Kim", expect=1)
    assert refused["accepted"] is False and "not pim_review" in refused["reason"]
    cli(case, "confirm_pii", "Priya Raman", "--is-pii", "--federal-data")
    cli(case, "co_acknowledge", "Chris Lee")
    cli(case, "co_request_information", "Chris Lee", "--request", "mail server logs")
    cli(case, "co_record_contractor_response", "Chris Lee", "--summary", "logs supplied", "--artifacts", "TICKET-1")
    cli(case, "co_complete_review", "Chris Lee", "--contractor-cooperated", "--obligations", "FAR 52.224-3")
    assert cli(case, "submit_risk_assessment", "Sam Ortiz")["stage"] == "pim_review"
    cli(case, "pim_request_more_info", "Pat Kim", "--request", "confirm deletion in writing")
    cli(case, "respond_to_pim", "Sam Ortiz", "--response", "written confirmation: TICKET-2")
    assert cli(case, "pim_approve_closure", "Pat Kim")["stage"] == "closed"

    audit = stack.run_cli("audit", "log", case, "--json")
    assert audit.returncode == 0, audit.stderr
    kinds = [e["kind"] for e in json.loads(audit.stdout)]
    assert "refused:pim_approve_closure" in kinds and "decision:pim_approve_closure" in kinds
    shown = stack.run_cli("show", case)
    assert shown.returncode == 0 and "closed_low_risk" in shown.stdout and "Pat Kim" in shown.stdout


async def test_notification_case_with_rejections_and_a_hold(stack, client, cli):
    case = file_now(stack, "qecp-public-pdfs.json", external_id="CLI-NOTIFY-1")
    await wait_stage(client, case, "confirm_pii")
    cli(case, "confirm_pii", "Sam Ortiz", "--is-pii")
    assert cli(case, "submit_risk_assessment", "Sam Ortiz")["stage"] == "cms_approval"
    cli(case, "reject_response_plan", "Robin Diaz", "--comments", "add the call-center hours")
    cli(case, "approve_response_plan", "Robin Diaz")
    assert cli(case, "reject_notification", "Alex Kim", "--comments", "add the TDD number")["stage"] == "cms_approval"
    cli(case, "approve_response_plan", "Robin Diaz")
    cli(case, "approve_notification", "Dana Brooks", "--method", "first_class_mail", "--notifying-official", "CMS Administrator", "--languages", "en")
    until = (datetime.now(UTC) + timedelta(days=10)).isoformat()
    cli(case, "delay_notification", "Alex Kim", "--until", until, "--authority", "FBI Baltimore", "--written")
    held = cli(case, "record_notification_sent", "Jordan Wu", "--individuals-notified", "37", expect=1)
    assert "held" in held["reason"]
    cli(case, "lift_delay", "Alex Kim")
    assert cli(case, "record_notification_sent", "Jordan Wu", "--individuals-notified", "37")["stage"] == "closed"


async def test_major_incident_and_operator_changes(stack, client, cli, tmp_path):
    case = file_now(stack, "qecp-public-pdfs.json", external_id="CLI-MAJOR-1")
    await wait_stage(client, case, "confirm_pii")
    cli(case, "determine_major_incident", "Sam Ortiz", "--is-major", "--rationale", "officials in sensitive posts")
    cli(case, "reject_major_incident", "Alex Kim", "--comments", "no demonstrable harm yet")
    cli(case, "determine_major_incident", "Sam Ortiz", "--is-major", "--rationale", "exfiltration confirmed")
    cli(case, "approve_major_incident", "Alex Kim")
    cli(case, "approve_outbound_report", "Dana Brooks", "--kind", "cisa_omb")
    cli(case, "new_information", "Priya Raman", "--individuals-delta", "5", "--data-elements-added", "date_of_birth")
    view = await client.get_workflow_handle(f"breach-{case}").query(BreachResponseWorkflow.details)
    assert view.major_incident and view.estimated_individuals == 42 and any(c.clock == "cisa_omb" and c.state.value == "met" for c in view.clocks)

    # The SOP removes Priya from this case: her next decision is refused.
    roster = stack.settings.operators_path.read_text()
    kept = tmp_path / "operators.yaml"
    import yaml

    doc = yaml.safe_load(roster)
    doc["operators"] = [o for o in doc["operators"] if o["name"] != "Priya Raman"]
    kept.write_text(yaml.safe_dump(doc))
    cli(case, "update_operators", "Sam Ortiz", "--operators-file", str(kept))
    removed = cli(case, "new_information", "Priya Raman", "--individuals-delta", "1", expect=1)
    assert "not an operator of this case" in removed["reason"]

    verify = stack.run_cli("audit", "verify")
    assert verify.returncode == 0 and "intact" in verify.stdout, verify.stdout + verify.stderr


def test_every_command_has_help_with_an_example():
    from typer.testing import CliRunner

    from starter.cli.app import app

    runner = CliRunner()
    for name in [*DECISIONS, "list", "show", "watch", "operator add", "exercise", "risk", "report", "up", "worker", "codec-server", "audit verify", "tracking quarterly", "chart", "import", "token create", "payload-key rotate"]:
        result = runner.invoke(app, [*name.replace("_", "-").split(), "--help"])
        assert result.exit_code == 0 and "Usage" in result.output, (name, result.output)
        assert "Example" in result.output, f"{name}: help has no example"

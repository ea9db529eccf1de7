"""End to end on the real dev server: `breach report` files the sample reports, each case
runs with its search attributes and its register row; repeats and bad input start nothing."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, create_engine, func, select

from models import search
from models.case import Stage
from models.register import AuditEvent, CaseRecord
from tests.support import REPORTS, eventually
from workflows.breach import BreachResponseWorkflow

pytestmark = pytest.mark.e2e

SAMPLES = sorted(REPORTS.glob("*.json"))


def register_rows(stack, breach_id: str) -> list[CaseRecord]:
    engine = create_engine(stack.settings.register_url)
    with Session(engine) as session:
        return list(session.exec(select(CaseRecord).where(CaseRecord.breach_id == breach_id)))


async def count_workflows(client, query: str = "WorkflowType = 'BreachResponseWorkflow'") -> int:
    return (await client.count_workflows(query)).count


async def test_sample_reports_run_with_search_attributes_and_register_rows(stack, client):
    for path in SAMPLES:
        doc = json.loads(path.read_text())
        result = stack.run_cli("report", str(path), "--json")
        assert result.returncode == 0, result.stderr
        filed = json.loads(result.stdout)
        assert filed["created"] is True
        assert filed["breach_id"] == f"{doc['source']}-{doc['external_id']}"
        assert filed["ui_url"].endswith(f"/namespaces/default/workflows/{filed['workflow_id']}")
        handle = client.get_workflow_handle(filed["workflow_id"])

        async def waiting_for_pii() -> bool:
            return (await handle.query(BreachResponseWorkflow.details)).stage is Stage.confirm_pii

        await eventually(waiting_for_pii)
        sa = (await handle.describe()).typed_search_attributes
        assert sa.get(search.BREACH_STAGE) == "confirm_pii"
        assert sa.get(search.SYSTEM_ID) == doc["system_id"]
        assert sa.get(search.AFFECTED_INDIVIDUALS) == doc["estimated_individuals"]
        assert sa.get(search.CONTRACTOR_INVOLVED) is (doc["contractor"] is not None)
        assert sa.get(search.HIPAA_COVERED) is doc.get("hipaa_covered", False)
        assert sa.get(search.MAJOR_INCIDENT) is (doc["estimated_individuals"] >= 100_000)

        (row,) = register_rows(stack, filed["breach_id"])
        assert row.status == "ongoing" and row.individuals == doc["estimated_individuals"]
        assert row.data_elements == doc["data_elements"]
        outbox = stack.settings.outbox_path / filed["breach_id"] / "csirc_pim_initial_report.json"
        sent = json.loads(outbox.read_text())
        assert sent["report"]["external_id"] == doc["external_id"] and sent["to"] == ["HHS CSIRC", "HHS PIM"]

    async def all_listed() -> bool:
        return await count_workflows(client, "WorkflowType = 'BreachResponseWorkflow' AND BreachStage = 'confirm_pii'") >= len(SAMPLES)

    await eventually(all_listed)
    listing = stack.run_cli("list", "--json")
    assert listing.returncode == 0, listing.stderr
    listed = {row["workflow_id"]: row for row in json.loads(listing.stdout)}
    for path in SAMPLES:
        doc = json.loads(path.read_text())
        assert listed[f"breach-{doc['source']}-{doc['external_id']}"]["stage"] == "confirm_pii"


async def test_unknown_system_is_accepted_and_flagged(stack, client):
    doc = json.loads((REPORTS / "qecp-public-pdfs.json").read_text())
    doc.update(external_id="UNKNOWN-SYS-1", system_id="NO-SUCH-SYSTEM")
    result = stack.run_cli("report", "-", input=json.dumps(doc))
    assert result.returncode == 0, result.stderr
    assert "unknown_system" in result.stderr
    handle = client.get_workflow_handle("breach-web_form-UNKNOWN-SYS-1")

    async def flagged() -> bool:
        view = await handle.query(BreachResponseWorkflow.details)
        return any(f.kind == "unknown_system" for f in view.findings)

    async def registered() -> bool:  # the case registers itself after the inventory lookup that flags it
        return len(register_rows(stack, "web_form-UNKNOWN-SYS-1")) == 1

    await eventually(flagged)
    await eventually(registered)
    (row,) = register_rows(stack, "web_form-UNKNOWN-SYS-1")
    assert row.system_known is False
    shown = stack.run_cli("show", "web_form-UNKNOWN-SYS-1")
    assert shown.returncode == 0 and "unknown_system" in shown.stdout


async def test_filing_twice_leaves_one_workflow_and_one_row(stack, client):
    doc = json.loads((REPORTS / "recon-misdirected-email.json").read_text())
    doc["external_id"] = "TWICE-1"
    first = stack.run_cli("report", "-", "--json", input=json.dumps(doc))
    second = stack.run_cli("report", "-", "--json", input=json.dumps(doc))
    assert first.returncode == second.returncode == 0, (first.stderr, second.stderr)
    assert json.loads(first.stdout)["created"] is True
    assert json.loads(second.stdout)["created"] is False
    assert json.loads(second.stdout)["workflow_id"] == json.loads(first.stdout)["workflow_id"]
    wid = "breach-contractor-TWICE-1"

    async def registered() -> bool:
        return len(register_rows(stack, "contractor-TWICE-1")) == 1

    await eventually(registered)
    assert await count_workflows(client, f"WorkflowId = '{wid}'") == 1
    assert len(register_rows(stack, "contractor-TWICE-1")) == 1
    engine = create_engine(stack.settings.register_url)
    with Session(engine) as session:
        audits = session.exec(select(func.count()).select_from(AuditEvent).where(AuditEvent.breach_id == "contractor-TWICE-1")).one()
    assert audits == 1  # the initial report to CSIRC, once


BAD = {
    "missing field": (lambda d: d.pop("media"), "media"),
    "wrong enum": (lambda d: d.update(intent="sneaky"), "intent"),
    "reported before discovered": (lambda d: d.update(reported_at="2026-11-17T09:00:00-05:00"), "reported_at must not precede discovered_at"),
    "occurred_to before occurred_from": (lambda d: d.update(occurred_to="2026-11-16T00:00:00-05:00"), "occurred_to must not precede occurred_from"),
    "oversize summary": (lambda d: d.update(summary="s" * 20_001), "summary"),
    "negative count": (lambda d: d.update(estimated_individuals=-3), "estimated_individuals"),
}


@pytest.mark.parametrize("case", list(BAD))
async def test_bad_input_names_the_field_and_starts_nothing(stack, client, case):
    mutate, named = BAD[case]
    doc = json.loads((REPORTS / "recon-misdirected-email.json").read_text())
    doc["external_id"] = "BAD-" + case.replace(" ", "-")
    mutate(doc)
    result = stack.run_cli("report", "-", input=json.dumps(doc))
    assert result.returncode == 2
    assert named in result.stderr and "nothing was started" in result.stderr
    assert "Traceback" not in result.stderr
    assert await count_workflows(client, f"WorkflowId = 'breach-contractor-{doc['external_id']}'") == 0


async def test_non_json_is_refused_and_starts_nothing(stack, client):
    before = await count_workflows(client)
    result = stack.run_cli("report", "-", input="this is { not json")
    assert result.returncode == 2 and "(body): not valid JSON" in result.stderr
    assert await count_workflows(client) == before


def test_missing_file_is_a_clear_error(stack):
    result = stack.run_cli("report", "/nonexistent/report.json")
    assert result.returncode == 2 and "cannot read /nonexistent/report.json" in result.stderr

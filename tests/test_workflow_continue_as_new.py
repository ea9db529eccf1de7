"""A long case continues as new before its history grows large, carrying its whole state:
decisions, clocks and stage survive, and the case still runs to its end."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from models.case import CaseConfig, Stage
from models.decisions import Actor, Decision, DecisionRefused, Role
from starter.decisions import submit
from starter.intake.filing import file_report, parse_report
from tests.support import REPORTS, TestOperators, eventually
from tests.workflow_env import World, served
from workflows.breach import BreachResponseWorkflow

OPERATORS = TestOperators({"Sam Ortiz": ["cms_sop"], "Chris Lee": ["contracting_officer"], "Pat Kim": ["hhs_pim"]})
CO = Actor(name="Chris Lee", role=Role.contracting_officer)


def decision(actor: Actor, **payload) -> Decision:
    return Decision(decision_id=uuid.uuid4().hex, actor=actor, payload=payload)


async def send(env, handle, name: str, d: Decision):
    """Sign ``d`` at the environment's time and submit it."""
    return await submit(handle, name, OPERATORS.sign(d, case=handle.id, decision_name=name, at=await env.get_current_time()))


@pytest.fixture
async def world(tmp_path) -> AsyncIterator[World]:
    async with served(tmp_path, skips_time=True, operators=OPERATORS) as world:
        yield world


async def test_long_case_continues_as_new_with_its_state(world):
    environment, settings = world.env, world.settings
    client = environment.client
    report = parse_report((REPORTS / "recon-misdirected-email.json").read_text())
    filed = await file_report(client, settings, report, {}, config=CaseConfig(continue_as_new_events=200))
    handle = client.get_workflow_handle(filed.workflow_id)
    first_run = (await handle.describe()).run_id

    async def intake_done() -> bool:
        return (await handle.query(BreachResponseWorkflow.details)).stage is Stage.confirm_pii

    await eventually(intake_done)

    await send(environment, handle, "confirm_pii", decision(Actor(name="Sam Ortiz", role=Role.cms_sop), is_pii=True))
    await send(environment, handle, "co_acknowledge", decision(CO))
    rounds = 15
    for n in range(rounds):
        await send(environment, handle, "co_request_information", decision(CO, request=f"forensic artifact {n}"))
        await send(environment, handle, "co_record_contractor_response", decision(CO, summary=f"artifact {n} supplied", artifacts=[f"TICKET-{n}"]))

    described = await handle.describe()
    assert described.run_id != first_run, "the case continued as new"
    history = await client.get_workflow_handle(filed.workflow_id, run_id=described.run_id).fetch_history()
    assert len(history.events) < 200
    view = await handle.query(BreachResponseWorkflow.details)
    assert view.stage is Stage.contractor_review
    assert len(view.decisions) == 2 + 2 * rounds, "every decision is carried over"
    assert {"confirm_pii", "co_acknowledge", "co_record_contractor_response"} <= {c.clock for c in view.clocks}

    # A decision id applied before continue-as-new is still refused after it.
    earlier = Decision(decision_id=view.decisions[0]["decision_id"], actor=Actor(name="Sam Ortiz", role=Role.cms_sop), payload={"is_pii": True})
    with pytest.raises(DecisionRefused, match="already applied|stage"):
        await send(environment, handle, "confirm_pii", earlier)

    await send(environment, handle, "co_complete_review", decision(CO, contractor_cooperated=True, obligations="FAR 52.224-3"))
    await send(environment, handle, "submit_risk_assessment", decision(Actor(name="Sam Ortiz", role=Role.cms_sop)))
    view = await handle.query(BreachResponseWorkflow.details)
    assert view.stage is Stage.pim_review and view.risk_level == "low"
    await send(environment, handle, "pim_approve_closure", decision(Actor(name="Pat Kim", role=Role.hhs_pim)))
    assert await handle.result() == "closed_low_risk"

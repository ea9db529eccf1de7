"""Someone who can reach Temporal but holds no payload key cannot steer a case.

Issue 14: a plain Temporal client terminated an open case, started it again under the
same workflow id with unencrypted input whose carried state named the client's own
public key as "Sam Ortiz", and its signed ``confirm_pii {is_pii: false}`` closed the case
as ``no_pii`` on record. Every codec of the project now refuses payloads that are not
encrypted under a known key (``worker.codec``): the plaintext run fails its first
workflow task naming the reason, no decision reaches it, and a plaintext update or
signal to a live case changes nothing. A run terminated or started behind the project's
back is found by the reconciliation (``worker/reconcile.py``): an audit entry, a finding
on the case where its current run can take one, and a line in ``breach audit verify``.
"""

# ruff: noqa: F811 - pytest fixtures imported from tests.workflow_env are test parameters
from __future__ import annotations

import asyncio

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowUpdateFailedError, WorkflowUpdateStage
from temporalio.common import WorkflowIDReusePolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError

from activities import audit
from activities.db import make_engine
from models.case import Stage
from models.case_state import CaseInput, CaseState
from models.decisions import Actor, Decision, Role
from models.notification import PROGRESS_SIGNAL
from tests.support import TestOperators
from tests.workflow_env import dev, dev_harness  # noqa: F401 (fixtures)
from worker.reconcile import reconcile, record
from workflows.breach import OUTSIDE_CHANGE, BreachResponseWorkflow


async def plain_client(harness) -> Client:
    """A Temporal client as anyone on the machine can make one: the project's models, no key."""
    config = harness.client.service_client.config
    return await Client.connect(config.target_host, namespace=harness.client.namespace, data_converter=pydantic_data_converter)


def attackers_decision(case, attacker: TestOperators, name: str, payload: dict) -> Decision:
    decision = Decision(decision_id=f"{name}-takeover", actor=Actor(name="Sam Ortiz", role=Role.cms_sop), rationale="not PII after all", payload=payload)
    return attacker.sign(decision, case=case.handle.id, decision_name=name)


def audit_kinds(case) -> list[str]:
    engine = make_engine(case.harness.world.settings.register_url)
    try:
        return [e["kind"] for e in audit.read_log(engine, case.report.breach_id)]
    finally:
        engine.dispose()


async def first_task_failure(handle, keyholder: Client) -> str:
    """The message and causes of the run's first failed workflow task, as the Web UI shows them
    through the codec server (failures are encoded too); waits for it."""
    for _ in range(200):
        for event in (await handle.fetch_history()).events:
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                error, text = await keyholder.data_converter.decode_failure(event.workflow_task_failed_event_attributes.failure), []
                while error is not None:
                    text.append(str(error))
                    error = error.__cause__
                return " <- ".join(text)
        await asyncio.sleep(0.05)
    raise AssertionError("the plaintext run never failed a workflow task")


async def test_a_plaintext_restart_is_refused_and_accepts_no_decision(dev_harness):
    case = await dev_harness.new_case("qecp")
    assert (await case.view()).stage is Stage.confirm_pii
    before = audit_kinds(case)
    attacker = TestOperators({"Sam Ortiz": ["cms_sop"]})
    plain = await plain_client(dev_harness)
    carried = CaseState(report=case.report, config=case.config, stage=Stage.confirm_pii, individuals=case.report.estimated_individuals,
                        data_elements=list(case.report.data_elements), operators=attacker.roster())
    handle = await plain.start_workflow("BreachResponseWorkflow", CaseInput(report=case.report, config=case.config, carried=carried),
                                        id=case.handle.id, task_queue=dev_harness.world.settings.task_queue,
                                        id_reuse_policy=WorkflowIDReusePolicy.TERMINATE_IF_RUNNING)

    failure = await first_task_failure(handle, dev_harness.client)
    assert "payload refused: not encrypted" in failure, failure

    with pytest.raises((WorkflowUpdateFailedError, RPCError, asyncio.TimeoutError)):
        update = await handle.start_update("confirm_pii", attackers_decision(case, attacker, "confirm_pii", {"is_pii": False}),
                                           wait_for_stage=WorkflowUpdateStage.COMPLETED, id="takeover-confirm")
        await asyncio.wait_for(update.result(), timeout=5)
    with pytest.raises(Exception, match="Workflow Task in failed state"):
        await case.harness.client.get_workflow_handle(case.handle.id).query("details")
    assert audit_kinds(case) == before, "the plaintext run wrote to the audit trail"

    found = await outside_changes(case)
    assert {c.kind for c in found} == {"terminated", "not_continued"}, found
    assert any("identity" in c.detail for c in found if c.kind == "terminated")
    engine = make_engine(case.harness.world.settings.register_url)
    try:
        await record(case.harness.client, engine, found)
        await record(case.harness.client, engine, found)  # the next scheduled check: nothing twice
    finally:
        engine.dispose()
    recorded = [k for k in audit_kinds(case) if k.startswith("reconciliation:")]
    assert sorted(recorded) == ["reconciliation:not_continued", "reconciliation:terminated"], recorded
    await handle.terminate(reason="test finished")


async def outside_changes(case) -> list:
    engine = make_engine(case.harness.world.settings.register_url)
    try:
        result = await reconcile(case.harness.client, engine)
    finally:
        engine.dispose()
    return [c for c in result.changes if c.breach_id == case.report.breach_id]


async def test_a_restart_by_a_key_holder_is_found_and_noted_on_the_case(dev_harness):
    """An insider with the payload key can restart a case; the reconciliation still finds it."""
    case = await dev_harness.new_case("qecp")
    assert await outside_changes(case) == []
    await case.handle.terminate(reason="cleanup")
    restarted = await dev_harness.client.start_workflow(BreachResponseWorkflow.run, CaseInput(report=case.report, config=case.config),
                                                        id=case.handle.id, task_queue=dev_harness.world.settings.task_queue)
    await case.idle()
    found = await outside_changes(case)
    assert {c.kind for c in found} == {"terminated", "not_continued"} and "'cleanup'" in " ".join(c.detail for c in found), found
    engine = make_engine(dev_harness.world.settings.register_url)
    try:
        assert await record(dev_harness.client, engine, found) == 2
        assert await record(dev_harness.client, engine, found) == 0  # already noted: no second finding
    finally:
        engine.dispose()
    findings = [f for f in (await restarted.query(BreachResponseWorkflow.details)).findings if f.kind == OUTSIDE_CHANGE]
    assert len(findings) == 2 and any("terminated" in f.detail for f in findings), findings


async def test_a_plaintext_update_or_signal_to_a_live_case_changes_nothing(dev_harness):
    case = await dev_harness.new_case("qecp")
    await case.idle()
    shape, view = await case.history_shape(), await case.view()
    plain = (await plain_client(dev_harness)).get_workflow_handle(case.handle.id)
    signed = await case.decision("cms_sop", {"is_pii": False}, name="confirm_pii")
    # Rejected before any handler runs (its reason, encoded, is for key holders: the worker logs it).
    with pytest.raises(WorkflowUpdateFailedError):
        await plain.execute_update("confirm_pii", signed)
    await plain.signal(PROGRESS_SIGNAL, {"done": 1})
    await case.idle()
    assert await case.view() == view
    _, events = await case.history_shape()
    assert events[: len(shape[1])] == shape[1] and set(events[len(shape[1]):]) <= {
        "EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED", "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED", "EVENT_TYPE_WORKFLOW_TASK_STARTED", "EVENT_TYPE_WORKFLOW_TASK_COMPLETED"}
    # The case is not wedged by the dropped signal: the same decision, encrypted, is accepted.
    outcome = await case.decide("confirm_pii", "cms_sop", {"is_pii": True, "federal_data": True})
    assert outcome.decision == "confirm_pii" and (await case.view()).stage is not Stage.confirm_pii

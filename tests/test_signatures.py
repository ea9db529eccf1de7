"""Decisions cannot be forged: the workflow checks every decision's Ed25519 signature
against the operators registered for the case. Each attempt below is refused with its
reason and leaves the history and the case exactly as they were, except one: a correct
signature of a registered operator claiming a role they do not hold is attributable, so
that refusal is on record (tests/test_workflow_refusals.py checks the record itself)."""

# ruff: noqa: F811 - pytest fixtures imported from tests.workflow_env are test parameters
from __future__ import annotations

import base64
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from temporalio.client import WorkflowUpdateFailedError

from models.decisions import Actor, Decision, DecisionOutcome, DecisionRefused, Role
from starter.decisions import submit
from starter.signing import sign
from tests.workflow_env import dev, dev_harness  # noqa: F401 (fixtures)


async def refused_untouched(case, name: str, decision: Decision) -> str:
    await case.idle()
    shape, view = await case.history_shape(), await case.view()
    with pytest.raises(DecisionRefused) as info:
        await submit(case.handle, name, decision)
    await case.idle()
    assert await case.history_shape() == shape, "a refused decision left history"
    assert await case.view() == view
    return str(info.value)


async def refused_on_record(case, name: str, decision: Decision) -> str:
    """A signed decision of a registered operator that the case refuses: on record, the case unchanged."""
    await case.idle()
    view = await case.view()
    with pytest.raises(DecisionRefused) as info:
        await submit(case.handle, name, decision)
    assert info.value.recorded
    await case.idle()
    assert await case.view() == view
    assert [(e.decision, e.by, e.detail) for e in await case.events("decision_refused")] == [(name, decision.actor.name, str(info.value))]
    return str(info.value)


def confirm(actor: Actor) -> Decision:
    return Decision(decision_id=uuid.uuid4().hex, actor=actor, payload={"is_pii": True})


async def test_forged_signature_is_refused(dev_harness):
    case = await dev_harness.new_case("qecp")
    forged = sign(confirm(Actor(name="Test cms_sop", role=Role.cms_sop)), case=case.handle.id, decision_name="confirm_pii", key=Ed25519PrivateKey.generate(), at=await dev_harness.now())
    assert "forged or altered" in await refused_untouched(case, "confirm_pii", forged)


async def test_altered_payload_breaks_the_signature(dev_harness):
    case = await dev_harness.new_case("qecp")
    signed = await case.decision("cms_sop", {"is_pii": True}, name="confirm_pii")
    altered = signed.model_copy(update={"payload": {"is_pii": False}})
    assert "forged or altered" in await refused_untouched(case, "confirm_pii", altered)


async def test_valid_signature_from_a_person_without_the_role_is_refused(dev_harness):
    case = await dev_harness.new_case("qecp")
    # "Test hhs_pim" signs correctly with their own key but claims the cms_sop role they do not hold.
    claim = confirm(Actor(name="Test hhs_pim", role=Role.cms_sop))
    signed = dev_harness.world.operators.sign(claim, case=case.handle.id, decision_name="confirm_pii", at=await dev_harness.now())
    assert "does not hold role cms_sop" in await refused_on_record(case, "confirm_pii", signed)


async def test_replayed_decision_is_refused(dev_harness):
    case = await dev_harness.new_case("qecp")
    signed = await case.decision("cms_sop", {"is_pii": True}, name="confirm_pii")
    await submit(case.handle, "confirm_pii", signed)
    await case.idle()
    shape = await case.history_shape()
    # The captured envelope sent again as a new update: the decision id was already applied.
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await case.handle.execute_update("confirm_pii", signed, id=f"replay-{uuid.uuid4().hex}", result_type=DecisionOutcome)
    assert "already applied" in str(getattr(info.value.cause, "message", info.value.cause))
    assert await case.history_shape() == shape
    # The same envelope replayed against another case: the signature names the first case.
    other = await dev_harness.new_case("recon")
    assert "forged or altered" in await refused_untouched(other, "confirm_pii", signed)


async def test_stale_signature_is_refused(dev_harness):
    from datetime import timedelta

    case = await dev_harness.new_case("qecp")
    old = dev_harness.world.operators.sign(confirm(Actor(name="Test cms_sop", role=Role.cms_sop)), case=case.handle.id, decision_name="confirm_pii", at=await dev_harness.now() - timedelta(hours=2))
    assert "sign it again" in await refused_untouched(case, "confirm_pii", old)


async def test_operator_removed_from_the_case_is_refused(dev_harness):
    case = await dev_harness.new_case("qecp")
    roster = dev_harness.world.operators.roster()
    kept = [o.model_dump(mode="json") for o in roster.operators if o.name != "Test program_office"]
    await case.decide("update_operators", "cms_sop", {"operators": kept})
    removed = dev_harness.world.operators.sign(confirm(Actor(name="Test program_office", role=Role.program_office)), case=case.handle.id, decision_name="confirm_pii", at=await dev_harness.now())
    assert "is not an operator of this case" in await refused_untouched(case, "confirm_pii", removed)


async def test_operators_cannot_be_emptied_of_the_sop(dev_harness):
    case = await dev_harness.new_case("qecp")
    others = [o.model_dump(mode="json") for o in dev_harness.world.operators.roster().operators if Role.cms_sop not in o.roles]
    reason = await refused_on_record(case, "update_operators", await case.decision("cms_sop", {"operators": others}, name="update_operators"))
    assert "at least one cms_sop" in reason


async def test_update_operators_needs_the_sop(dev_harness):
    case = await dev_harness.new_case("qecp")
    everyone = [o.model_dump(mode="json") for o in dev_harness.world.operators.roster().operators]
    reason = await refused_on_record(case, "update_operators", await case.decision("program_office", {"operators": everyone}, name="update_operators"))
    assert "may be made by cms_sop" in reason


async def test_unsigned_update_straight_through_the_temporal_client_is_refused(dev_harness):
    case = await dev_harness.new_case("qecp")
    await case.idle()
    shape = await case.history_shape()
    unsigned = confirm(Actor(name="Test cms_sop", role=Role.cms_sop))
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await case.handle.execute_update("confirm_pii", unsigned, id=uuid.uuid4().hex, result_type=DecisionOutcome)
    assert "unsigned decision" in str(getattr(info.value.cause, "message", info.value.cause))
    garbage = unsigned.model_copy(update={"signature": base64.b64encode(b"x" * 64).decode(), "signed_at": await dev_harness.now()})
    with pytest.raises(WorkflowUpdateFailedError):
        await case.handle.execute_update("confirm_pii", garbage, id=uuid.uuid4().hex, result_type=DecisionOutcome)
    await case.idle()
    assert await case.history_shape() == shape

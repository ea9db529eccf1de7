"""Every branch of the case lifecycle on the time-skipping test server: not PII, the
contractor / CO loop, low risk through PIM, the notification path with CMS and HHS
rejections, the major-incident track (by count at intake, by count after new information,
by determination and approval) and new information reopening the assessment."""

# ruff: noqa: F811 - pytest fixtures imported from tests.workflow_env are test parameters
from __future__ import annotations

import pytest

from models.case import ClockKind, ClockState, Stage
from models.intake import Recipient
from tests.workflow_env import DAY, HOUR, MINUTE, NOTIFICATION, drive, harness, skipping  # noqa: F401 (fixtures)


def sent(view, kind: str) -> bool:
    return any(p.endswith(f"/{kind}.json") for p in view.outbox)


# ---------------------------------------------------------------------------- not PII


async def test_not_pii_closes_the_case_as_no_pii(harness):
    case = await harness.new_case("qecp")
    await harness.sleep(2 * HOUR)
    out = await case.decide("confirm_pii", "program_office", {"is_pii": False, "federal_data": True}, rationale="the PDFs hold only business contact data")
    assert out.stage == "closed"
    view = await case.view()
    assert (view.stage, view.status, view.outcome) == (Stage.closed, "concluded", "no_pii")
    assert await case.handle.result() == "no_pii"
    assert (await case.clock("confirm_pii")).state is ClockState.met
    assert (await case.event("closed")).detail == "no_pii"
    assert [d["decision"] for d in view.decisions] == ["confirm_pii"]
    assert view.decisions[0]["rationale"] == "the PDFs hold only business contact data"
    assert all(c.state is not ClockState.pending for c in view.clocks)


async def test_not_pii_on_a_hipaa_case_leaves_no_statutory_clock_pending(harness):
    case = await harness.new_case("qecp", hipaa_covered=True, estimated_individuals=120)
    await case.decide("confirm_pii", "cms_sop", {"is_pii": False})
    view = await case.view()
    assert view.outcome == "no_pii"
    assert [c.clock for c in view.clocks if c.state is ClockState.pending] == []


# ---------------------------------------------------------------------------- contractor / CO loop


async def test_contractor_loop_goes_through_the_contracting_officer(harness):
    case = await harness.new_case("recon")
    await harness.sleep(30 * MINUTE)
    out = await case.decide("confirm_pii", "cms_sop", {"is_pii": True, "federal_data": True, "compliance_docs": ["09-90-1901"]})
    assert out.stage == "contractor_review"
    assert (await case.view()).awaiting == "co_acknowledge"
    ack = await case.clock("co_acknowledge")
    assert (ack.kind, ack.awaiting, ack.due_at) == (ClockKind.service_level, ["contracting_officer"], ack.started_at + DAY)
    # Only the CO directs the contractor; nothing happens before the CO is engaged.
    assert "must acknowledge first" in await case.refused("co_request_information", "contracting_officer", {"request": "logs"})
    assert "not by role program_office" in await case.refused("co_acknowledge", "program_office")

    await harness.sleep(20 * MINUTE)
    await case.decide("co_acknowledge", "contracting_officer")
    assert (await case.clock("co_acknowledge")).state is ClockState.met
    review = await case.clock("co_complete_review")
    assert (review.state, review.due_at) == (ClockState.pending, review.started_at + 10 * DAY)

    for round_, artifacts in enumerate((["mail-gateway-log-0117.txt"], ["INC-55120", "recipient-deletion-attestation.pdf"]), start=1):
        await harness.sleep(4 * HOUR)
        out = await case.decide("co_request_information", "contracting_officer", {"request": f"request {round_}: evidence and timeline"})
        assert out.stage == "contractor_review"
        assert (await case.view()).awaiting == "co_record_contractor_response"
        assert "still open" in await case.refused("co_complete_review", "contracting_officer", {"contractor_cooperated": True, "obligations": "x"})
        response = await case.clock("co_record_contractor_response")
        assert (response.state, response.due_at) == (ClockState.pending, response.started_at + 5 * DAY)
        await harness.sleep(DAY)
        out = await case.decide("co_record_contractor_response", "contracting_officer", {"summary": f"answer {round_}", "artifacts": artifacts})
        assert out.stage == "contractor_review"
        assert (await case.clock("co_record_contractor_response")).state is ClockState.met
        assert "no information request is open" in await case.refused("co_record_contractor_response", "contracting_officer", {"summary": "again"})

    out = await case.decide("co_complete_review", "contracting_officer", {"contractor_cooperated": False, "obligations": "FAR 52.224-3; the contractor bears the cost of notification"})
    assert out.stage == "risk_assessment"
    assert (await case.clock("co_complete_review")).state is ClockState.met
    (finding,) = await case.findings("contractor_did_not_cooperate")
    assert "FAR 52.224-3" in finding.detail
    assert (await case.clock("submit_risk_assessment")).state is ClockState.pending
    assert await case.findings("escalated") == []


# ---------------------------------------------------------------------------- low risk: PIM


async def test_low_risk_goes_to_pim_which_asks_for_more_then_approves_closure(harness):
    case = await harness.new_case("qecp", recipient=Recipient.hhs_internal)
    await drive(case, Stage.risk_assessment)
    await harness.sleep(DAY)
    out = await case.decide("submit_risk_assessment", "cms_brt", {"answers": {}})
    assert out.stage == "pim_review"
    view = await case.view()
    assert (view.risk_level, view.awaiting) == ("low", "pim_approve_closure or pim_request_more_info")
    assert sent(view, "pim_results")
    assert "cms_approval" not in [e.stage for e in await case.events("stage_entered")]  # 5-7 are skipped

    await harness.sleep(2 * DAY)
    await case.decide("pim_request_more_info", "hhs_pim", {"request": "confirm the recipient deleted the PDFs"})
    assert (await case.view()).awaiting == "respond_to_pim"
    assert "has not yet answered" in await case.refused("pim_approve_closure", "hhs_pim")
    respond = await case.clock("respond_to_pim")
    assert (respond.state, respond.due_at, respond.awaiting) == (ClockState.pending, respond.started_at + 10 * DAY, ["cms_sop", "program_office"])

    await harness.sleep(DAY)
    await case.decide("respond_to_pim", "program_office", {"response": "deletion attested by the recipient's ISSO"})
    assert (await case.clock("respond_to_pim")).state is ClockState.met
    closure = await case.clock("pim_approve_closure")
    answered = (await case.events("decision_accepted", decision="respond_to_pim"))[0]
    assert (closure.state, closure.started_at) == (ClockState.pending, answered.at)  # PIM's clock starts again
    assert sent(await case.view(), "pim_response_1")

    await harness.sleep(DAY)
    await case.decide("pim_approve_closure", "hhs_pim")
    view = await case.view()
    assert (view.stage, view.status, view.outcome) == (Stage.closed, "concluded", "closed_low_risk")
    assert await case.handle.result() == "closed_low_risk"
    assert all(c.state is not ClockState.pending for c in view.clocks)


# ---------------------------------------------------------------------------- notification path


async def test_notification_path_with_cms_and_hhs_rejections(harness):
    case = await harness.new_case("qecp")
    await drive(case, Stage.risk_assessment)
    out = await case.decide("submit_risk_assessment", "cms_sop", {"answers": {}})
    assert out.stage == "cms_approval"
    assert (await case.view()).risk_level == "high"
    first = await case.clock("approve_response_plan")

    await harness.sleep(DAY)
    out = await case.decide("reject_response_plan", "cms_brt", {"comments": "letter must name the toll-free number"})
    assert out.stage == "cms_approval"
    assert (await case.event("returned_to_drafting")).detail == "letter must name the toll-free number"
    rejected = (await case.events("decision_accepted", decision="reject_response_plan"))[0]
    assert rejected.at >= first.started_at + DAY
    again = await case.clock("approve_response_plan")  # the service level starts again for the redraft
    assert (again.state, again.started_at, again.due_at) == (ClockState.pending, rejected.at, rejected.at + 3 * DAY)

    await harness.sleep(HOUR)
    await case.decide("approve_response_plan", "cms_sop")
    assert (await case.view()).stage is Stage.hhs_approval
    await harness.sleep(DAY)
    out = await case.decide("reject_notification", "hhs_brt", {"comments": "add a Spanish letter"})
    assert out.stage == "cms_approval"
    assert (await case.event("returned_to_cms")).detail == "add a Spanish letter"
    assert (await case.clock("approve_notification")).state is ClockState.met

    await harness.sleep(HOUR)
    await case.decide("approve_response_plan", "cms_brt")
    await harness.sleep(HOUR)
    await case.decide("approve_notification", "hhs_saop", {**NOTIFICATION, "languages": ["en", "es"]})
    view = await case.view()
    assert (view.stage, view.awaiting) == (Stage.notify, "record_notification_sent")
    await harness.sleep(3 * DAY)
    out = await case.decide("record_notification_sent", "notifying_official", {"individuals_notified": 37})
    view = await case.view()
    assert (view.stage, view.status, view.outcome, view.individuals_notified) == (Stage.closed, "concluded", "notified", 37)
    assert await case.handle.result() == "notified"
    entered = [e.stage for e in await case.events("stage_entered")]
    assert entered == ["report", "confirm_pii", "risk_assessment", "cms_approval", "hhs_approval", "cms_approval", "hhs_approval", "notify"]
    assert (await case.event("closed")).detail == "notified"
    assert "37" in (await case.event("notification_batch_done")).detail
    assert await case.findings() == []


@pytest.mark.parametrize("media_notice", [True, False])
async def test_notification_meets_the_hipaa_clocks_and_notifies_ocr(harness, media_notice):
    case = await harness.new_case("qecp", hipaa_covered=True, estimated_individuals=812)
    await drive(case, Stage.notify)
    await harness.sleep(10 * DAY)
    await case.decide("record_notification_sent", "notifying_official", {"individuals_notified": 812, "media_notice": media_notice})
    sent_at = (await case.event("notification_batch_done")).at
    clocks = await case.clocks()
    for name in ("hipaa_individuals", "hipaa_ocr"):
        assert (clocks[name].state, clocks[name].met_at) == (ClockState.met, sent_at)
    assert clocks["hipaa_media"].state is (ClockState.met if media_notice else ClockState.not_applicable)
    view = await case.view()
    assert sent(view, "hipaa_ocr_notice") and view.outcome == "notified"


# ---------------------------------------------------------------------------- major incident


@pytest.mark.parametrize(("individuals", "major"), [(99_999, False), (100_000, True)])
async def test_major_incident_is_automatic_from_100000_individuals_at_intake(harness, individuals, major):
    case = await harness.new_case("qecp", estimated_individuals=individuals)
    view = await case.view()
    assert view.major_incident is major
    assert ("cisa_omb" in {c.clock for c in view.clocks}) is major
    if major:
        assert "automatic" in (await case.event("major_incident_determined")).detail
        assert "approve_outbound_report cisa_omb" in view.awaiting  # drafts await HHS BRT approval
    else:
        assert await case.events("major_incident_determined") == []


@pytest.mark.parametrize(("delta", "major"), [(99_962, False), (99_963, True)])
async def test_major_incident_is_automatic_when_new_information_brings_the_count_to_100000(harness, delta, major):
    case = await harness.new_case("qecp")  # 37 individuals
    await case.decide("confirm_pii", "cms_sop", {"is_pii": True})
    await harness.sleep(DAY)
    out = await case.decide("new_information", "program_office", {"individuals_delta": delta})
    assert out.stage == "risk_assessment"  # before any assessment: nothing to reopen
    assert [e.stage for e in await case.events("stage_entered")].count("risk_assessment") == 1
    view = await case.view()
    assert (view.estimated_individuals, view.major_incident) == (37 + delta, major)
    if major:
        det = await case.event("major_incident_determined")
        assert "automatic" in det.detail and "new information" in det.detail
        assert (await case.clock("cisa_omb")).due_at == det.at + HOUR


async def test_major_incident_by_determination_needs_hhs_saop_approval(harness):
    case = await harness.new_case("qecp")
    await case.decide("confirm_pii", "cms_sop", {"is_pii": True})
    await case.decide("determine_major_incident", "cms_sop", {"is_major": False, "rationale": "no demonstrable harm"})
    assert (await case.event("major_incident_not_proposed")).detail == "no demonstrable harm"
    await case.decide("determine_major_incident", "cms_sop", {"is_major": True, "rationale": "harm to public confidence"})
    view = await case.view()
    assert view.major_incident is False and "approve_major_incident" in view.awaiting
    assert "already awaits" in await case.refused("determine_major_incident", "cms_sop", {"is_major": True, "rationale": "again"})
    await harness.sleep(3 * HOUR)
    await case.decide("reject_major_incident", "hhs_saop", {"comments": "harm not demonstrated"})
    assert (await case.view()).major_incident is False and "cisa_omb" not in await case.clocks()
    assert "no major-incident proposal" in await case.refused("approve_major_incident", "hhs_saop")
    # A new proposal, approved this time.
    await case.decide("determine_major_incident", "cms_sop", {"is_major": True, "rationale": "harm to public confidence, now documented"})
    await harness.sleep(2 * HOUR)
    await case.decide("approve_major_incident", "hhs_saop", {"comments": "concur"})
    view = await case.view()
    assert view.major_incident is True
    det = await case.event("major_incident_determined")
    assert "HHS SAOP" in det.detail and "now documented" in det.detail
    assert {c.clock for c in view.clocks} >= {"cisa_omb", "congress_oig", "supplemental_30d"}


async def test_major_incident_case_runs_to_notification_and_closes_when_every_report_is_sent(harness):
    case = await harness.new_case("laptop", roster_uri=None)
    assert (await case.view()).major_incident is True
    await harness.sleep(20 * MINUTE)
    await case.decide("approve_outbound_report", "hhs_brt", {"kind": "cisa_omb"})
    await harness.sleep(10 * MINUTE)
    await drive(case, Stage.risk_assessment)  # through the CO loop
    await harness.sleep(2 * DAY)
    await case.decide("submit_risk_assessment", "cms_sop", {"answers": {}})
    await case.decide("approve_outbound_report", "hhs_brt", {"kind": "congress_oig"})
    await case.decide("approve_outbound_report", "hhs_asl", {"kind": "congress_oig"})
    await harness.sleep(DAY)
    await drive(case, Stage.notify)
    await harness.sleep(5 * DAY)
    await case.decide("record_notification_sent", "notifying_official", {"individuals_notified": 151_204, "media_notice": True})
    view = await case.view()
    # Notified, but the 30-day supplemental report is still outstanding: the case stays open.
    assert (view.status, view.stage, view.individuals_notified) == ("ongoing", Stage.notify, 151_204)
    assert len(await case.events("awaiting_major_reports")) == 1
    assert "supplemental_30d" in view.awaiting
    await harness.sleep(10 * DAY)
    await case.decide("approve_outbound_report", "hhs_brt", {"kind": "supplemental_30d"})
    assert (await case.view()).status == "ongoing"
    await case.decide("approve_outbound_report", "hhs_asl", {"kind": "supplemental_30d"})
    view = await case.view()
    assert (view.status, view.outcome) == ("concluded", "notified")
    assert await case.handle.result() == "notified"
    clocks = {c.clock: c for c in view.clocks}
    for name in ("cisa_omb", "congress_oig", "supplemental_30d", "hipaa_individuals", "hipaa_ocr", "hipaa_media", "contractor_report", "csirc_report", "business_associate"):
        assert clocks[name].state is ClockState.met, name
    for kind in ("cisa_omb", "congress_oig", "supplemental_30d", "hipaa_ocr_notice"):
        assert sent(view, kind), kind


# ---------------------------------------------------------------------------- new information


async def test_new_information_before_notice_reopens_the_assessment(harness):
    case = await harness.new_case("qecp")
    await drive(case, Stage.hhs_approval)
    await harness.sleep(HOUR)
    out = await case.decide("new_information", "cms_sop", {"data_elements_added": ["ssn"], "individuals_delta": 12})
    assert out.stage == "risk_assessment"
    view = await case.view()
    assert (view.estimated_individuals, "ssn" in view.data_elements) == (49, True)
    assert (await case.clock("approve_notification")).state is ClockState.not_applicable
    reopened = (await case.events("decision_accepted", decision="new_information"))[0]
    assert (await case.clock("submit_risk_assessment")).started_at == reopened.at
    await case.decide("submit_risk_assessment", "cms_sop", {"answers": {}})
    assert (await case.view()).stage is Stage.cms_approval
    assert [d["decision"] for d in (await case.view()).decisions] == ["confirm_pii", "submit_risk_assessment", "approve_response_plan", "new_information", "submit_risk_assessment"]
    assert [e.stage for e in await case.events("stage_entered")].count("risk_assessment") == 2
    # The notice that follows goes through CMS and HHS approval again and covers the new count.
    await drive(case, Stage.notify)
    await case.decide("record_notification_sent", "notifying_official", {"individuals_notified": 49})
    view = await case.view()
    assert (view.outcome, view.individuals_notified) == ("notified", 49)


async def test_new_information_turns_a_low_risk_case_in_pim_review_onto_the_notification_path(harness):
    case = await harness.new_case("qecp", recipient=Recipient.hhs_internal)
    await drive(case, Stage.pim_review)
    assert (await case.view()).risk_level == "low"
    await harness.sleep(DAY)
    out = await case.decide("new_information", "program_office", {"misuse_evidence": True})
    assert out.stage == "risk_assessment"
    assert (await case.clock("pim_approve_closure")).state is ClockState.not_applicable
    await case.decide("submit_risk_assessment", "cms_sop", {"answers": {"misuse_evidence": "confirmed"}})
    view = await case.view()
    assert (view.stage, view.risk_level) == (Stage.cms_approval, "high")


async def test_new_information_after_the_first_notice_leads_to_a_follow_up_notice(harness):
    """DECISIONS.md: new_information in any open stage re-assesses; follow-up notices each need HHS approval."""
    case = await harness.new_case("laptop", roster_uri=None)
    await case.decide("approve_outbound_report", "hhs_brt", {"kind": "cisa_omb"})
    await drive(case, Stage.risk_assessment)
    await case.decide("approve_outbound_report", "hhs_brt", {"kind": "congress_oig"})
    await case.decide("approve_outbound_report", "hhs_asl", {"kind": "congress_oig"})
    await drive(case, Stage.notify)
    await harness.sleep(6 * DAY)
    await case.decide("record_notification_sent", "notifying_official", {"individuals_notified": 151_204, "media_notice": True})
    assert (await case.view()).status == "ongoing"  # the supplemental report is outstanding

    await harness.sleep(2 * DAY)
    out = await case.decide(
        "new_information", "cms_sop", {"data_elements_added": ["mental_health"], "individuals_delta": 9_300, "misuse_evidence": True}, rationale="second extract found; data offered for sale"
    )
    assert out.stage == "risk_assessment"
    view = await case.view()
    assert view.estimated_individuals == 161_300 and view.status == "ongoing"
    await case.decide("submit_risk_assessment", "cms_sop", {"answers": {}})
    await case.decide("approve_response_plan", "cms_brt", {"comments": "follow-up letter for the 9,300 and an update to all"})
    await case.decide("approve_notification", "hhs_saop", NOTIFICATION)
    await harness.sleep(3 * DAY)
    await case.decide("record_notification_sent", "notifying_official", {"individuals_notified": 160_504, "media_notice": True})
    rounds = [e.detail for e in await case.events("notification_batch_done")]
    assert len(rounds) == 2 and "round 2" in rounds[1] and "160504" in rounds[1]
    assert (await case.view()).individuals_notified == 160_504
    await case.decide("approve_outbound_report", "hhs_brt", {"kind": "supplemental_30d"})
    await case.decide("approve_outbound_report", "hhs_asl", {"kind": "supplemental_30d"})
    view = await case.view()
    assert (view.status, view.outcome) == ("concluded", "notified")


async def test_automatic_determination_while_a_proposal_awaits_approval_settles_the_proposal(harness):
    case = await harness.new_case("qecp")
    await case.decide("confirm_pii", "cms_sop", {"is_pii": True})
    await case.decide("determine_major_incident", "cms_sop", {"is_major": True, "rationale": "harm to public confidence"})
    await case.decide("new_information", "cms_sop", {"individuals_delta": 150_000})
    view = await case.view()
    assert view.major_incident is True and "approve_major_incident" not in (view.awaiting or "")
    assert "no major-incident proposal" in await case.refused("approve_major_incident", "hhs_saop")
    # Nobody can approve the proposal any more: its service level must not escalate.
    await harness.sleep(2 * DAY)
    assert await case.events("escalation", clock="approve_major_incident") == []
    assert (await case.clock("approve_major_incident")).state is not ClockState.pending

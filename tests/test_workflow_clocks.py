"""Every clock of DOMAIN.md on the time-skipping test server, with exact due times.

Due times are checked with equality against the plan's arithmetic on the report's own
timestamps or on the recorded time of the triggering decision. Events fired by timers
(reminder, escalation, deadline_missed, hold lapse) are checked to land at the clock's
due time (never before it, at most ``TIMER_SLACK`` after it).
"""

# ruff: noqa: F811 - pytest fixtures imported from tests.workflow_env are test parameters
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from models.case import CaseConfig, ClockKind, ClockState, Stage
from models.intake import Recipient
from tests.workflow_env import DAY, HOUR, MINUTE, NOTIFICATION, config_with, drive, harness, skipping, within  # noqa: F401 (fixtures)
from workflows.details import span

HIPAA_CLOCKS = ("hipaa_individuals", "hipaa_ocr", "hipaa_ocr_annual_log", "hipaa_media")
EDT = timezone(timedelta(hours=-4))
EST = timezone(timedelta(hours=-5))
# Work a decision triggers (activities, then the loop's next tick) is recorded within this.
DECISION_SLACK = timedelta(seconds=5)


# ---------------------------------------------------------------------------- contractor and CSIRC reports


@pytest.mark.parametrize(("delay", "late"), [(35 * MINUTE, False), (HOUR, False), (HOUR + MINUTE, True), (3 * HOUR, True)])
async def test_contractor_report_is_due_one_hour_after_discovery(harness, delay, late):
    case = await harness.new_case("recon", delay=delay)
    r = case.report
    c = await case.clock("contractor_report")
    assert (c.started_at, c.due_at, c.met_at) == (r.discovered_at, r.discovered_at + HOUR, r.reported_at)
    late_findings = await case.findings("contractor_report_late")
    missed = await case.events("deadline_missed", clock="contractor_report")
    if late:
        assert c.state is ClockState.missed
        assert len(late_findings) == 1 and span(delay - HOUR) in late_findings[0].detail  # how late
        assert [e.due_at for e in missed] == [r.discovered_at + HOUR]
    else:
        assert c.state is ClockState.met
        assert late_findings == [] and missed == []
    assert await case.findings("contractor_report_missed") == []  # the late report has its own finding kind


async def test_no_contractor_clocks_without_a_contractor(harness):
    clocks = await (await harness.new_case("qecp")).clocks()
    assert "contractor_report" not in clocks and "business_associate" not in clocks
    assert not set(HIPAA_CLOCKS) & set(clocks)  # not HIPAA covered either


async def test_csirc_report_is_due_one_hour_after_the_report_and_met_at_intake(harness):
    case = await harness.new_case("qecp")
    after = await harness.now()
    r = case.report
    c = await case.clock("csirc_report")
    assert (c.started_at, c.due_at, c.state) == (r.reported_at, r.reported_at + HOUR, ClockState.met)
    assert r.reported_at <= c.met_at <= after
    view = await case.view()
    assert any(p.endswith("csirc_pim_initial_report.json") for p in view.outbox)
    assert view.findings == []


async def test_csirc_report_limit_is_configurable(harness):
    case = await harness.new_case("qecp", config=CaseConfig(csirc_report_limit=15 * MINUTE))
    c = await case.clock("csirc_report")
    assert c.due_at == case.report.reported_at + 15 * MINUTE
    assert c.reminder_at == c.due_at - timedelta(minutes=15 * 0.25)


async def test_csirc_report_is_missed_with_a_finding_when_the_report_reaches_the_system_late(harness):
    now = await harness.now()
    case = await harness.new_case("qecp", reported_at=now - 2 * HOUR)
    c = await case.clock("csirc_report")
    assert c.due_at == case.report.reported_at + HOUR
    assert c.state is ClockState.missed and c.met_at >= now
    (finding,) = await case.findings("csirc_report_missed")
    assert "csirc_report" in finding.detail
    assert [e.due_at for e in await case.events("deadline_missed", clock="csirc_report")] == [c.due_at]


# ---------------------------------------------------------------------------- major incident


async def test_major_incident_clocks_start_at_the_automatic_determination_at_intake(harness):
    before = await harness.now()
    case = await harness.new_case("laptop", roster_uri=None)
    after = await harness.now()
    r = case.report
    det = await case.event("major_incident_determined")
    assert before <= det.at <= after and det.detail.startswith("automatic")
    clocks = await case.clocks()
    cisa, congress, supp = clocks["cisa_omb"], clocks["congress_oig"], clocks["supplemental_30d"]
    assert (cisa.started_at, cisa.due_at, cisa.reminder_at) == (det.at, det.at + HOUR, det.at + 45 * MINUTE)
    assert (congress.started_at, congress.due_at, congress.reminder_at) == (det.at, det.at + 7 * DAY, det.at + 7 * DAY - 42 * HOUR)
    assert (supp.started_at, supp.due_at, supp.reminder_at) == (r.discovered_at, r.discovered_at + 30 * DAY, r.discovered_at + 28 * DAY)
    assert {cisa.state, congress.state, supp.state} == {ClockState.pending}
    assert all(c.kind is ClockKind.statutory for c in (cisa, congress, supp))
    # The rest of this contractor, HIPAA-covered case's clocks, from the report's own times.
    assert (clocks["contractor_report"].due_at, clocks["contractor_report"].state) == (r.discovered_at + HOUR, ClockState.met)
    assert (clocks["csirc_report"].due_at, clocks["csirc_report"].state) == (r.reported_at + HOUR, ClockState.met)
    assert (clocks["business_associate"].due_at, clocks["business_associate"].met_at) == (r.discovered_at + 60 * DAY, r.reported_at)
    for name in ("hipaa_individuals", "hipaa_ocr", "hipaa_media"):
        assert (clocks[name].started_at, clocks[name].due_at, clocks[name].state) == (r.discovered_at, r.discovered_at + 60 * DAY, ClockState.pending)
    assert "hipaa_ocr_annual_log" not in clocks
    entered = await case.event("stage_entered", stage="confirm_pii")
    assert (clocks["confirm_pii"].started_at, clocks["confirm_pii"].due_at) == (entered.at, entered.at + DAY)


async def test_major_incident_reports_approved_in_time_meet_their_clocks(harness):
    case = await harness.new_case("laptop", roster_uri=None)
    await harness.sleep(10 * MINUTE)
    await case.decide("approve_outbound_report", "hhs_brt", {"kind": "cisa_omb"})
    await harness.sleep(10 * MINUTE)
    await case.decide("approve_outbound_report", "hhs_brt", {"kind": "congress_oig"})
    assert (await case.clock("congress_oig")).state is ClockState.pending  # ASL must clear Congress communications
    await harness.sleep(10 * MINUTE)
    await case.decide("approve_outbound_report", "hhs_asl", {"kind": "congress_oig"})
    cisa_at, _, asl_at = [e.at for e in await case.events("decision_accepted", decision="approve_outbound_report")]
    clocks = await case.clocks()
    assert (clocks["cisa_omb"].state, clocks["congress_oig"].state) == (ClockState.met, ClockState.met)
    assert cisa_at <= clocks["cisa_omb"].met_at <= cisa_at + DECISION_SLACK  # met when the approved report is sent
    assert asl_at <= clocks["congress_oig"].met_at <= asl_at + DECISION_SLACK
    sent = await case.events("report_sent")
    assert any("cisa_omb ->" in e.detail for e in sent) and any("congress_oig ->" in e.detail for e in sent)
    assert await case.findings("cisa_omb_missed") == [] and await case.findings("congress_oig_missed") == []


async def test_cisa_omb_warns_then_is_missed_with_a_finding_at_determination_plus_one_hour(harness):
    case = await harness.new_case("laptop", roster_uri=None)
    cisa = await case.clock("cisa_omb")
    await harness.sleep_until(cisa.due_at + MINUTE)
    reminder = await case.event("reminder", clock="cisa_omb")
    assert within(reminder.at, cisa.reminder_at) and reminder.due_at == cisa.due_at
    missed = await case.event("deadline_missed", clock="cisa_omb")
    assert within(missed.at, cisa.due_at)
    (finding,) = await case.findings("cisa_omb_missed")
    assert within(finding.at, cisa.due_at)
    assert (await case.clock("cisa_omb")).state is ClockState.missed
    # Sent late: recorded as done late; the clock stays missed.
    await case.decide("approve_outbound_report", "hhs_brt", {"kind": "cisa_omb"})
    assert (await case.clock("cisa_omb")).state is ClockState.missed
    assert len(await case.events("deadline_met_late", clock="cisa_omb")) == 1


async def test_congress_oig_at_seven_days_and_supplemental_at_thirty_days_from_discovery(harness):
    case = await harness.new_case("laptop", roster_uri=None)
    await case.decide("approve_outbound_report", "hhs_brt", {"kind": "cisa_omb"})
    clocks = await case.clocks()
    congress, supp = clocks["congress_oig"], clocks["supplemental_30d"]
    await harness.sleep_until(congress.due_at + MINUTE)
    assert within((await case.event("reminder", clock="congress_oig")).at, congress.reminder_at)
    assert within((await case.event("deadline_missed", clock="congress_oig")).at, congress.due_at)
    assert len(await case.findings("congress_oig_missed")) == 1
    assert (await case.clock("supplemental_30d")).state is ClockState.pending
    await harness.sleep_until(supp.due_at + MINUTE)
    assert within((await case.event("reminder", clock="supplemental_30d")).at, supp.reminder_at)
    assert within((await case.event("deadline_missed", clock="supplemental_30d")).at, supp.due_at)
    assert len(await case.findings("supplemental_30d_missed")) == 1


async def test_major_incident_by_determination_starts_its_clocks_at_the_approval(harness):
    case = await harness.new_case("qecp")
    r = case.report
    await case.decide("confirm_pii", "cms_sop", {"is_pii": True})
    await harness.sleep(2 * HOUR)
    await case.decide("determine_major_incident", "cms_sop", {"is_major": True, "rationale": "loss of public confidence in the QE program"})
    proposed = (await case.events("decision_accepted", decision="determine_major_incident"))[0]
    sla = await case.clock("approve_major_incident")
    assert (sla.kind, sla.started_at, sla.due_at) == (ClockKind.service_level, proposed.at, proposed.at + DAY)
    assert "cisa_omb" not in await case.clocks()  # a proposal alone starts no reporting clock
    await harness.sleep(3 * HOUR)
    await case.decide("approve_major_incident", "hhs_saop")
    det = await case.event("major_incident_determined")
    assert det.at == (await case.events("decision_accepted", decision="approve_major_incident"))[0].at
    clocks = await case.clocks()
    assert clocks["approve_major_incident"].state is ClockState.met
    assert (clocks["cisa_omb"].started_at, clocks["cisa_omb"].due_at) == (det.at, det.at + HOUR)
    assert clocks["congress_oig"].due_at == det.at + 7 * DAY
    assert clocks["supplemental_30d"].due_at == r.discovered_at + 30 * DAY
    assert (await case.view()).major_incident is True


async def test_supplemental_report_is_missed_at_once_when_the_major_incident_is_determined_at_day_40(harness):
    # Discovered 40 days before the determination: 30 days from discovery have passed.
    case = await harness.new_case("qecp", delay=40 * DAY)
    r = case.report
    await case.decide("confirm_pii", "cms_sop", {"is_pii": True})
    await case.decide("determine_major_incident", "cms_sop", {"is_major": True, "rationale": "demonstrable harm to public confidence"})
    await case.decide("approve_major_incident", "hhs_saop")
    det = await case.event("major_incident_determined")
    supp = await case.clock("supplemental_30d")
    assert (supp.started_at, supp.due_at, supp.state) == (r.discovered_at, r.discovered_at + 30 * DAY, ClockState.missed)
    missed = await case.event("deadline_missed", clock="supplemental_30d")
    assert det.at <= missed.at <= det.at + DECISION_SLACK
    (finding,) = await case.findings("supplemental_30d_missed")
    assert finding.at == missed.at
    assert (await case.clock("cisa_omb")).due_at == det.at + HOUR


async def test_supplemental_report_is_missed_at_once_at_day_40_in_simulated_time(harness):
    case = await harness.new_case("qecp")
    r = case.report
    await case.decide("confirm_pii", "cms_sop", {"is_pii": True})
    await harness.sleep_until(r.discovered_at + 40 * DAY)
    await case.decide("determine_major_incident", "cms_sop", {"is_major": True, "rationale": "demonstrable harm to public confidence"})
    await case.decide("approve_major_incident", "hhs_saop")
    det = await case.event("major_incident_determined")
    assert det.at >= r.discovered_at + 40 * DAY
    supp = await case.clock("supplemental_30d")
    assert (supp.due_at, supp.state) == (r.discovered_at + 30 * DAY, ClockState.missed)
    assert det.at <= (await case.event("deadline_missed", clock="supplemental_30d")).at <= det.at + DECISION_SLACK
    assert len(await case.findings("supplemental_30d_missed")) == 1
    assert await case.events("reminder", clock="supplemental_30d") == []  # no warning for a clock already past due


# ---------------------------------------------------------------------------- HIPAA


@pytest.mark.parametrize(
    ("individuals", "expected"),
    [
        (120, {"hipaa_individuals", "hipaa_ocr_annual_log"}),
        (499, {"hipaa_individuals", "hipaa_ocr_annual_log"}),
        (500, {"hipaa_individuals", "hipaa_ocr"}),  # OCR with the individual notice at 500 or more
        (501, {"hipaa_individuals", "hipaa_ocr", "hipaa_media"}),  # media only above 500
        (5_000, {"hipaa_individuals", "hipaa_ocr", "hipaa_media"}),
    ],
)
async def test_hipaa_clocks_depend_on_the_count(harness, individuals, expected):
    case = await harness.new_case("qecp", hipaa_covered=True, estimated_individuals=individuals)
    r = case.report
    clocks = await case.clocks()
    assert set(HIPAA_CLOCKS) & set(clocks) == expected
    for name in expected - {"hipaa_ocr_annual_log"}:
        assert (clocks[name].started_at, clocks[name].due_at, clocks[name].state) == (r.discovered_at, r.discovered_at + 60 * DAY, ClockState.pending)
        assert clocks[name].kind is ClockKind.statutory


async def test_no_hipaa_clocks_when_not_hipaa_covered(harness):
    clocks = await (await harness.new_case("qecp", estimated_individuals=5_000)).clocks()
    assert not set(HIPAA_CLOCKS) & set(clocks)


async def test_business_associate_clock_is_sixty_days_from_discovery(harness):
    case = await harness.new_case("recon", hipaa_covered=True, delay=2 * HOUR)
    r = case.report
    c = await case.clock("business_associate")
    assert (c.started_at, c.due_at, c.state, c.met_at) == (r.discovered_at, r.discovered_at + 60 * DAY, ClockState.met, r.reported_at)
    assert "business_associate" not in await (await harness.new_case("recon")).clocks()  # only when HIPAA applies


async def test_annual_log_is_due_sixty_days_after_the_year_ends_at_the_end_of_1_march(harness):
    # Discovered in 2026 (not a leap year): due at the end of 1 March 2027, in the discovery's offset.
    case = await harness.new_case("qecp", hipaa_covered=True, estimated_individuals=120, discovered_at=datetime(2026, 11, 19, 13, 0, tzinfo=EST))
    c = await case.clock("hipaa_ocr_annual_log")
    assert c.started_at == datetime(2027, 1, 1, tzinfo=EST)
    assert c.due_at == datetime(2027, 3, 2, tzinfo=EST) == datetime(2027, 3, 1, tzinfo=EST) + DAY
    assert c.due_at.utcoffset() == timedelta(hours=-5)


async def test_annual_log_in_a_leap_year_is_due_at_the_end_of_29_february(harness):
    discovered = datetime(2027, 5, 1, 10, 0, tzinfo=EDT)
    await harness.sleep_until(discovered + HOUR)
    case = await harness.new_case("qecp", hipaa_covered=True, estimated_individuals=120, discovered_at=discovered)
    c = await case.clock("hipaa_ocr_annual_log")
    assert c.started_at == datetime(2028, 1, 1, tzinfo=EDT)
    assert c.due_at == datetime(2028, 3, 1, 0, 0, tzinfo=EDT) == datetime(2028, 2, 29, tzinfo=EDT) + DAY
    assert c.due_at.utcoffset() == timedelta(hours=-4)
    assert c.state is ClockState.pending
    assert (await case.clock("hipaa_individuals")).due_at == discovered + 60 * DAY


async def test_annual_log_not_sent_is_missed_with_a_finding_at_its_due_time(harness):
    discovered = datetime(2027, 5, 1, 10, 0, tzinfo=EDT)
    await harness.sleep_until(discovered + HOUR)
    case = await harness.new_case("qecp", hipaa_covered=True, estimated_individuals=120, discovered_at=discovered)
    due = datetime(2028, 3, 1, tzinfo=EDT)
    await harness.sleep_until(due + MINUTE)
    c = await case.clock("hipaa_ocr_annual_log")
    assert (c.due_at, c.state) == (due, ClockState.missed)
    assert within((await case.event("deadline_missed", clock="hipaa_ocr_annual_log")).at, due)
    assert len(await case.findings("hipaa_ocr_annual_log_missed")) == 1


async def test_annual_log_entry_is_sent_and_met_when_the_case_closes(harness):
    case = await harness.new_case("qecp", hipaa_covered=True, estimated_individuals=120)
    await drive(case, Stage.notify)
    await case.decide("record_notification_sent", "notifying_official", {"individuals_notified": 120})
    view = await case.view()
    assert view.status == "concluded" and view.outcome == "notified"
    c = await case.clock("hipaa_ocr_annual_log")
    assert c.state is ClockState.met and c.met_at <= c.due_at
    assert any(p.endswith("hipaa_ocr_annual_log_entry.json") for p in view.outbox)
    assert (await case.clock("hipaa_individuals")).state is ClockState.met


async def test_new_information_over_500_switches_from_the_annual_log_to_ocr_and_media(harness):
    case = await harness.new_case("qecp", hipaa_covered=True, estimated_individuals=120)
    r = case.report
    await harness.sleep(3 * HOUR)
    await case.decide("new_information", "cms_sop", {"individuals_delta": 400})
    clocks = await case.clocks()
    assert clocks["hipaa_ocr_annual_log"].state is ClockState.not_applicable
    for name in ("hipaa_ocr", "hipaa_media"):
        assert (clocks[name].due_at, clocks[name].state) == (r.discovered_at + 60 * DAY, ClockState.pending)
    assert clocks["hipaa_individuals"].due_at == r.discovered_at + 60 * DAY


async def test_media_clock_no_longer_applies_when_the_count_falls_to_500_or_fewer(harness):
    case = await harness.new_case("qecp", hipaa_covered=True, estimated_individuals=812)
    assert (await case.clock("hipaa_media")).state is ClockState.pending
    await case.decide("new_information", "cms_sop", {"individuals_delta": -412})
    clocks = await case.clocks()
    assert clocks["hipaa_ocr"].state is ClockState.not_applicable
    assert clocks["hipaa_ocr_annual_log"].state is ClockState.pending
    assert clocks["hipaa_media"].state is ClockState.not_applicable


# ---------------------------------------------------------------------------- service levels


async def test_service_level_clock_defaults(harness):
    case = await harness.new_case("qecp")
    entered = await case.event("stage_entered", stage="confirm_pii")
    c = await case.clock("confirm_pii")
    assert (c.kind, c.started_at, c.due_at, c.reminder_at) == (ClockKind.service_level, entered.at, entered.at + DAY, entered.at + DAY - 6 * HOUR)
    assert c.awaiting == ["cms_sop", "program_office"]
    await case.decide("confirm_pii", "program_office", {"is_pii": True})
    entered = await case.event("stage_entered", stage="risk_assessment")
    c = await case.clock("submit_risk_assessment")
    assert (c.due_at, c.reminder_at) == (entered.at + 5 * DAY, entered.at + 5 * DAY - 30 * HOUR)  # a quarter of 5 days


async def test_service_levels_and_reminder_lead_are_configurable(harness):
    config = CaseConfig(service_levels=config_with(confirm_pii=2 * HOUR, submit_risk_assessment=10 * DAY), reminder_fraction=0.5, reminder_max_lead=3 * HOUR)
    case = await harness.new_case("qecp", config=config)
    entered = await case.event("stage_entered", stage="confirm_pii")
    c = await case.clock("confirm_pii")
    assert (c.due_at, c.reminder_at) == (entered.at + 2 * HOUR, entered.at + HOUR)
    await harness.sleep(30 * MINUTE)
    await case.decide("confirm_pii", "cms_sop", {"is_pii": True})
    assert (await case.clock("confirm_pii")).state is ClockState.met
    entered = await case.event("stage_entered", stage="risk_assessment")
    c = await case.clock("submit_risk_assessment")
    assert (c.due_at, c.reminder_at) == (entered.at + 10 * DAY, entered.at + 10 * DAY - 3 * HOUR)
    assert await case.events("escalation") == [] and await case.findings("escalated") == []


async def _to_awaiting(case, clock: str) -> None:
    """Bring ``case`` to the point where the service-level clock ``clock`` runs."""
    contractor = {"co_acknowledge", "co_complete_review", "co_record_contractor_response"}
    if clock == "confirm_pii":
        return
    if clock in contractor:
        await case.decide("confirm_pii", "cms_sop", {"is_pii": True})
        if clock != "co_acknowledge":
            await case.decide("co_acknowledge", "contracting_officer")
        if clock == "co_record_contractor_response":
            await case.decide("co_request_information", "contracting_officer", {"request": "forensic image of the mailbox"})
        return
    if clock == "approve_major_incident":
        await case.decide("confirm_pii", "cms_sop", {"is_pii": True})
        await case.decide("determine_major_incident", "cms_sop", {"is_major": True, "rationale": "public confidence"})
        return
    target = {
        "submit_risk_assessment": Stage.risk_assessment,
        "approve_response_plan": Stage.cms_approval,
        "approve_notification": Stage.hhs_approval,
        "record_notification_sent": Stage.notify,
        "pim_approve_closure": Stage.pim_review,
        "respond_to_pim": Stage.pim_review,
    }[clock]
    await drive(case, target)
    if clock == "respond_to_pim":
        await case.decide("pim_request_more_info", "hhs_pim", {"request": "evidence of deletion"})


SLA_CASES = {
    "confirm_pii": "qecp",
    "co_acknowledge": "recon",
    "co_complete_review": "recon",
    "co_record_contractor_response": "recon",
    "submit_risk_assessment": "qecp",
    "approve_major_incident": "qecp",
    "approve_response_plan": "qecp",
    "approve_notification": "qecp",
    "record_notification_sent": "qecp",
    "pim_approve_closure": "low",
    "respond_to_pim": "low",
}


@pytest.mark.parametrize("clock", list(SLA_CASES))
async def test_service_level_overrun_reminds_then_escalates_at_the_due_time(harness, clock):
    config = CaseConfig(service_levels={name: 4 * HOUR for name in CaseConfig().service_levels})
    sample = SLA_CASES[clock]
    case = await harness.new_case("qecp", recipient=Recipient.hhs_internal, config=config) if sample == "low" else await harness.new_case(sample, config=config)
    await _to_awaiting(case, clock)
    c = await case.clock(clock)
    assert (c.kind, c.state, c.due_at, c.reminder_at) == (ClockKind.service_level, ClockState.pending, c.started_at + 4 * HOUR, c.started_at + 3 * HOUR)
    await harness.sleep_until(c.due_at + MINUTE)
    reminder = await case.event("reminder", clock=clock)
    assert within(reminder.at, c.reminder_at) and reminder.due_at == c.due_at and "left" in reminder.detail
    escalation = await case.event("escalation", clock=clock)
    assert within(escalation.at, c.due_at) and escalation.due_at == c.due_at
    (finding,) = [f for f in await case.findings("escalated") if clock in f.detail]
    assert within(finding.at, c.due_at)
    assert (await case.clock(clock)).state is ClockState.missed
    outbox = (await case.view()).outbox
    assert any(p.endswith(f"-reminder-{clock}.json") for p in outbox) and any(p.endswith(f"-escalation-{clock}.json") for p in outbox)
    assert await case.findings(f"{clock}_missed") == []  # a service level escalates; it is not a statutory miss


# ---------------------------------------------------------------------------- law-enforcement holds


async def _held_case(harness, **report):
    case = await harness.new_case("qecp", hipaa_covered=True, estimated_individuals=120, **report)
    await drive(case, Stage.notify)
    await harness.sleep(HOUR)
    return case


async def test_hold_pauses_notification_clocks_and_lift_resumes_them_with_the_same_remaining_time(harness):
    case = await _held_case(harness)
    before = await case.clocks()
    until = await harness.now() + 10 * DAY
    await case.decide("delay_notification", "hhs_saop", {"until": until.isoformat(), "authority": "FBI Baltimore field office", "written": True})
    started = await case.event("hold_started")
    held = await case.clocks()
    assert (held["law_enforcement_hold"].started_at, held["law_enforcement_hold"].due_at) == (started.at, until)
    assert (await case.view()).hold_until == until
    remaining = {}
    for name in ("hipaa_individuals", "record_notification_sent"):
        assert held[name].state is ClockState.paused
        remaining[name] = before[name].due_at - started.at
        assert held[name].paused_remaining == remaining[name]
        assert held[name].remaining(started.at) == remaining[name]
    reason = await case.refused("record_notification_sent", "notifying_official", {"individuals_notified": 120})
    assert "held" in reason and "FBI" in reason

    await harness.sleep(6 * HOUR)
    await case.decide("lift_delay", "hhs_saop")
    lifted = await case.event("hold_lifted")
    assert lifted.at >= started.at + 6 * HOUR
    after = await case.clocks()
    for name, left in remaining.items():
        assert after[name].state is ClockState.pending
        assert after[name].due_at == lifted.at + left  # exactly the remaining time, from the lift
        assert (await case.event("deadline_resumed", clock=name)).due_at == after[name].due_at
    assert after["law_enforcement_hold"].state is ClockState.met
    assert (await case.view()).hold_until is None
    await case.decide("record_notification_sent", "notifying_official", {"individuals_notified": 120})
    assert (await case.clock("hipaa_individuals")).state is ClockState.met


async def test_written_hold_ends_on_its_date_and_clocks_resume_with_the_same_remaining_time(harness):
    case = await _held_case(harness)
    until = await harness.now() + 5 * DAY
    await case.decide("delay_notification", "hhs_saop", {"until": until.isoformat(), "authority": "US Attorney", "written": True})
    started = await case.event("hold_started")
    left = (await case.clock("hipaa_individuals")).paused_remaining
    await harness.sleep_until(until + MINUTE)
    lifted = await case.event("hold_lifted")
    assert within(lifted.at, until) and "end date" in lifted.detail
    c = await case.clock("hipaa_individuals")
    assert (c.state, c.due_at) == (ClockState.pending, lifted.at + left)
    assert left == case.report.discovered_at + 60 * DAY - started.at


async def test_oral_hold_lapses_after_30_days(harness):
    case = await _held_case(harness)
    until = await harness.now() + 45 * DAY
    await case.decide("delay_notification", "hhs_saop", {"until": until.isoformat(), "authority": "FBI (by telephone)", "written": False})
    started = await case.event("hold_started")
    hold = await case.clock("law_enforcement_hold")
    assert hold.due_at == started.at + 30 * DAY  # at most 30 days, whatever the stated date
    left = (await case.clock("hipaa_individuals")).paused_remaining
    await harness.sleep_until(started.at + 30 * DAY + MINUTE)
    lifted = await case.event("hold_lifted")
    assert within(lifted.at, started.at + 30 * DAY) and "oral" in lifted.detail and "30 days" in lifted.detail
    c = await case.clock("hipaa_individuals")
    assert (c.state, c.due_at) == (ClockState.pending, lifted.at + left)
    await case.decide("record_notification_sent", "notifying_official", {"individuals_notified": 120})


async def test_written_instruction_after_an_oral_one_keeps_the_hold_past_30_days(harness):
    case = await _held_case(harness)
    t1 = await harness.now()
    await case.decide("delay_notification", "hhs_saop", {"until": (t1 + 45 * DAY).isoformat(), "authority": "FBI (by telephone)", "written": False})
    started = await case.event("hold_started")
    left = (await case.clock("hipaa_individuals")).paused_remaining
    await harness.sleep_until(started.at + 10 * DAY)
    written_until = started.at + 50 * DAY
    await case.decide("delay_notification", "hhs_saop", {"until": written_until.isoformat(), "authority": "FBI (letter)", "written": True})
    await harness.sleep_until(started.at + 31 * DAY)
    assert await case.events("hold_lifted") == []
    assert (await case.clock("hipaa_individuals")).state is ClockState.paused
    assert (await case.view()).hold_until == written_until
    await harness.sleep_until(written_until + MINUTE)
    lifted = await case.event("hold_lifted")
    assert within(lifted.at, written_until) and "end date" in lifted.detail
    assert (await case.clock("hipaa_individuals")).due_at == lifted.at + left


async def test_notification_clocks_started_during_a_hold_are_paused_too(harness):
    case = await harness.new_case("qecp", hipaa_covered=True, estimated_individuals=120)
    await case.decide("confirm_pii", "cms_sop", {"is_pii": True})
    await case.decide("delay_notification", "hhs_saop", {"until": (await harness.now() + 20 * DAY).isoformat(), "authority": "US Secret Service", "written": True})
    await case.decide("new_information", "cms_sop", {"individuals_delta": 400})
    clocks = await case.clocks()
    assert clocks["hipaa_individuals"].state is ClockState.paused
    assert clocks["hipaa_ocr"].state is ClockState.paused
    assert clocks["hipaa_media"].state is ClockState.paused
    await case.decide("lift_delay", "hhs_saop")
    clocks = await case.clocks()
    assert clocks["hipaa_ocr"].due_at == clocks["hipaa_media"].due_at == clocks["hipaa_individuals"].due_at


# ---------------------------------------------------------------------------- statutory clocks never silently pass


async def test_every_statutory_clock_left_alone_warns_then_is_missed_with_a_finding(harness):
    case = await harness.new_case("laptop", roster_uri=None)  # contractor, HIPAA, 152,000 people: every reporting clock runs
    start = await case.clocks()
    waiting = {n: c for n, c in start.items() if c.state is ClockState.pending and c.kind is ClockKind.statutory}
    assert set(waiting) == {"cisa_omb", "congress_oig", "supplemental_30d", "hipaa_individuals", "hipaa_ocr", "hipaa_media"}
    last = max(c.due_at for c in waiting.values())
    await harness.sleep_until(last + MINUTE)
    now = await harness.now()
    assert await case.pending_due_before(now) == []
    for name, c in waiting.items():
        assert (await case.clock(name)).state is ClockState.missed
        assert within((await case.event("reminder", clock=name)).at, c.reminder_at), name
        assert within((await case.event("deadline_missed", clock=name)).at, c.due_at), name
        (finding,) = await case.findings(f"{name}_missed")
        assert within(finding.at, c.due_at) and name in finding.detail
    assert within((await case.event("escalation", clock="confirm_pii")).at, start["confirm_pii"].due_at)
    assert (await case.view()).status == "ongoing"


async def test_hold_set_before_approval_pauses_the_notification_step_when_notify_begins(harness):
    case = await harness.new_case("qecp", hipaa_covered=True, estimated_individuals=120)
    await drive(case, Stage.hhs_approval)
    await case.decide("delay_notification", "hhs_saop", {"until": (await harness.now() + 20 * DAY).isoformat(), "authority": "FBI", "written": True})
    await harness.sleep(DAY)
    await case.decide("approve_notification", "hhs_saop", NOTIFICATION)
    c = await case.clock("record_notification_sent")
    assert (c.state, c.paused_remaining) == (ClockState.paused, 30 * DAY)
    await harness.sleep(2 * DAY)
    await case.decide("lift_delay", "hhs_saop")
    lifted = await case.event("hold_lifted")
    assert (await case.clock("record_notification_sent")).due_at == lifted.at + 30 * DAY


async def test_oral_hold_with_an_earlier_end_date_ends_on_that_date(harness):
    case = await _held_case(harness)
    until = await harness.now() + 10 * DAY
    await case.decide("delay_notification", "hhs_saop", {"until": until.isoformat(), "authority": "FBI (by telephone)", "written": False})
    assert (await case.clock("law_enforcement_hold")).due_at == until
    await harness.sleep_until(until + MINUTE)
    lifted = await case.event("hold_lifted")
    assert within(lifted.at, until)
    assert "30 days" not in lifted.detail, lifted.detail  # it lasted 10 days and ended on its own date

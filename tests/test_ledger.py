"""The case ledger without Temporal: clock transitions, stage entry, the tick that fires
reminders, escalations and missed deadlines, the hold, the next wake and closing.

Each test builds a ledger over a sample report's state with a clock it moves by hand
(tests/fake_case.py); expected due times come from workflows/clocks.py.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from models.case import ClockKind, ClockState, Stage
from models.case_state import Hold
from tests.fake_case import World, sample
from workflows import clocks as rules
from workflows.decision_table import ROLES
from workflows.ledger import ENTRY_SLA, ESCALATE_TO

MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)


def world(report: str = "qecp") -> World:
    return World.new(report)


def kinds(w: World) -> list[str]:
    return [e.kind for e in w.s.timeline]


def hold(w: World, *, days: int, written: bool) -> None:
    """Put a hold in effect as holds.delay does (the ledger's part of it)."""
    now = w.clock()
    w.s.hold = Hold(authority="FBI field office", written=written, until=now + days * DAY, started_at=now)
    w.ledger.start(rules.hold(now, now + days * DAY, written, w.s.config))
    for name in sorted(rules.NOTIFICATION_CLOCKS):
        if w.ledger.pending(name) and w.s.clocks[name].state is ClockState.pending:
            w.ledger.pause(name)


# ---------------------------------------------------------------------------- start and settle


def test_start_records_the_clock_and_wakes_the_loop():
    w = world()
    now = w.clock()
    w.ledger.start(rules.statutory("cisa_omb", now, w.s.config))
    c = w.s.clocks["cisa_omb"]
    assert (c.state, c.started_at, c.due_at, c.reminder_at) == (ClockState.pending, now, now + HOUR, now + 45 * MINUTE)  # a quarter of the hour left
    assert w.ledger.wake and w.ledger.pending("cisa_omb")
    [event] = w.s.timeline
    assert (event.kind, event.clock, event.due_at, event.detail) == ("deadline_set", "cisa_omb", now + HOUR, rules.SOURCES["cisa_omb"])


def test_settle_on_time_is_met_with_no_finding():
    w = world()
    w.ledger.start(rules.statutory("cisa_omb", w.clock(), w.s.config))
    w.clock.advance(59 * MINUTE)
    w.ledger.settle("cisa_omb")
    c = w.s.clocks["cisa_omb"]
    assert (c.state, c.met_at) == (ClockState.met, w.clock())
    assert w.s.findings == [] and kinds(w)[-1] == "deadline_met"
    w.clock.advance(HOUR)
    w.ledger.settle("cisa_omb")  # settling again changes nothing
    assert w.s.clocks["cisa_omb"].met_at == w.clock() - HOUR and len(w.s.timeline) == 2


def test_settle_late_is_missed_with_a_finding():
    w = world()
    start = w.clock()
    w.ledger.start(rules.statutory("cisa_omb", start, w.s.config))
    w.clock.advance(3 * HOUR)
    w.ledger.settle("cisa_omb")
    c = w.s.clocks["cisa_omb"]
    assert (c.state, c.met_at) == (ClockState.missed, w.clock())
    [finding] = w.s.findings
    assert (finding.kind, finding.at, finding.detail) == ("cisa_omb_missed", w.clock(), f"cisa_omb done 2h after its deadline ({rules.SOURCES['cisa_omb']})")
    assert kinds(w)[-2:] == ["deadline_missed", "finding"] and w.s.timeline[-2].detail == "done 2h late"


def test_settle_late_at_a_given_time_names_the_finding_kind_asked_for():
    w = world("recon")
    r = w.s.report
    w.ledger.start(rules.statutory("contractor_report", r.discovered_at, w.s.config))
    w.ledger.settle("contractor_report", r.reported_at, late_kind="contractor_report_late")
    c = w.s.clocks["contractor_report"]
    assert (c.state, c.met_at) == (ClockState.met, r.reported_at)  # the sample reported 35 minutes after discovery
    w = world("recon")
    w.ledger.start(rules.statutory("contractor_report", r.discovered_at, w.s.config))
    w.ledger.settle("contractor_report", r.discovered_at + 90 * MINUTE, late_kind="contractor_report_late")
    assert [(f.kind, f.detail.split(" (")[0]) for f in w.s.findings] == [("contractor_report_late", "contractor_report done 30m after its deadline")]


def test_settling_a_missed_clock_records_when_it_was_done_late_and_keeps_it_missed():
    w = world()
    w.ledger.start(rules.statutory("cisa_omb", w.clock(), w.s.config))
    w.clock.advance(HOUR)
    w.ledger.tick()
    assert w.s.clocks["cisa_omb"].state is ClockState.missed and w.s.clocks["cisa_omb"].met_at is None
    findings = len(w.s.findings)
    w.clock.advance(3 * HOUR)
    w.ledger.settle("cisa_omb")
    c = w.s.clocks["cisa_omb"]
    assert (c.state, c.met_at) == (ClockState.missed, w.clock())
    assert (w.s.timeline[-1].kind, w.s.timeline[-1].detail) == ("deadline_met_late", "done 3h after the deadline")
    assert len(w.s.findings) == findings  # the miss was already found
    w.clock.advance(HOUR)
    w.ledger.settle("cisa_omb")
    assert w.s.clocks["cisa_omb"].met_at == w.clock() - HOUR  # the first late date stays


def test_not_applicable_and_supersede_retire_only_open_clocks():
    w = world()
    for name in ("cisa_omb", "congress_oig"):
        w.ledger.start(rules.statutory(name, w.clock(), w.s.config))
    w.ledger.settle("cisa_omb")
    w.ledger.not_applicable("congress_oig", "not a major incident after all")
    assert w.s.clocks["congress_oig"].state is ClockState.not_applicable and not w.ledger.pending("congress_oig")
    assert (w.s.timeline[-1].kind, w.s.timeline[-1].detail) == ("deadline_not_applicable", "not a major incident after all")
    w.ledger.start(rules.statutory("supplemental_30d", w.clock(), w.s.config))
    events = len(w.s.timeline)
    w.ledger.supersede(("cisa_omb", "congress_oig", "supplemental_30d"), "superseded")
    assert {n: c.state for n, c in w.s.clocks.items()} == {"cisa_omb": ClockState.met, "congress_oig": ClockState.not_applicable, "supplemental_30d": ClockState.not_applicable}
    assert [(e.kind, e.clock, e.detail) for e in w.s.timeline[events:]] == [("deadline_not_applicable", "supplemental_30d", "superseded")]


def test_settling_an_unknown_clock_does_nothing():
    w = world()
    w.ledger.settle("cisa_omb")
    assert w.s.clocks == {} and w.s.timeline == []


# ---------------------------------------------------------------------------- holds


def test_a_hold_pauses_with_the_time_left_and_lifting_resumes_it():
    w = world()
    start = w.clock()
    w.ledger.start(rules.statutory("hipaa_individuals", start, w.s.config))
    w.clock.advance(10 * DAY)
    hold(w, days=20, written=True)
    c = w.s.clocks["hipaa_individuals"]
    assert (c.state, c.paused_remaining, c.remaining(w.clock())) == (ClockState.paused, 50 * DAY, 50 * DAY)
    assert w.s.timeline[-1].detail == "50d remaining"
    w.clock.advance(7 * DAY)
    w.ledger.tick()  # a paused clock does not run
    assert w.s.clocks["hipaa_individuals"].state is ClockState.paused and w.s.findings == []
    w.ledger.lift_hold("lifted by the HHS SAOP")
    now = w.clock()
    c = w.s.clocks["hipaa_individuals"]
    assert (c.state, c.due_at, c.paused_remaining) == (ClockState.pending, now + 50 * DAY, None)
    assert c.reminder_at == rules.reminder_at(now, now + 50 * DAY, w.s.config)
    h = w.s.clocks["law_enforcement_hold"]
    assert (w.s.hold, h.state, h.met_at) == (None, ClockState.met, now)
    assert [(e.kind, e.detail) for e in w.s.timeline[-2:]] == [("deadline_resumed", "50d remained when the hold began"), ("hold_lifted", "lifted by the HHS SAOP")]


def test_a_reminder_already_sent_before_the_hold_is_not_sent_again():
    w = world()
    w.ledger.start(rules.statutory("hipaa_individuals", w.clock(), w.s.config))
    reminder = w.s.clocks["hipaa_individuals"].reminder_at
    w.clock.at = reminder
    w.ledger.tick()
    assert w.s.clocks["hipaa_individuals"].reminded
    hold(w, days=5, written=True)
    w.clock.advance(5 * DAY)
    w.ledger.lift_hold("lifted")
    c = w.s.clocks["hipaa_individuals"]
    assert (c.reminded, c.reminder_at, c.due_at) == (True, reminder, w.clock() + 2 * DAY)


def test_a_clock_started_during_a_hold_is_paused_from_the_hold_start():
    w = world()
    hold(w, days=30, written=True)
    held_at = w.clock()
    w.clock.advance(4 * DAY)
    discovered = w.s.report.discovered_at
    w.ledger.start(rules.statutory("hipaa_media", discovered, w.s.config))  # counted from discovery, before the hold
    media = w.s.clocks["hipaa_media"]
    assert (media.state, media.paused_remaining) == (ClockState.paused, discovered + 60 * DAY - held_at)
    w.ledger.start(rules.service_level("record_notification_sent", w.clock(), w.s.config, ["notifying_official"]))  # started now, after the hold began
    sent = w.s.clocks["record_notification_sent"]
    assert (sent.state, sent.paused_remaining) == (ClockState.paused, 30 * DAY)
    w.ledger.start(rules.statutory("cisa_omb", w.clock(), w.s.config))  # not a notification clock: a hold does not stop it
    assert w.s.clocks["cisa_omb"].state is ClockState.pending


def test_an_oral_hold_lapses_after_thirty_days_and_the_clocks_resume():
    w = world()
    w.ledger.start(rules.service_level("record_notification_sent", w.clock(), w.s.config, ["notifying_official"]))
    w.clock.advance(10 * DAY)
    hold(w, days=90, written=False)
    end = w.s.clocks["law_enforcement_hold"].due_at
    assert end == w.clock() + 30 * DAY
    assert w.ledger.next_wake() == end
    w.clock.at = end - MINUTE
    w.ledger.tick()
    assert w.s.hold is not None
    w.clock.at = end
    w.ledger.tick()
    assert w.s.hold is None and w.s.clocks["law_enforcement_hold"].met_at == end
    assert (w.s.timeline[-1].kind, w.s.timeline[-1].detail) == ("hold_lifted", "oral instruction lapsed after 30 days")
    c = w.s.clocks["record_notification_sent"]
    assert (c.state, c.due_at) == (ClockState.pending, end + 20 * DAY)


def test_a_hold_ends_on_its_date():
    w = world()
    hold(w, days=10, written=True)
    w.clock.advance(10 * DAY)
    w.ledger.tick()
    assert w.s.hold is None and w.s.timeline[-1].detail == "hold reached its end date"
    w = world()
    hold(w, days=20, written=False)  # oral, but ends before 30 days: its end date, not a lapse
    w.clock.advance(20 * DAY)
    w.ledger.tick()
    assert w.s.hold is None and w.s.timeline[-1].detail == "hold reached its end date"



def test_a_hold_that_lapses_on_a_timer_fired_late_in_the_task_ends_at_its_due_time():
    w = world()
    w.ledger.start(rules.service_level("record_notification_sent", w.clock(), w.s.config, ["notifying_official"]))
    hold(w, days=10, written=True)
    remaining = w.s.clocks["record_notification_sent"].paused_remaining
    end = w.s.clocks["law_enforcement_hold"].due_at
    w.clock.at = end - MINUTE  # the task's now lags the timer it woke for (see CaseLedger.tick)
    w.ledger.tick(fired_at=end)
    assert w.s.hold is None  # the hold is lifted: tick took the later time ...
    assert w.s.clocks["law_enforcement_hold"].met_at == end  # ... and the hold ended at its end
    assert w.s.clocks["record_notification_sent"].due_at == end + remaining


def test_a_case_from_before_the_correction_lifts_a_late_fired_hold_at_the_task_time():
    w = world()
    w.ledger.patched = lambda patch: False  # replaying a case that began before CLOCK_FIXES
    w.ledger.start(rules.service_level("record_notification_sent", w.clock(), w.s.config, ["notifying_official"]))
    hold(w, days=10, written=True)
    remaining = w.s.clocks["record_notification_sent"].paused_remaining
    end = w.s.clocks["law_enforcement_hold"].due_at
    w.clock.at = end - MINUTE
    w.ledger.tick(fired_at=end)
    assert w.s.clocks["law_enforcement_hold"].met_at == end - MINUTE
    assert w.s.clocks["record_notification_sent"].due_at == end - MINUTE + remaining


# ---------------------------------------------------------------------------- stages


def test_enter_starts_the_stage_service_level_awaiting_its_roles_and_publishes():
    w = world()
    w.ledger.wake = False
    w.ledger.enter(Stage.confirm_pii)
    now = w.clock()
    c = w.s.clocks["confirm_pii"]
    want = rules.service_level("confirm_pii", now, w.s.config, ["cms_sop", "program_office"])
    assert (c.kind, c.due_at, c.reminder_at, c.awaiting, c.source) == (ClockKind.service_level, want.due_at, want.reminder_at, ["cms_sop", "program_office"], want.source)
    assert c.due_at == now + DAY
    assert w.s.stage is Stage.confirm_pii and w.ledger.wake and w.published == [now]
    assert [(e.kind, e.stage) for e in w.s.timeline[:1]] == [("stage_entered", "confirm_pii")]
    for stage, name in ENTRY_SLA.items():
        w.ledger.enter(stage)
        assert w.s.clocks[name].awaiting == sorted(r.value for r in ROLES[name]), stage
    w.ledger.enter(Stage.report)  # a stage without a human step starts no clock
    assert len(w.s.clocks) == len(ENTRY_SLA)


def test_need_stage_and_still_reporting_give_the_reasons():
    w = world()
    assert w.ledger.still_reporting() == "the case is still being reported"
    assert w.ledger.need_stage(Stage.notify, Stage.cms_approval) == "the case is in stage report, not notify or cms_approval"
    w.ledger.enter(Stage.notify)
    assert (w.ledger.still_reporting(), w.ledger.need_stage(Stage.notify)) == (None, None)


# ---------------------------------------------------------------------------- tick


def test_a_service_level_clock_reminds_then_escalates_to_the_brt_chair():
    w = world()
    w.ledger.enter(Stage.confirm_pii)
    c = w.s.clocks["confirm_pii"]
    assert c.reminder_at == c.due_at - 6 * HOUR  # a quarter of a day
    w.clock.at = c.reminder_at - MINUTE
    w.ledger.tick()
    assert w.ledger.notices == [] and not w.s.clocks["confirm_pii"].reminded
    w.clock.at = c.reminder_at
    published = len(w.published)
    w.ledger.tick()
    assert w.s.clocks["confirm_pii"].reminded and len(w.published) == published + 1
    assert (w.s.timeline[-1].kind, w.s.timeline[-1].detail) == ("reminder", "to cms_sop, program_office: 6h left")
    [(kind, notice)] = w.ledger.notices
    assert (kind, notice["to"], notice["text"], notice["breach_id"], notice["at"]) == (
        "reminder-confirm_pii", "cms_sop, program_office", f"confirm_pii is due {c.due_at.isoformat()}", w.s.report.breach_id, w.clock().isoformat(),
    )
    w.ledger.tick()
    assert len(w.ledger.notices) == 1  # reminded once
    w.clock.at = c.due_at
    w.ledger.tick()
    assert w.s.clocks["confirm_pii"].state is ClockState.missed
    [finding] = w.s.findings
    assert (finding.kind, finding.detail) == ("escalated", "confirm_pii awaited from cms_sop, program_office overran its service level of 1d")
    assert "escalation" in kinds(w)
    assert [(k, n["to"], n["text"]) for k, n in w.ledger.notices[1:]] == [("escalation-confirm_pii", ESCALATE_TO, "confirm_pii overran its service level")]
    assert ESCALATE_TO == "cms_sop (BRT chair)"
    w.clock.advance(DAY)
    w.ledger.tick()
    assert len(w.ledger.notices) == 2 and len(w.s.findings) == 1  # escalated once


def test_a_statutory_clock_missed_is_a_finding_and_a_notice():
    w = world()
    start = w.clock()
    w.ledger.start(rules.statutory("cisa_omb", start, w.s.config))
    w.clock.at = start + HOUR
    w.ledger.tick()
    c = w.s.clocks["cisa_omb"]
    assert (c.state, c.met_at) == (ClockState.missed, None)
    [finding] = w.s.findings
    assert (finding.kind, finding.detail) == ("cisa_omb_missed", f"cisa_omb reached its deadline and is not done ({rules.SOURCES['cisa_omb']})")
    assert [(k, n["to"], n["text"]) for k, n in w.ledger.notices] == [("missed-cisa_omb", ESCALATE_TO, "statutory clock cisa_omb missed")]
    assert "deadline_missed" in kinds(w) and "reminder" not in kinds(w)  # the reminder time passed unseen: no late reminder


def test_a_statutory_reminder_goes_to_the_sop_when_nobody_is_awaited():
    w = world()
    w.ledger.start(rules.statutory("congress_oig", w.clock(), w.s.config))
    w.clock.at = w.s.clocks["congress_oig"].reminder_at
    w.ledger.tick()
    [(kind, notice)] = w.ledger.notices
    assert (kind, notice["to"]) == ("reminder-congress_oig", "cms_sop")
    assert w.s.timeline[-1].detail == "to cms_sop: 1d 18h left"  # a quarter of 7 days


def test_a_timer_that_fired_counts_even_when_the_task_clock_lags():
    w = world()
    w.ledger.start(rules.statutory("cisa_omb", w.clock(), w.s.config))
    due = w.s.clocks["cisa_omb"].due_at
    w.clock.at = due - 2 * MINUTE
    w.ledger.tick()
    assert w.s.clocks["cisa_omb"].state is ClockState.pending
    w.ledger.tick(fired_at=due)
    assert w.s.clocks["cisa_omb"].state is ClockState.missed and w.s.findings[0].kind == "cisa_omb_missed"


def test_a_timer_fired_earlier_than_now_does_not_hold_the_tick_back():
    w = world()
    w.ledger.start(rules.statutory("cisa_omb", w.clock(), w.s.config))
    w.clock.advance(2 * HOUR)
    w.ledger.tick(fired_at=w.clock() - 90 * MINUTE)
    assert w.s.clocks["cisa_omb"].state is ClockState.missed


# ---------------------------------------------------------------------------- next wake


def test_next_wake_is_the_earliest_reminder_or_deadline_still_to_come():
    w = world()
    assert w.ledger.next_wake() is None
    start = w.clock()
    w.ledger.start(rules.statutory("congress_oig", start, w.s.config))
    w.ledger.start(rules.statutory("cisa_omb", start, w.s.config))
    cisa = w.s.clocks["cisa_omb"]
    assert w.ledger.next_wake() == cisa.reminder_at == start + 45 * MINUTE
    w.clock.at = cisa.reminder_at
    w.ledger.tick()
    assert w.ledger.next_wake() == cisa.due_at  # reminded: its deadline is next
    w.ledger.settle("cisa_omb")
    assert w.ledger.next_wake() == w.s.clocks["congress_oig"].reminder_at == rules.reminder_at(start, start + 7 * DAY, w.s.config)
    hold(w, days=3, written=True)
    w.ledger.start(rules.statutory("hipaa_individuals", start, w.s.config))  # paused: not a wake time
    assert w.ledger.next_wake() == w.clock() + 3 * DAY  # the hold's end comes before congress_oig's reminder
    w.ledger.settle("congress_oig")
    w.ledger.lift_hold("lifted")
    assert w.ledger.next_wake() == w.s.clocks["hipaa_individuals"].reminder_at


# ---------------------------------------------------------------------------- records and closing


def test_conclude_retires_every_open_clock_and_closes():
    w = world()
    start = w.clock()
    w.ledger.start(rules.statutory("cisa_omb", start, w.s.config))
    w.ledger.settle("cisa_omb")
    w.ledger.start(rules.statutory("congress_oig", start, w.s.config))
    w.ledger.start(rules.statutory("supplemental_30d", start, w.s.config))
    w.clock.advance(31 * DAY)
    w.ledger.tick()  # both missed now
    w.ledger.start(rules.statutory("hipaa_individuals", start, w.s.config))
    hold(w, days=5, written=True)  # hipaa_individuals paused, the hold pending
    w.ledger.wake = False
    published = len(w.published)
    w.ledger.conclude("no_pii")
    states = {n: c.state for n, c in w.s.clocks.items()}
    assert states == {
        "cisa_omb": ClockState.met, "congress_oig": ClockState.missed, "supplemental_30d": ClockState.missed,
        "hipaa_individuals": ClockState.not_applicable, "law_enforcement_hold": ClockState.not_applicable,
    }
    assert w.s.clocks["hipaa_individuals"].paused_remaining is None
    assert (w.s.stage, w.s.closed, w.ledger.wake, len(w.published)) == (Stage.closed, True, True, published + 1)
    assert {e.detail for e in w.s.timeline if e.kind == "deadline_not_applicable"} == {"case closed (no_pii)"}
    assert (w.s.timeline[-1].kind, w.s.timeline[-1].stage, w.s.timeline[-1].detail) == ("closed", "closed", "no_pii")
    assert w.ledger.next_wake() is None


def test_accept_and_refused_put_decisions_on_record_at_their_arrival():
    w = World.new("qecp")
    d = w.decision("confirm_pii", {"is_pii": True}, rationale="the PDFs hold names and signatures")
    arrived = w.clock()
    w.clock.advance(MINUTE)
    note = w.ledger.accept("confirm_pii", d, arrived)
    assert (note.decision_id, note.decision, note.role, note.by, note.at, note.rationale) == (d.decision_id, "confirm_pii", "cms_sop", "Test cms_sop", arrived, "the PDFs hold names and signatures")
    assert w.s.decisions == [note]
    e = w.s.timeline[-1]
    assert (e.kind, e.at, e.decision, e.role, e.by, e.detail) == ("decision_accepted", arrived, "confirm_pii", "cms_sop", "Test cms_sop", "the PDFs hold names and signatures")
    w.ledger.refused("confirm_pii", d, "the case is closed", w.clock())
    e = w.s.timeline[-1]
    assert (e.kind, e.at, e.detail, len(w.s.decisions)) == ("decision_refused", w.clock(), "the case is closed", 1)


def test_export_due_only_in_notify_with_a_roster_and_nothing_holding_it_back():
    w = World.new(sample("qecp", roster_uri="file:roster.csv"))
    assert not w.ledger.export_due()
    w.ledger.enter(Stage.notify)
    assert w.ledger.export_due()
    for field, value, cleared in (("notify_problem", "TemplateRefused: x", None), ("preparing_letters", True, False), ("main_outcome", "notified", None), ("closed", True, False)):
        setattr(w.s, field, value)
        assert not w.ledger.export_due(), field
        setattr(w.s, field, cleared)
    assert w.ledger.export_due()
    hold(w, days=1, written=True)
    assert not w.ledger.export_due()
    w.s.hold = None
    loop = asyncio.new_event_loop()
    try:
        w.ledger.export = loop.create_future()  # a running export
        assert w.ledger.exporting and not w.ledger.export_due()
    finally:
        loop.close()
    assert not World.new("qecp").ledger.export_due()

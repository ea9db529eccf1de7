"""Every shipped tabletop exercise (examples/exercises/*.yaml) ends as a privacy officer expects.

Each scenario runs once, through the same runner as `breach exercise`
(``starter.exercise.run_exercise``: the real workflow and activities on Temporal's
time-skipping test server), and the tests below read its timeline and summary: final
status, outcome and stage, risk level, major incident, the clocks with their exact due
times (computed here from the rule, not copied from a run), reminders, escalations,
missed-clock findings, and refused decisions with their reasons.

Times: the runner prints every time in the report's own calendar, truncated to the
second. Clocks that start while the case is filed start a second or two after the
report's reported_at (the test server's clock runs while the worker starts), so those are
compared with the moment they started, or within ``SLACK``.

"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from models.case import CaseConfig
from models.intake import IntakeReport
from starter.exercise import ExerciseResult, Scenario, load_scenario, offset, run_exercise
from tests.support import REPO, breach_cli
from tests.test_notify_common import make_roster

EXERCISES = REPO / "examples" / "exercises"
SCENARIOS = sorted(EXERCISES.glob("*.yaml"))
SLACK = timedelta(seconds=2)
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
CONFIG = CaseConfig()
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")


def t(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def near(a: datetime | None, b: datetime, slack: timedelta = SLACK) -> bool:
    return a is not None and abs(a - b) <= slack


def reminder_lead(started: datetime, due: datetime) -> timedelta:
    """When a reminder goes out before ``due``: a quarter of the clock's time, at most 2 days."""
    return min((due - started) * CONFIG.reminder_fraction, CONFIG.reminder_max_lead)


@dataclass
class Run:
    stem: str
    scenario: Scenario = field(repr=False)
    report: IntakeReport = field(repr=False)  # as written in the scenario (its own calendar)
    result: ExerciseResult = field(repr=False)
    history: list[dict[str, Any]] = field(repr=False)

    @property
    def summary(self) -> dict[str, Any]:
        return self.result.summary

    @property
    def timeline(self) -> list[dict[str, Any]]:
        return self.result.timeline

    def at(self, relative: str) -> datetime:
        """A scenario time (``+3d2h``) in the report's calendar."""
        return self.report.reported_at + offset(relative)

    def events(self, kind: str, **match: Any) -> list[dict[str, Any]]:
        return [e for e in self.timeline if e["kind"] == kind and all(e.get(k) == v for k, v in match.items())]

    def one(self, kind: str, **match: Any) -> dict[str, Any]:
        found = self.events(kind, **match)
        assert len(found) == 1, f"{self.stem}: expected one {kind} {match}, got {found}"
        return found[0]

    def clock(self, name: str) -> dict[str, Any]:
        found = [c for c in self.summary["clocks"] if c["clock"] == name]
        assert found, f"{self.stem}: no clock {name}; clocks: {[c['clock'] for c in self.summary['clocks']]}"
        return found[0]

    def finding_kinds(self) -> list[str]:
        return [f["kind"] for f in self.summary["findings"]]

    def stages(self) -> list[str]:
        return [e["stage"] for e in self.events("stage_entered")]

    def accepted(self) -> list[tuple[str, str]]:
        return [(e["decision"], e["role"]) for e in self.events("decision_accepted")]

    def refused(self) -> list[dict[str, Any]]:
        return self.events("decision_refused")

    def outcome(self) -> tuple:
        s = self.summary
        return (s["status"], s["outcome"], s["stage"], s["risk_level"], s["major_incident"], s["individuals_notified"])


_RUNS: dict[str, Run] = {}
# Scenarios run with a generated roster of this many rows (the rest without one).
ROSTER_ROWS = {"laptop-roster-export": 2000}


async def run(stem: str) -> Run:
    """Run a shipped scenario once per session (each takes a couple of seconds)."""
    if stem not in _RUNS:
        scenario, report = load_scenario(EXERCISES / f"{stem}.yaml")
        with tempfile.TemporaryDirectory(prefix="exercise-test-") as scratch:
            history = Path(scratch) / "history.json"
            roster = make_roster(ROSTER_ROWS[stem], Path(scratch) / "roster.csv") if stem in ROSTER_ROWS else None
            # A hung run fails the test instead of blocking the suite.
            result = await asyncio.wait_for(run_exercise(scenario, report, Path(scratch) / "run", history_out=history, roster=roster), timeout=120)
            events = json.loads(history.read_text())["events"]
        _RUNS[stem] = Run(stem, scenario, report, result, events)
    return _RUNS[stem]


# ------------------------------------------------------------------ every scenario

TESTED = {
    "not-pii-aggregate-counts",
    "low-risk-pim-more-info",
    "notify-cms-rejection",
    "notify-hhs-rejection",
    "contractor-two-information-requests",
    "major-incident-by-count",
    "major-incident-by-determination",
    "hold-oral-lapses",
    "hold-written-lifted",
    "follow-up-notice-new-information",
    "new-information-before-mailing",
    "every-step-late",
    "laptop-roster-export",
}


def test_every_shipped_scenario_has_expectations_here():
    assert {p.stem for p in SCENARIOS} == TESTED, "a new scenario needs its own test of what the privacy officer should see"


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
async def test_scenario_runs_the_case_to_a_clean_end(path: Path):
    text = path.read_text()
    assert text.startswith("# "), f"{path.name}: starts with a comment header (what to see, which plan rules)"
    r = await run(path.stem)
    # The workflow itself never failed: no failed execution, no failed workflow task.
    types = [e["eventType"] for e in r.history]
    assert "EVENT_TYPE_WORKFLOW_EXECUTION_FAILED" not in types
    assert "EVENT_TYPE_WORKFLOW_TASK_FAILED" not in types
    if r.summary["status"] == "closed":
        assert types[-1] == "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED"
        assert r.timeline[-1]["kind"] in ("closed", "decision_refused")
    # The timeline reads in the report's own calendar, from the report to the scenario's end.
    first = r.timeline[0]
    assert (first["kind"], first["stage"]) == ("stage_entered", "report")
    assert near(t(first["at"]), r.report.reported_at, timedelta(seconds=10))
    end = r.report.reported_at + r.scenario.until
    assert all(r.report.reported_at <= t(e["at"]) <= end for e in r.timeline)
    assert all(t(e["at"]).utcoffset() == r.report.reported_at.utcoffset() for e in r.timeline)
    # No decision lands on the very instant a clock fires: on the time-skipping test server an
    # update racing a timer can leave the workflow task hanging (seen with the congress_oig
    # deadline), so scenarios keep their decisions off reminder, escalation and deadline times.
    timers = ("reminder", "escalation", "deadline_missed", "hold_lifted")
    fired = {e["at"] for e in r.timeline if e["kind"] in timers and not e.get("detail", "").startswith("lifted by")}
    decided = {e["at"] for e in r.timeline if e["kind"] in ("decision_accepted", "decision_refused")}
    assert not fired & decided, f"decisions coincide with a clock firing at {sorted(fired & decided)}"
    # Every action of the scenario was either accepted or refused with a reason.
    assert len(r.events("decision_accepted")) + len(r.refused()) == len(r.scenario.actions)
    for refusal in r.refused():
        assert refusal["detail"] and refusal["decision"] and refusal["role"] and refusal["by"]


# ------------------------------------------------------------------ not PII


async def test_not_pii_closes_as_no_pii_after_refusing_the_reporter():
    r = await run("not-pii-aggregate-counts")
    assert r.outcome() == ("closed", "no_pii", "closed", None, False, 0)
    assert r.stages() == ["report", "confirm_pii"]
    assert r.one("closed")["detail"] == "no_pii"
    assert not r.events("risk_assessed")
    assert r.accepted() == [("confirm_pii", "cms_sop")]
    [refusal] = r.refused()
    assert (refusal["decision"], refusal["role"], refusal["by"], t(refusal["at"])) == ("confirm_pii", "reporter", "Pat Reyes", r.at("+20m"))
    assert "may be made by cms_sop, program_office, not by role reporter" in refusal["detail"]
    csirc = r.clock("csirc_report")
    assert csirc["state"] == "met" and t(csirc["due_at"]) == r.report.reported_at + HOUR
    confirm = r.clock("confirm_pii")
    assert confirm["state"] == "met" and t(confirm["met_at"]) == r.at("+3h")
    assert t(confirm["due_at"]) == t(confirm["started_at"]) + DAY
    assert {c["clock"] for c in r.summary["clocks"]} == {"csirc_report", "confirm_pii"}
    assert r.summary["findings"] == []


# ------------------------------------------------------------------ low risk through PIM


async def test_low_risk_closes_through_pim_after_one_request_for_more_information():
    r = await run("low-risk-pim-more-info")
    assert r.outcome() == ("closed", "closed_low_risk", "closed", "low", False, 0)
    assert r.stages() == ["report", "confirm_pii", "contractor_review", "risk_assessment", "pim_review"]
    assert r.one("risk_assessed")["detail"].startswith("level low; notify no")
    assert r.accepted() == [
        ("confirm_pii", "program_office"),
        ("co_acknowledge", "contracting_officer"),
        ("co_complete_review", "contracting_officer"),
        ("submit_risk_assessment", "cms_brt"),
        ("pim_request_more_info", "hhs_pim"),
        ("respond_to_pim", "cms_sop"),
        ("pim_approve_closure", "hhs_pim"),
    ]
    [refusal] = r.refused()
    assert (refusal["decision"], t(refusal["at"])) == ("pim_approve_closure", r.at("+8d4h"))
    assert "the agency has not yet answered PIM's request" in refusal["detail"]
    sent = [e["detail"].split(" -> ")[0] for e in r.events("report_sent")]
    assert sent == ["csirc_pim_initial_report", "pim_results", "pim_response_1"]
    respond = r.clock("respond_to_pim")
    assert (t(respond["started_at"]), t(respond["due_at"]), respond["state"], t(respond["met_at"])) == (r.at("+8d"), r.at("+18d"), "met", r.at("+10d"))
    closure = r.clock("pim_approve_closure")  # restarted when the agency answered
    assert (t(closure["started_at"]), t(closure["due_at"]), closure["state"], t(closure["met_at"])) == (r.at("+10d"), r.at("+20d"), "met", r.at("+13d"))
    contractor = r.clock("contractor_report")
    assert t(contractor["due_at"]) == r.report.discovered_at + HOUR and contractor["state"] == "met"
    assert r.summary["findings"] == []


# ------------------------------------------------------------------ notification path


async def test_cms_rejection_returns_the_plan_to_drafting_then_notifies():
    r = await run("notify-cms-rejection")
    assert r.outcome() == ("closed", "notified", "closed", "high", False, 37)
    assert r.stages() == ["report", "confirm_pii", "risk_assessment", "cms_approval", "hhs_approval", "notify"]
    drafting = r.one("returned_to_drafting")
    assert t(drafting["at"]) == r.at("+2d") and "toll-free number" in drafting["detail"]
    plan_clocks = [(t(e["at"]), t(e["due_at"])) for e in r.events("deadline_set", clock="approve_response_plan")]
    assert plan_clocks == [(r.at("+1d"), r.at("+4d")), (r.at("+2d"), r.at("+5d"))]  # restarted by the rejection
    plan = r.clock("approve_response_plan")
    assert (plan["state"], t(plan["met_at"])) == ("met", r.at("+3d"))
    [refusal] = r.refused()
    assert (refusal["decision"], refusal["role"]) == ("approve_notification", "cms_brt")
    assert "may be made by hhs_brt, hhs_saop, not by role cms_brt" in refusal["detail"]
    assert ("approve_notification", "hhs_brt") in r.accepted()
    notify = r.clock("record_notification_sent")
    assert (t(notify["started_at"]), t(notify["due_at"]), notify["state"], t(notify["met_at"])) == (r.at("+4d"), r.at("+34d"), "met", r.at("+9d"))
    assert r.one("notification_batch_done")["detail"] == "round 1: 37 individuals notified"
    assert r.summary["findings"] == []


async def test_hhs_rejection_goes_back_to_cms_approval_then_notifies():
    r = await run("notify-hhs-rejection")
    assert r.outcome() == ("closed", "notified", "closed", "high", False, 37)
    assert r.stages() == ["report", "confirm_pii", "risk_assessment", "cms_approval", "hhs_approval", "cms_approval", "hhs_approval", "notify"]
    back = r.one("returned_to_cms")
    assert t(back["at"]) == r.at("+3d") and "508 accommodations" in back["detail"]
    assert [d for d, _ in r.accepted()].count("approve_response_plan") == 2
    [refusal] = r.refused()
    assert (refusal["decision"], t(refusal["at"])) == ("record_notification_sent", r.at("+3d1h"))
    assert "the case is in stage cms_approval, not notify" in refusal["detail"]
    plan = r.clock("approve_response_plan")  # the second CMS approval, after the HHS rejection
    assert (t(plan["started_at"]), t(plan["due_at"]), t(plan["met_at"])) == (r.at("+3d"), r.at("+6d"), r.at("+4d"))
    hhs = r.clock("approve_notification")
    assert (t(hhs["started_at"]), t(hhs["due_at"]), hhs["state"], t(hhs["met_at"])) == (r.at("+4d"), r.at("+7d"), "met", r.at("+5d"))
    assert r.summary["findings"] == []


# ------------------------------------------------------------------ contractor / CO loop


async def test_contractor_loop_with_two_information_requests_through_the_co():
    r = await run("contractor-two-information-requests")
    assert r.outcome() == ("closed", "closed_low_risk", "closed", "low", False, 0)
    assert r.stages() == ["report", "confirm_pii", "contractor_review", "risk_assessment", "pim_review"]
    decisions = [d for d, _ in r.accepted()]
    assert decisions[:7] == [
        "confirm_pii",
        "co_acknowledge",
        "co_request_information",
        "co_record_contractor_response",
        "co_request_information",
        "co_record_contractor_response",
        "co_complete_review",
    ]
    assert all(role == "contracting_officer" for d, role in r.accepted() if d.startswith("co_"))
    responses = [(t(e["at"]), t(e["due_at"])) for e in r.events("deadline_set", clock="co_record_contractor_response")]
    assert responses == [(r.at("+1d"), r.at("+6d")), (r.at("+4d"), r.at("+9d"))]
    assert [t(e["at"]) for e in r.events("deadline_met", clock="co_record_contractor_response")] == [r.at("+3d"), r.at("+6d")]
    review = r.clock("co_complete_review")
    assert (t(review["started_at"]), t(review["due_at"]), review["state"], t(review["met_at"])) == (r.at("+2h"), r.at("+10d2h"), "met", r.at("+8d"))
    refusals = [(e["decision"], e["role"]) for e in r.refused()]
    assert refusals == [("co_record_contractor_response", "contractor"), ("co_complete_review", "contracting_officer")]
    assert "may be made by contracting_officer, not by role contractor" in r.refused()[0]["detail"]
    assert "an information request is still open" in r.refused()[1]["detail"]
    assert r.summary["findings"] == []


# ------------------------------------------------------------------ major incidents


async def test_major_incident_by_count_runs_the_major_track_beside_notification():
    r = await run("major-incident-by-count")
    assert r.outcome() == ("closed", "notified", "closed", "high", True, 151204)
    det = r.one("major_incident_determined")
    determined = t(det["at"])
    assert det["detail"].startswith("automatic: 152000 individuals")
    assert near(determined, r.report.reported_at, timedelta(seconds=10))  # at intake
    cisa, congress, supp = r.clock("cisa_omb"), r.clock("congress_oig"), r.clock("supplemental_30d")
    assert t(cisa["due_at"]) == determined + HOUR and (cisa["state"], t(cisa["met_at"])) == ("met", r.at("+40m"))
    assert t(congress["due_at"]) == determined + 7 * DAY and (congress["state"], t(congress["met_at"])) == ("met", r.at("+3d1h"))
    assert t(supp["due_at"]) == r.report.discovered_at + 30 * DAY == datetime.fromisoformat("2026-12-20T07:55:00-05:00")
    assert (supp["state"], t(supp["met_at"])) == ("met", r.at("+25d1h"))
    # Congress/OIG goes only once HHS ASL has approved too.
    [congress_sent] = [e for e in r.events("report_sent") if e["detail"].startswith("congress_oig ->")]
    assert t(congress_sent["at"]) == r.at("+3d1h")
    for name in ("hipaa_individuals", "hipaa_ocr", "hipaa_media"):
        c = r.clock(name)
        assert (t(c["due_at"]), c["state"], t(c["met_at"])) == (r.report.discovered_at + 60 * DAY, "met", r.at("+20d")), name
    assert r.clock("business_associate")["state"] == "met"
    assert t(r.one("awaiting_major_reports")["at"]) == r.at("+20d")
    assert t(r.one("closed")["at"]) == r.at("+25d1h")
    assert r.finding_kinds() == ["unknown_system"]


async def test_laptop_roster_export_notifies_from_the_roster_with_letters_checked_at_cms_approval():
    r = await run("laptop-roster-export")
    s = r.summary
    assert (s["status"], s["outcome"], s["major_incident"]) == ("closed", "notified", True)
    at_cms, at_export = r.events("letters_checked")  # for the approvers, then again with the approved languages
    assert t(at_cms["at"]) == r.at("+2d") and "adult, guardian, estate" in at_cms["detail"]
    assert t(at_export["at"]) == r.at("+6d") and "sent in English to speakers of es" in at_export["detail"]
    started = r.one("notification_export_started")
    assert t(started["at"]) >= r.at("+6d") and "file:roster-claims.csv" in started["detail"]
    done = r.one("notification_batch_done")
    assert t(done["at"]) - r.at("+6d") < timedelta(minutes=5)  # the export takes real seconds, not days
    notified = s["individuals_notified"]
    assert 1800 < notified < 2000 and f"{notified} of {notified} unique recipients" in done["detail"]
    assert "substitute_notice_required" in r.finding_kinds()
    for name in ("hipaa_individuals", "hipaa_ocr", "record_notification_sent"):
        assert r.clock(name)["state"] == "met", name
    assert t(r.one("closed")["at"]) == r.at("+25d1h")


def test_the_laptop_sample_with_a_152000_row_roster_reaches_notified_with_its_files_on_disk(tmp_path):
    """Issue 5's end-to-end run, through the CLI: `breach exercise --roster --keep`."""
    roster = make_roster(152_000, tmp_path / "roster-claims.csv")
    keep = tmp_path / "run"
    proc = subprocess.run([breach_cli(), "exercise", str(EXERCISES / "laptop-roster-export.yaml"), "--roster", str(roster), "--keep", str(keep), "--json"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    summary = result["summary"]
    assert (summary["status"], summary["outcome"]) == ("closed", "notified")
    round_dir = keep / "notify" / result["breach_id"] / "round-1"
    manifest = json.loads((round_dir / "manifest.json").read_text())
    counts = manifest["counts"]
    assert counts["rows_read"] == 152_000 and summary["individuals_notified"] == counts["recipients"] > 145_000
    assert counts["duplicates_merged"] > 0 and counts["no_address"] >= 10
    export = Path(manifest["files"]["export"]["path"])
    assert export.parent == round_dir.resolve() and manifest["files"]["export"]["rows"] == counts["exported"]
    assert sum(1 for _ in export.open(encoding="utf-8")) == counts["exported"] + 1  # and its header
    assert (round_dir / "preview.pdf").read_bytes().startswith(b"%PDF")
    assert manifest["substitute_notice"]["required"] and (round_dir / "substitute-notice.txt").is_file()
    assert manifest["media_notice"]["states"] and (round_dir / "media-notice.txt").is_file()
    assert [f["kind"] for f in summary["findings"]].count("substitute_notice_required") == 1


async def test_major_incident_by_determination_needs_saop_approval_and_brt_approved_reports():
    r = await run("major-incident-by-determination")
    assert r.outcome() == ("closed", "notified", "closed", "high", True, 37)
    assert ("determine_major_incident", "cms_sop") in r.accepted()
    approval = r.clock("approve_major_incident")
    assert (t(approval["started_at"]), t(approval["due_at"]), approval["state"], t(approval["met_at"])) == (r.at("+1d2h"), r.at("+2d2h"), "met", r.at("+1d4h"))
    det = r.one("major_incident_determined")
    determined = t(det["at"])
    assert determined == r.at("+1d4h") and det["detail"].startswith("approved by the HHS SAOP")
    cisa, congress, supp = r.clock("cisa_omb"), r.clock("congress_oig"), r.clock("supplemental_30d")
    assert t(cisa["due_at"]) == determined + HOUR == r.at("+1d5h")
    assert (cisa["state"], t(cisa["met_at"])) == ("met", r.at("+1d4h30m"))
    assert t(congress["due_at"]) == determined + 7 * DAY == r.at("+8d4h")
    assert (congress["state"], t(congress["met_at"])) == ("met", r.at("+4d3h"))
    # 30 days from DISCOVERY, though the determination came a day later.
    assert t(supp["due_at"]) == r.report.discovered_at + 30 * DAY == datetime.fromisoformat("2026-12-19T13:00:00-05:00")
    assert (supp["state"], t(supp["met_at"])) == ("met", r.at("+21d"))
    refusals = {e["decision"]: e for e in r.refused()}
    assert refusals["approve_major_incident"]["role"] == "hhs_brt"
    assert "may be made by hhs_saop, not by role hhs_brt" in refusals["approve_major_incident"]["detail"]
    assert refusals["approve_outbound_report"]["role"] == "hhs_asl"
    assert "the cisa_omb report is approved by hhs_brt" in refusals["approve_outbound_report"]["detail"]
    assert t(r.events("awaiting_major_reports")[0]["at"]) == r.at("+10d")
    assert t(r.one("closed")["at"]) == r.at("+21d")
    assert r.summary["findings"] == []


# ------------------------------------------------------------------ law-enforcement holds


async def test_oral_hold_lapses_after_30_days_and_moves_the_held_clocks():
    r = await run("hold-oral-lapses")
    assert r.outcome() == ("closed", "notified", "closed", "high", False, 4188)
    started = r.one("hold_started")
    assert t(started["at"]) == r.at("+2d") and started["detail"].startswith("oral instruction")
    hold = r.clock("law_enforcement_hold")
    assert t(hold["due_at"]) == r.at("+2d") + CONFIG.oral_hold_limit == r.at("+32d")  # not the stated +92d
    paused = {e["clock"] for e in r.events("deadline_paused")}
    assert paused == {"hipaa_individuals", "hipaa_ocr", "hipaa_media", "record_notification_sent"}  # notify entered during the hold
    [refusal] = r.refused()
    assert (refusal["decision"], t(refusal["at"])) == ("record_notification_sent", r.at("+10d"))
    assert "notification is held for another 22d" in refusal["detail"]
    lifted = r.one("hold_lifted")
    assert near(t(lifted["at"]), r.at("+32d")) and lifted["detail"] == "oral instruction lapsed after 30 days"
    held_for = 30 * DAY
    for name in ("hipaa_individuals", "hipaa_ocr", "hipaa_media"):
        c = r.clock(name)
        assert near(t(c["due_at"]), r.report.discovered_at + 60 * DAY + held_for), name
        assert (c["state"], t(c["met_at"])) == ("met", r.at("+40d")), name
    notify = r.clock("record_notification_sent")  # entered notify during the hold: all 30 days left at the lapse
    assert near(t(notify["due_at"]), r.at("+32d") + 30 * DAY)
    assert (notify["state"], t(notify["met_at"])) == ("met", r.at("+40d"))


async def test_oral_hold_lapse_is_not_a_missed_deadline():
    r = await run("hold-oral-lapses")
    assert not r.events("deadline_missed", clock="law_enforcement_hold")
    assert r.clock("law_enforcement_hold")["state"] != "missed"
    assert r.finding_kinds() == ["unknown_system"]


async def test_refusal_reasons_quote_times_in_the_scenarios_calendar():
    """The mailing tried during the hold is on the timeline as refused, by whom and when, and
    its reason states the hold's time left as the scenario counts it (due at +32d, tried at
    +10d: 22 days) and who asked for the hold. Whether the runner or the workflow's own
    timeline records the refusal, the event must be there and say so."""
    r = await run("hold-oral-lapses")
    refusals = r.events("decision_refused", decision="record_notification_sent")
    assert refusals, f"the mailing during the hold is not on the timeline as refused: {r.refused()}"
    hold_due = t(r.clock("law_enforcement_hold")["due_at"])
    assert hold_due - r.at("+10d") == 22 * DAY
    end = r.report.reported_at + r.scenario.until
    for refusal in refusals:
        assert (refusal["role"], refusal["by"]) == ("notifying_official", "Jordan Wu"), refusal
        assert near(t(refusal["at"]), r.at("+10d")), refusal
        reason = refusal["detail"]
        assert "notification is held for another 22d" in reason and "FBI Baltimore Field Office" in reason, reason
        quoted = [datetime.fromisoformat(s) for s in re.findall(r"\d{4}-\d\d-\d\dT[\d:.]+(?:[+-]\d\d:\d\d|Z)", reason)]
        assert all(r.report.reported_at <= q <= end for q in quoted), reason


async def test_written_hold_holds_to_its_date_until_the_saop_lifts_it():
    r = await run("hold-written-lifted")
    assert r.outcome() == ("closed", "notified", "closed", "high", False, 4188)
    started = r.one("hold_started")
    assert t(started["at"]) == r.at("+4d") and started["detail"].startswith("written instruction")
    hold = r.clock("law_enforcement_hold")
    assert t(hold["due_at"]) == r.at("+40d")  # the stated date: a written hold is not capped at 30 days
    assert (hold["state"], t(hold["met_at"])) == ("met", r.at("+18d"))
    paused = {e["clock"]: e for e in r.events("deadline_paused")}
    assert set(paused) == {"hipaa_individuals", "hipaa_ocr", "hipaa_media", "record_notification_sent"}
    assert all(e["detail"].endswith(" remaining") and t(e["at"]) == r.at("+4d") for e in paused.values())
    [refusal] = r.refused()
    assert (refusal["decision"], refusal["role"]) == ("lift_delay", "cms_sop")
    assert "may be made by hhs_saop, not by role cms_sop" in refusal["detail"]
    lifted = r.one("hold_lifted")
    assert t(lifted["at"]) == r.at("+18d") and lifted["detail"] == "lifted by the HHS SAOP"
    held_for = r.at("+18d") - r.at("+4d")  # 14 days: every held due date moves by it
    for name in ("hipaa_individuals", "hipaa_ocr", "hipaa_media"):
        c = r.clock(name)
        assert near(t(c["due_at"]), r.report.discovered_at + 60 * DAY + held_for), name
        assert (c["state"], t(c["met_at"])) == ("met", r.at("+25d")), name
    notify = r.clock("record_notification_sent")
    assert near(t(notify["due_at"]), r.at("+3d") + 30 * DAY + held_for) and r.at("+3d") + 30 * DAY + held_for == r.at("+47d")
    assert (notify["state"], t(notify["met_at"])) == ("met", r.at("+25d"))
    assert r.finding_kinds() == ["unknown_system"]


# ------------------------------------------------------------------ follow-up notice


async def test_follow_up_scenario_first_round_notifies_and_waits_for_the_major_reports():
    r = await run("follow-up-notice-new-information")
    first = r.events("notification_batch_done")[0]
    assert (t(first["at"]), first["detail"]) == (r.at("+10d"), "round 1: 151204 individuals notified")
    assert t(r.events("awaiting_major_reports")[0]["at"]) == r.at("+10d")
    for name in ("hipaa_individuals", "hipaa_ocr", "hipaa_media"):
        assert (r.clock(name)["state"], t(r.clock(name)["met_at"])) == ("met", r.at("+10d")), name
    supp = r.clock("supplemental_30d")
    assert (supp["state"], t(supp["met_at"])) == ("met", r.at("+22d2h"))
    assert r.summary["status"] == "closed" and r.summary["outcome"] == "notified"


async def test_new_information_after_notification_leads_to_an_approved_follow_up_notice():
    r = await run("follow-up-notice-new-information")
    assert r.refused() == []
    assert t(r.one("new_information")["at"]) == r.at("+12d")
    assert len(r.events("risk_assessed")) == 2
    after = [e["stage"] for e in r.events("stage_entered") if t(e["at"]) >= r.at("+12d")]
    assert after == ["risk_assessment", "cms_approval", "hhs_approval", "notify"]
    rounds = [e["detail"] for e in r.events("notification_batch_done")]
    assert rounds == ["round 1: 151204 individuals notified", "round 2: 160504 individuals notified"]
    assert r.outcome() == ("closed", "notified", "closed", "high", True, 160504)
    assert t(r.one("closed")["at"]) == r.at("+22d2h")


async def test_new_information_before_the_mailing_reopens_the_assessment_and_both_approvals():
    r = await run("new-information-before-mailing")
    assert r.outcome() == ("closed", "notified", "closed", "high", False, 49)
    assert r.stages() == [
        "report", "confirm_pii", "risk_assessment", "cms_approval", "hhs_approval", "notify",
        "risk_assessment", "cms_approval", "hhs_approval", "notify",
    ]
    info = r.one("new_information")
    assert t(info["at"]) == r.at("+5d") and info["detail"].startswith("individuals now 49")
    superseded = r.one("deadline_not_applicable", clock="record_notification_sent")
    assert t(superseded["at"]) == r.at("+5d") and "superseded by a re-assessment" in superseded["detail"]
    assert len(r.events("risk_assessed")) == 2
    [refusal] = r.refused()
    assert (refusal["decision"], t(refusal["at"])) == ("record_notification_sent", r.at("+5d2h"))
    assert "the case is in stage risk_assessment, not notify" in refusal["detail"]
    assessment = r.clock("submit_risk_assessment")  # restarted by the new information
    assert (t(assessment["started_at"]), t(assessment["due_at"]), t(assessment["met_at"])) == (r.at("+5d"), r.at("+10d"), r.at("+6d"))
    notify = r.clock("record_notification_sent")  # the second notify stage
    assert (t(notify["started_at"]), notify["state"], t(notify["met_at"])) == (r.at("+8d"), "met", r.at("+12d"))
    assert [e["detail"] for e in r.events("notification_batch_done")] == ["round 1: 49 individuals notified"]
    assert r.summary["findings"] == []


# ------------------------------------------------------------------ every step late

LATE_HUMAN_STEPS = [
    "confirm_pii",
    "co_acknowledge",
    "co_record_contractor_response",
    "co_complete_review",
    "approve_major_incident",
    "submit_risk_assessment",
    "approve_response_plan",
    "approve_notification",
    "record_notification_sent",
]


async def test_every_late_human_step_is_reminded_escalated_and_met_late():
    r = await run("every-step-late")
    assert r.outcome() == ("closed", "notified", "closed", "high", True, 47610)
    escalated = [f for f in r.summary["findings"] if f["kind"] == "escalated"]
    assert len(escalated) == len(LATE_HUMAN_STEPS)
    for name in LATE_HUMAN_STEPS:
        c = r.clock(name)
        started, due, met = t(c["started_at"]), t(c["due_at"]), t(c["met_at"])
        assert due == started + CONFIG.service_levels[name], name
        assert c["state"] == "missed" and met is not None and met > due, name
        [reminder] = r.events("reminder", clock=name)
        assert near(t(reminder["at"]), due - reminder_lead(started, due)), name
        [escalation] = r.events("escalation", clock=name)
        assert near(t(escalation["at"]), due) and "escalated to the BRT chair (CMS SOP)" in escalation["detail"], name
        assert any(f["detail"].startswith(f"{name} awaited from") for f in escalated), name
        [late] = r.events("deadline_met_late", clock=name)
        assert t(late["at"]) == met, name


async def test_every_late_major_incident_report_is_reminded_missed_and_sent_late():
    r = await run("every-step-late")
    determined = t(r.one("major_incident_determined")["at"])
    assert determined == r.at("+6d0h40m")  # the HHS SAOP's late approval
    due = {
        "cisa_omb": determined + HOUR,
        "congress_oig": determined + 7 * DAY,
        "supplemental_30d": r.report.discovered_at + 30 * DAY,
    }
    sent = {"cisa_omb": r.at("+7d0h45m"), "congress_oig": r.at("+15d4h10m"), "supplemental_30d": r.at("+35d2h35m")}
    for name, due_at in due.items():
        c = r.clock(name)
        assert (t(c["due_at"]), c["state"], t(c["met_at"])) == (due_at, "missed", sent[name]), name
        [reminder] = r.events("reminder", clock=name)
        assert near(t(reminder["at"]), due_at - reminder_lead(t(c["started_at"]), due_at)), name
        [missed] = r.events("deadline_missed", clock=name)
        assert near(t(missed["at"]), due_at), name
        assert f"{name}_missed" in r.finding_kinds(), name
        assert t(r.one("deadline_met_late", clock=name)["at"]) == sent[name], name


async def test_every_step_late_misses_the_hipaa_clocks_and_the_contractor_hour():
    r = await run("every-step-late")
    hipaa_due = r.report.discovered_at + 60 * DAY
    for name in ("hipaa_individuals", "hipaa_ocr", "hipaa_media"):
        c = r.clock(name)
        assert (t(c["due_at"]), c["state"]) == (hipaa_due, "missed"), name
        assert near(t(r.one("deadline_missed", clock=name)["at"]), hipaa_due), name
        assert len(r.events("reminder", clock=name)) == 1, name
        assert f"{name}_missed" in r.finding_kinds(), name
    contractor = r.clock("contractor_report")
    assert (t(contractor["due_at"]), contractor["state"], t(contractor["met_at"])) == (r.report.discovered_at + HOUR, "missed", r.report.reported_at)
    assert r.finding_kinds()[0] == "contractor_report_late"
    assert sorted(set(r.finding_kinds())) == sorted(
        {"contractor_report_late", "unknown_system", "escalated", "cisa_omb_missed", "congress_oig_missed", "supplemental_30d_missed", "hipaa_individuals_missed", "hipaa_ocr_missed", "hipaa_media_missed"}
    )
    assert r.clock("csirc_report")["state"] == "met" and r.clock("business_associate")["state"] == "met"


async def test_late_hipaa_notices_are_recorded_as_met_late():
    r = await run("every-step-late")
    for name in ("hipaa_individuals", "hipaa_ocr", "hipaa_media"):
        assert t(r.clock(name)["met_at"]) == r.at("+62d0h40m"), name
        assert r.events("deadline_met_late", clock=name), name


# ------------------------------------------------------------------ the CLI's --json shape


def test_cli_json_output_has_the_stable_shape():
    """`breach exercise --json` prints the shape DECISIONS.md promises to integrations and drills."""
    proc = subprocess.run(
        [breach_cli(), "exercise", "--json", str(EXERCISES / "not-pii-aggregate-counts.yaml")],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    assert set(out) == {"scenario", "breach_id", "timeline", "summary"}
    assert out["scenario"] == "Misdirected spreadsheet of aggregate enrollment counts (not PII)"
    assert out["breach_id"] == "web_form-PO-2026-0419"
    assert set(out["summary"]) == {"status", "outcome", "stage", "risk_level", "major_incident", "individuals_notified", "clocks", "findings"}
    s = out["summary"]
    assert (s["status"], s["outcome"], s["stage"], s["risk_level"], s["major_incident"], s["individuals_notified"]) == ("closed", "no_pii", "closed", None, False, 0)
    for clock in s["clocks"]:
        assert set(clock) == {"clock", "started_at", "due_at", "state", "met_at", "source"}
        assert clock["state"] in {"pending", "met", "missed", "paused", "not_applicable"}
        assert all(RFC3339.match(clock[k]) for k in ("started_at", "due_at", "met_at") if clock[k] is not None)
    assert all(set(f) == {"kind", "at", "detail"} for f in s["findings"])
    allowed = {"at", "kind", "stage", "clock", "decision", "role", "by", "due_at", "detail"}
    for event in out["timeline"]:
        assert {"at", "kind"} <= set(event) <= allowed, event
        assert RFC3339.match(event["at"]) and event["at"].endswith("-05:00"), event
        if "due_at" in event:
            assert RFC3339.match(event["due_at"]), event
    assert out["timeline"][0] == {"at": out["timeline"][0]["at"], "kind": "stage_entered", "stage": "report"}
    accepted = [e for e in out["timeline"] if e["kind"] == "decision_accepted"]
    assert [(e["decision"], e["role"], e["by"]) for e in accepted] == [("confirm_pii", "cms_sop", "Sam Ortiz")]
    refused = [e for e in out["timeline"] if e["kind"] == "decision_refused"]
    assert [(e["at"], e["decision"], e["role"], e["by"]) for e in refused] == [("2026-11-16T10:40:00-05:00", "confirm_pii", "reporter", "Pat Reyes")]
    assert "not by role reporter" in refused[0]["detail"]

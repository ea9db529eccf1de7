"""The notify stage's real work inside the case, on the time-skipping test server with the
real worker and activities: the letters checked (with a PDF preview) when the case enters
CMS approval, a refused template blocking approval until it is fixed, the mail-house
export after HHS approval with its counts in the register, substitute notice, holds, a
missing roster, and the follow-up round after new information."""

# ruff: noqa: F811 - pytest fixtures imported from tests.workflow_env are test parameters
from __future__ import annotations

import csv
import json
import shutil
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlmodel import Session, select
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowUpdateFailedError

from activities.db import make_engine
from activities.notify.letters import TEMPLATE_DIR
from activities.notify.roster import rosters_folder
from models.case import ClockState, Stage
from models.notification import NotifyProgress
from models.register import CaseRecord, ClockRecord, NotificationRoundRecord
from starter.decisions import submit
from tests.support import eventually
from tests.test_notify_common import make_roster
from tests.workflow_env import DAY, HOUR, NOTIFICATION, Harness, World, drive, harness, served, skipping, task_ended  # noqa: F401 (fixtures)
from workflows.breach import BreachResponseWorkflow

ROSTER_ROWS = 2000


@pytest.fixture(scope="module")
def roster(skipping: World) -> str:
    """A generated roster in the worker's notify folder; returns its URI."""
    folder = rosters_folder(skipping.settings.notify_path)
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "roster-2000.csv").exists():
        make_roster(ROSTER_ROWS, folder / "roster-2000.csv")
    return "file:roster-2000.csv"


def _first_export_end(events) -> str | None:
    """How the case's first export activity ended (its closing event's type), None while it runs."""
    scheduled = next(e.event_id for e in events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
                     and e.activity_task_scheduled_event_attributes.activity_type.name == "notify.export_round")
    return next((EventType.Name(e.event_type) for e in events if task_ended(e) == scheduled), None)


def export_rows(view_path: str) -> list[dict[str, str]]:
    with open(view_path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def register_rounds(world: World, breach_id: str) -> list[NotificationRoundRecord]:
    with Session(make_engine(world.settings.register_url)) as session:
        return list(session.exec(select(NotificationRoundRecord).where(NotificationRoundRecord.breach_id == breach_id).order_by(NotificationRoundRecord.round)))


async def test_letters_are_checked_at_cms_approval_and_the_export_runs_after_hhs_approval(harness, roster):
    case = await harness.new_case("qecp", roster_uri=roster, hipaa_covered=True, estimated_individuals=ROSTER_ROWS)
    await drive(case, Stage.cms_approval)
    checked = await case.event("letters_checked")
    preview = checked.detail.split("preview ")[1].split(";")[0]
    assert Path(preview).read_bytes().startswith(b"%PDF")
    assert "adult, guardian, estate" in checked.detail
    await case.decide("approve_response_plan", "cms_brt")
    await harness.sleep(HOUR)
    await case.decide("approve_notification", "hhs_saop", {**NOTIFICATION, "languages": ["en", "es"]})

    view = await case.view()
    assert (view.status, view.outcome) == ("concluded", "notified")
    result = await case.handle.result()
    rounds = register_rounds(harness.world, case.report.breach_id)
    assert len(rounds) == 1
    r = rounds[0]
    assert view.individuals_notified == r.recipients > 0
    assert view.notification.startswith(f"notified {r.recipients:,} of {r.recipients:,} unique recipients")
    # The export on disk: one row per recipient key, as many as the register says.
    rows = export_rows(r.export_path)
    assert len(rows) == r.exported
    assert max(Counter(row["recipient_key"] for row in rows).values()) == 1
    manifest = json.loads(Path(r.manifest_path).read_text())
    assert manifest["counts"]["recipients"] == r.recipients
    # About 3% of a generated roster has no usable address: substitute notice is required.
    assert r.no_address >= 10 and r.substitute_notice_required
    finding = next(f for f in view.findings if f.kind == "substitute_notice_required")
    assert "toll-free number" in finding.detail and "substitute" in finding.detail
    notice_file = finding.detail.split("Notice text: ")[1].split(";")[0]
    assert Path(notice_file).exists()
    clocks = {c.clock: c for c in view.clocks}
    assert clocks["record_notification_sent"].state is ClockState.met
    assert clocks["hipaa_individuals"].state is ClockState.met
    expected_media = ClockState.met if r.media_notice_states else ClockState.not_applicable
    assert clocks["hipaa_media"].state is expected_media
    assert result == "notified"


async def test_the_mailing_of_an_exported_roster_is_not_recorded_by_hand(harness, roster):
    case = await harness.new_case("qecp", roster_uri=roster)
    await case.decide("delay_notification", "hhs_saop", {"until": (await harness.now() + 5 * DAY).isoformat(), "authority": "FBI", "written": True})
    await drive(case, Stage.notify)
    # Held: the export waits for the hold's end.
    view = await case.view()
    assert (view.stage, view.status) == (Stage.notify, "ongoing")
    assert not await case.events("notification_export_started")
    assert "end of the hold" in view.awaiting
    reason = await case.refused("record_notification_sent", "notifying_official", {"individuals_notified": 37})
    assert "exports its roster" in reason
    await harness.sleep(5 * DAY + HOUR)
    view = await case.view()
    assert (view.status, view.outcome) == ("concluded", "notified")
    started = await case.event("notification_export_started")
    lifted = await case.event("hold_lifted")
    assert started.at >= lifted.at


async def test_a_missing_roster_stops_the_export_with_a_finding_until_retried(harness, skipping):
    folder = rosters_folder(skipping.settings.notify_path)
    folder.mkdir(parents=True, exist_ok=True)
    case = await harness.new_case("qecp", roster_uri="file:late-roster.csv")
    await drive(case, Stage.notify)
    view = await case.view()
    assert view.status == "ongoing"
    finding = next(f for f in view.findings if f.kind == "notification_export_failed")
    assert "late-roster.csv" in finding.detail and "notify-retry" in finding.detail
    assert view.awaiting.startswith("notify-retry once this is fixed")
    make_roster(300, folder / "late-roster.csv")
    assert "run again" in await case.handle.execute_update(BreachResponseWorkflow.retry_notification)
    await case.idle()
    view = await case.view()
    assert (view.status, view.outcome) == ("concluded", "notified")


async def test_a_follow_up_round_after_new_information_reaches_the_same_people(harness, roster):
    case = await harness.new_case("laptop", roster_uri=roster)
    for kind, role in (("cisa_omb", "hhs_brt"), ("congress_oig", "hhs_brt"), ("congress_oig", "hhs_asl")):
        await case.decide("approve_outbound_report", role, {"kind": kind})
    await drive(case, Stage.notify)
    view = await case.view()
    assert (view.status, view.stage) == ("ongoing", Stage.notify)  # the 30-day report is outstanding
    first = view.individuals_notified
    await harness.sleep(2 * DAY)
    await case.decide("new_information", "cms_sop", {"data_elements_added": ["bank_account"], "misuse_evidence": True})
    await drive(case, Stage.notify)
    rounds = register_rounds(harness.world, case.report.breach_id)
    assert [(r.round, r.letter) for r in rounds] == [(1, "initial"), (2, "follow_up")]
    assert rounds[1].recipients == rounds[0].recipients == first
    follow_up = export_rows(rounds[1].export_path)
    assert {row["record_id"] for row in follow_up} == {row["record_id"] for row in export_rows(rounds[0].export_path)}
    assert {row["letter"] for row in follow_up} == {"follow_up"}
    letters = [e.detail for e in await case.events("letters_checked")]
    assert any(d.startswith("round 2") for d in letters)


# ---------------------------------------------------------------------------- a refused template


@pytest.fixture(scope="module")
async def broken(tmp_path_factory) -> AsyncIterator[World]:
    """A worker whose letter templates lack element 3 (what information was involved)."""
    scratch = tmp_path_factory.mktemp("broken-letters")
    templates = scratch / "templates"
    shutil.copytree(TEMPLATE_DIR, templates)
    letter = templates / "en" / "letter.txt.j2"
    lines = letter.read_text().splitlines(keepends=True)
    start = lines.index("{% block information_involved %}\n")
    end = lines.index("{% endblock %}\n", start)
    letter.write_text("".join(lines[:start] + lines[end + 1:]))
    async with served(scratch, skips_time=True, letter_template_dir=templates) as world:
        yield world


async def test_a_template_missing_an_element_blocks_cms_approval_until_fixed(broken):
    async with Harness(broken) as h:
        case = await h.new_case("qecp")
        await drive(case, Stage.cms_approval)
        finding = next(f for f in (await case.view()).findings if f.kind == "letters_refused")
        assert "element 3" in finding.detail
        reason = await case.refused("approve_response_plan", "cms_brt")
        assert "element 3" in reason and "notify-retry" in reason
        # Rejection stays possible; the fixed template passes on retry and approval proceeds.
        shutil.copytree(TEMPLATE_DIR, broken.settings.letter_template_dir, dirs_exist_ok=True)
        out = await case.handle.execute_update(BreachResponseWorkflow.retry_notification)
        assert "ready for CMS approval" in out
        await case.idle()
        await case.decide("approve_response_plan", "cms_brt")
        assert (await case.view()).stage is Stage.hhs_approval
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await case.handle.execute_update(BreachResponseWorkflow.retry_notification)
        assert "no notification step has failed" in str(refused.value.cause)


async def test_the_running_export_signals_its_progress_to_the_case(harness, skipping):
    """Progress reaches the case as signals ("notified N of M" in its details while it runs)."""
    folder = rosters_folder(skipping.settings.notify_path)
    folder.mkdir(parents=True, exist_ok=True)
    make_roster(16_000, folder / "roster-16000.csv")
    case = await harness.new_case("qecp", roster_uri="file:roster-16000.csv")
    await drive(case, Stage.hhs_approval)
    await case.decide("approve_notification", "hhs_saop", NOTIFICATION)
    history = await case.handle.fetch_history()
    signals = [e.workflow_execution_signaled_event_attributes for e in history.events if e.HasField("workflow_execution_signaled_event_attributes")]
    assert signals and {s.signal_name for s in signals} == {"notify_progress"}
    [first] = await harness.client.data_converter.decode(signals[0].input.payloads, [NotifyProgress])
    assert first.round == 1 and first.rows_done == 5000
    assert 12_000 < first.rows_expected < 20_000  # estimated from the share of the roster read
    assert (await case.view()).outcome == "notified"


async def test_a_hold_placed_during_the_export_stops_it_and_the_round_resumes_after_it(harness, skipping):
    """No letter goes out under a law-enforcement hold: the running export is cancelled; when the
    hold is lifted the same round resumes from its checkpoint and every person is written once."""
    folder = rosters_folder(skipping.settings.notify_path)
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "roster-200000.csv").exists():
        make_roster(200_000, folder / "roster-200000.csv")
    case = await harness.new_case("qecp", roster_uri="file:roster-200000.csv")
    await drive(case, Stage.hhs_approval)
    await submit(case.handle, "approve_notification", await case.decision("hhs_saop", NOTIFICATION, name="approve_notification"))

    async def past_a_checkpoint() -> bool:
        """The export has committed a checkpoint: it signals (rows done, rows expected) only after one.
        Queries only: nothing here lets the time-skipping server move the clock."""
        view = await case.view()
        assert not view.individuals_notified, "the export finished before a checkpoint was seen: nothing left to hold"
        return view.notify_progress is not None and view.notify_progress[0] > 0

    # The hold goes in right after the first checkpoint (polling to a deadline), so the round has
    # something to resume from and most of the roster still to read when the cancellation reaches it.
    await eventually(past_a_checkpoint, timeout=60, interval=0.02)
    until = await harness.now() + 3 * DAY
    await submit(case.handle, "delay_notification", await case.decision("hhs_saop", {"until": until.isoformat(), "authority": "FBI", "written": True}, name="delay_notification"))
    await case.idle(timeout=60)
    first = _first_export_end(await case.history())
    assert first == "EVENT_TYPE_ACTIVITY_TASK_CANCELED", f"the first export attempt ended {first}: it did not stop at the hold"
    view = await case.view()
    assert (view.stage, view.status, view.individuals_notified) == (Stage.notify, "ongoing", 0)
    paused = await case.event("notification_export_paused")
    assert "hold" in paused.detail
    await case.decide("lift_delay", "hhs_saop", {"comments": "the investigation no longer needs the delay"})
    await case.idle(timeout=60)
    view = await case.view()
    assert (view.status, view.outcome) == ("concluded", "notified")
    [r] = register_rounds(harness.world, case.report.breach_id)
    rows = export_rows(r.export_path)
    assert len(rows) == r.exported and max(Counter(row["recipient_key"] for row in rows).values()) == 1
    assert r.rows_read == 200_000
    assert len(await case.events("notification_export_started")) == 2
    assert json.loads(Path(r.manifest_path).read_text())["resumed_from_row"] > 0  # the second start went on from a checkpoint


async def test_the_register_shows_the_case_closed_when_its_export_closes_it(harness, roster):
    """Found by the crash soak: the export closed the case, but the register kept it ongoing in notify."""
    case = await harness.new_case("qecp", roster_uri=roster)
    await drive(case, Stage.hhs_approval)
    await case.decide("approve_notification", "hhs_saop", NOTIFICATION)
    view = await case.view()
    assert (view.stage, view.status, view.outcome) == (Stage.closed, "concluded", "notified")
    with Session(make_engine(harness.world.settings.register_url)) as session:
        row = session.get(CaseRecord, case.report.breach_id)
        clocks = {c.clock: c.state for c in session.exec(select(ClockRecord).where(ClockRecord.breach_id == case.report.breach_id))}
    assert (row.stage, row.status, row.outcome, row.notified, row.individuals_notified) == ("closed", "concluded", "notified", True, view.individuals_notified)
    assert clocks == {c.clock: c.state.value for c in view.clocks}

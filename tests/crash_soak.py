"""The crash soak (issue 8): kill -9 the worker and the dev server while cases are decided.

Open cases of every kind (scripts below: not PII, low risk through PIM, the contractor /
CO loop, notification with new information, CMS and HHS rejection loops, a major
incident; and cases whose roster the notify stage exports to the mail house, unless
``roster_cases`` is off) are filed and each is advanced along its script to a prefix chosen so
that the cases wait in every stage. Then every case is driven to its end while the
worker and, separately, the dev server are killed with SIGKILL at random moments (each
kill lands while decisions are in flight) and restarted. A decision whose submission
fails is sent again, the very same signed decision (same decision id, so the same
update id), until the case answers. Service levels are a few seconds to under a minute,
so reminders and escalations fire before, during and after the kills.

Afterwards, for every case:

* it ended with the status and outcome its script dictates, its workflow completed;
* each decision of its script was applied exactly once: in the case's decisions, its
  timeline, its history (accepted updates), the register's decisions and the audit trail;
* every clock fired at its original due time: each reminder and escalation is at or
  after its due time and within TOLERANCE of it (as in tests/test_workflow_restart.py),
  the due times never moved from what the register showed before each kill, no timer that
  came due was left unfired. A kill can stall a case: while a process is down, and when
  its history shows work lost with the killed process (a workflow task that timed out,
  e.g. on the dead worker's sticky queue; an activity run again after its start-to-close
  timeout), and a restarted worker first replays every open case, so a case can also wait
  for a busy worker. A timer due while its case cannot run fires when it runs again: it is
  checked to be within TOLERANCE of that, and counted apart in the summary (a timer armed
  by a slow workflow task also fires late by that task's time: the server starts it when the
  task completes). A timer whose workflow task was scheduled on time but waited for a
  free worker slot while a restarted worker caught up (CATCH_UP) is counted apart too.
  A timer that fires late otherwise is an anomaly;
* the register (case row, decisions, clocks) agrees with the workflow, and the audit
  hash chain verifies;
* (roster cases) one notification round each, in the register, and no recipient twice in
  any mail-house export.

The short version runs in CI (tests/test_crash_soak.py); the long one from the project
folder:

    .venv/bin/python -m tests.crash_soak --cases 200 --kills 6 --seed 1

It prints a summary (kills of worker and server, cases, decisions, clocks checked, the
anomalies one per line) and exits 1 when there is any anomaly.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.client import Client, WorkflowHistory
from temporalio.service import RPCError
from temporalio.worker import Replayer

from activities import audit
from activities.db import make_engine
from activities.notify.roster import rosters_folder
from models.case import CaseConfig, Stage, TimelineEvent
from models.decisions import Decision, DecisionRefused
from models.intake import Recipient
from models.inventory import load_inventory
from models.register import CaseRecord, ClockRecord, DecisionRecord, NotificationRoundRecord
from starter.decisions import DecisionNotDelivered, submit
from tests.processes import Services
from tests.test_notify_common import make_roster, read_rows
from tests.test_workflow_restart import TOLERANCE
from tests.workflow_env import NOTIFICATION, Case, Harness, RealTime, World, build_report, busy_spans
from worker.converter import data_converter
from worker.main import WORKFLOWS, workflow_runner
from workflows import clocks as rules
from workflows.activity_calls import EXPORT, PREPARE

T = TypeVar("T")

# How long one decision may take to be answered, kills included: a check of the letters the killed
# worker was running is retried only after its start-to-close timeout (CMS approval is refused,
# "try again in a moment", until it is done), and a restarted worker first replays the open cases.
RECOVERY = 180.0
DECISION_DEADLINE = PREPARE["start_to_close_timeout"].total_seconds() + RECOVERY
# How long a case may take to close after its last decision: a check of the letters the killed
# worker was running is retried after its timeout, an export after its heartbeat timeout.
CLOSING_DEADLINE = PREPARE["start_to_close_timeout"].total_seconds() + EXPORT["heartbeat_timeout"].total_seconds() + RECOVERY
# How long after a restart the worker may still be replaying the open cases (200 on 2 cores), so that
# a task a timer scheduled on time waits for a free slot (check_clocks counts these apart).
CATCH_UP = timedelta(seconds=60)
# One submission attempt; an update waits while the worker is down.
ATTEMPT_TIMEOUT = 45.0
# The workflow's words for "not yet": a step of the case (scoring, the letters check) is still under way.
NOT_READY = "try again in a moment"
# Benign workflow task failures: a decision arrived while the task completing the run was sent.
BENIGN_TASK_FAILURES = {WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND}


# ---------------------------------------------------------------------------- scripts


@dataclass(frozen=True)
class Step:
    """One decision of a script; ``stage`` is where the case waits when it is sent."""

    stage: Stage
    name: str
    role: str
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Script:
    kind: str
    sample: str  # tests.workflow_env.SAMPLES
    steps: tuple[Step, ...]
    outcome: str  # the outcome the case must close with
    report: dict[str, Any] = field(default_factory=dict)  # changes to the sample report


S = Stage
CONFIRM = Step(S.confirm_pii, "confirm_pii", "cms_sop", {"is_pii": True, "federal_data": True})
ASSESS = Step(S.risk_assessment, "submit_risk_assessment", "cms_sop", {"answers": {}})
PLAN_OK = Step(S.cms_approval, "approve_response_plan", "cms_brt")
NOTIFY_OK = Step(S.hhs_approval, "approve_notification", "hhs_saop", NOTIFICATION)


def _outbound(stage: Stage, role: str, kind: str) -> Step:
    return Step(stage, "approve_outbound_report", role, {"kind": kind})


SCRIPTS = [
    Script("no_pii", "qecp", (Step(S.confirm_pii, "confirm_pii", "program_office", {"is_pii": False, "federal_data": True}),), "no_pii"),
    Script(
        "low_risk_pim",
        "qecp",
        (
            CONFIRM,
            Step(S.risk_assessment, "submit_risk_assessment", "cms_brt", {"answers": {}}),
            Step(S.pim_review, "pim_request_more_info", "hhs_pim", {"request": "confirm the recipient deleted the PDFs"}),
            Step(S.pim_review, "respond_to_pim", "program_office", {"response": "deletion attested by the recipient's ISSO"}),
            Step(S.pim_review, "pim_approve_closure", "hhs_pim"),
        ),
        "closed_low_risk",
        {"recipient": Recipient.hhs_internal},
    ),
    Script(
        "contractor_co",
        "recon",
        (
            CONFIRM,
            Step(S.contractor_review, "co_acknowledge", "contracting_officer"),
            Step(S.contractor_review, "co_request_information", "contracting_officer", {"request": "mail gateway logs and the recipient's deletion"}),
            Step(S.contractor_review, "co_record_contractor_response", "contracting_officer", {"summary": "logs and attestation supplied", "artifacts": ["mail-gateway-log-0117.txt"]}),
            Step(S.contractor_review, "co_complete_review", "contracting_officer", {"contractor_cooperated": True, "obligations": "FAR 52.224-3 breach clause"}),
            ASSESS,
            Step(S.pim_review, "pim_approve_closure", "hhs_pim"),
        ),
        "closed_low_risk",
    ),
    Script(
        "notify_new_information",
        "qecp",
        (
            CONFIRM,
            ASSESS,
            PLAN_OK,
            Step(S.hhs_approval, "new_information", "cms_sop", {"data_elements_added": ["ssn"], "individuals_delta": 12}),
            ASSESS,
            PLAN_OK,
            NOTIFY_OK,
            Step(S.notify, "record_notification_sent", "notifying_official", {"individuals_notified": 49}),
        ),
        "notified",
    ),
    Script(
        "rejections",
        "qecp",
        (
            CONFIRM,
            ASSESS,
            Step(S.cms_approval, "reject_response_plan", "cms_brt", {"comments": "letter must name the toll-free number"}),
            Step(S.cms_approval, "approve_response_plan", "cms_sop"),
            Step(S.hhs_approval, "reject_notification", "hhs_brt", {"comments": "add a Spanish letter"}),
            PLAN_OK,
            NOTIFY_OK,
            Step(S.notify, "record_notification_sent", "notifying_official", {"individuals_notified": 37}),
        ),
        "notified",
    ),
    Script(
        "major_incident",
        "laptop",  # without its roster: the Notifying Official records the mailing
        (
            _outbound(S.confirm_pii, "hhs_brt", "cisa_omb"),
            CONFIRM,
            Step(S.contractor_review, "co_acknowledge", "contracting_officer"),
            Step(S.contractor_review, "co_complete_review", "contracting_officer", {"contractor_cooperated": True, "obligations": "FAR 52.224-3 breach clause"}),
            ASSESS,
            _outbound(S.cms_approval, "hhs_brt", "congress_oig"),
            _outbound(S.cms_approval, "hhs_asl", "congress_oig"),
            PLAN_OK,
            NOTIFY_OK,
            Step(S.notify, "record_notification_sent", "notifying_official", {"individuals_notified": 151_204, "media_notice": True}),
            _outbound(S.notify, "hhs_brt", "supplemental_30d"),
            _outbound(S.notify, "hhs_asl", "supplemental_30d"),
        ),
        "notified",
        {"roster_uri": None},
    ),
]
# Notification by export: once HHS approves, the case exports the roster's letters and closes as notified.
ROSTER_SCRIPT = Script("roster_export", "qecp", (CONFIRM, ASSESS, PLAN_OK, NOTIFY_OK), "notified")
ROSTER_ROWS = 40


# ---------------------------------------------------------------------------- the run


@dataclass
class Outage:
    process: str  # worker | server
    killed_at: datetime
    back_at: datetime
    in_flight: int  # decisions being submitted when the kill landed


@dataclass
class SoakCase:
    number: int
    script: Script
    case: Case
    rng: random.Random  # the case's own: its pauses do not depend on the order tasks run in
    prefix: int = 0  # steps applied before the kills
    done: int = 0  # steps applied
    stopped: bool = False  # an anomaly stopped its script
    seen: dict[tuple[str, datetime], datetime] = field(default_factory=dict)  # (clock, started) -> due, as the register showed them before the kills
    signed: dict[int, Decision] = field(default_factory=dict)

    @property
    def breach_id(self) -> str:
        return self.case.report.breach_id

    def decision_id(self, index: int) -> str:
        return f"soak-{self.number:04d}-{index:02d}-{self.script.steps[index].name}"


@dataclass
class Stats:
    submissions: int = 0  # attempts, retries included
    retried: int = 0  # decisions that needed more than one attempt
    resent: int = 0  # decisions in flight at a kill, sent once more after their answer
    answered_applied: int = 0  # repeats refused by the case as applied already (the server no longer knew the update id)
    not_ready: int = 0  # refusals "try again in a moment", asked again
    longest_decision: float = 0.0  # seconds from the first submission of a decision to its answer
    timer_firings: int = 0
    on_time: int = 0
    after_stall: int = 0
    after_backlog: int = 0  # handled late only because the task the timer scheduled waited for a restarted worker
    max_late_on_time: float = 0.0
    max_late_after_stall: float = 0.0
    max_backlog_wait: float = 0.0
    clock_runs: int = 0
    uncommitted_rows: int = 0  # clock rows seen in the register before a kill that no completed workflow task wrote
    exports: int = 0
    letters: int = 0


@dataclass
class SoakResult:
    seed: int
    cases: int
    kinds: Counter
    spread: Counter
    outages: list[Outage]
    decisions: int
    decisions_before_kills: int
    stats: Stats
    anomalies: list[str]
    seconds: float
    slow_tasks: list[float] = field(default_factory=list)  # seconds of each workflow task the worker reported as over 5 s

    def render(self) -> str:
        s = self.stats
        kills = Counter(o.process for o in self.outages)
        lines = [
            f"crash soak, seed {self.seed}: {self.seconds:.0f} s",
            f"kills of worker:  {kills['worker']}",
            f"kills of server:  {kills['server']}",
        ]
        for o in self.outages:
            lines.append(f"  kill -9 {o.process:<6} at {o.killed_at:%H:%M:%S.%f}"[:-3] + f", {o.in_flight} decision(s) in flight, back after {(o.back_at - o.killed_at).total_seconds():.1f} s")
        lines += [
            f"cases:            {self.cases} ({', '.join(f'{k} {n}' for k, n in sorted(self.kinds.items()))})",
            f"  waiting before the kills in: {', '.join(f'{st} {n}' for st, n in sorted(self.spread.items()))}",
            f"decisions sent:   {self.decisions} ({self.decisions_before_kills} before the kills, {self.decisions - self.decisions_before_kills} during and after them) in {s.submissions} submissions: "
            f"{s.retried} sent again with the same id after a failed submission, {s.resent} in flight at a kill sent once more after their answer; "
            f"{s.answered_applied} repeat(s) answered 'already applied' by the case, the others by the server (same update id); "
            f"{s.not_ready} 'try again in a moment' refusal(s) asked again; longest wait for an answer {s.longest_decision:.1f} s",
            f"clocks checked:   {s.timer_firings} timer firings (reminders, escalations) of {s.clock_runs} clock runs: {s.on_time} within {TOLERANCE.total_seconds():.0f} s of due "
            f"(latest {s.max_late_on_time:.2f} s); {s.after_stall} due while their case could not run (a process down, a task or activity outstanding or lost, its timer armed by a slow task), "
            f"each within {TOLERANCE.total_seconds():.0f} s after the case ran again (latest {s.max_late_after_stall:.2f} s after due); "
            f"{s.after_backlog} scheduled on time whose task waited for a worker slot while a restarted worker caught up (longest wait {s.max_backlog_wait:.2f} s)",
        ]
        if s.uncommitted_rows:
            lines.append(f"register:         {s.uncommitted_rows} clock row(s) seen before a kill came from workflow tasks lost with a killed process (the snapshot is a local activity), overwritten by the next sync")
        if s.exports:
            lines.append(f"exports checked:  {s.exports} mail-house file(s), {s.letters} letters")
        if self.slow_tasks:
            lines.append(f"worker load:      {len(self.slow_tasks)} workflow task(s) took over 5 s (longest {max(self.slow_tasks):.1f} s; a task times out at 10 s)")
        lines.append(f"anomalies:        {len(self.anomalies)}")
        lines += [f"  {a}" for a in self.anomalies]
        return "\n".join(lines)


class Soak:
    def __init__(self, services: Services, client: Client, rng: random.Random, engine: Engine, *, concurrency: int, levels: tuple[float, float]) -> None:
        self.services, self.client, self.rng = services, client, rng
        self.settings = services.settings
        self.engine = engine  # the register
        self.harness = Harness(World(env=RealTime(client), settings=self.settings, inventory=load_inventory(self.settings.inventory_path), skips_time=False, operators=services.operators))
        self.gate = asyncio.Semaphore(concurrency)
        self.levels = levels
        self.exports: set[Path] = set()  # the mail-house files checked
        self.cases: list[SoakCase] = []
        self.outages: list[Outage] = []
        self.anomalies: list[str] = []
        self.stats = Stats()
        self.sent = 0  # decisions applied
        self.in_flight = 0  # submissions waiting for an answer
        self.killing = 0  # 1 while a kill and restart are under way

    # -- plumbing

    def anomaly(self, text: str) -> None:
        self.anomalies.append(text)

    async def patiently(self, what: Callable[[], Awaitable[T]], timeout: float = DECISION_DEADLINE) -> T:
        """``what()`` until it succeeds: a query or a history read fails while a process is down."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return await asyncio.wait_for(what(), 20)
            except (RPCError, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)

    def config(self, rng: random.Random) -> CaseConfig:
        """Service levels of a few seconds to under a minute, reminders half-way."""
        return CaseConfig(service_levels={name: timedelta(seconds=round(rng.uniform(*self.levels), 1)) for name in CaseConfig().service_levels}, reminder_fraction=0.5)

    # -- filing and spreading

    async def file(self, number: int, script: Script, rng: random.Random) -> SoakCase:
        changes = dict(script.report)
        if script is ROSTER_SCRIPT:
            changes["roster_uri"] = self.make_roster(number)
        config = self.config(rng)
        async with self.gate:
            case = await self.harness.file(build_report(script.sample, await self.harness.now(), **changes), config=config)
        return SoakCase(number, script, case, rng)

    def make_roster(self, number: int) -> str:
        """A small synthetic roster (../shared/tools/make_roster.py) in the worker's rosters folder; its URI."""
        name = f"soak-roster-{number:04d}.csv"
        make_roster(ROSTER_ROWS, rosters_folder(self.settings.notify_path) / name, seed=number)
        return f"file:{name}"

    def choose_prefixes(self) -> None:
        """Each case waits before a step whose stage has the fewest cases so far: every stage gets cases."""
        waiting: Counter = Counter()
        for sc in self.cases:
            steps = sc.script.steps
            least = min(waiting[step.stage] for step in steps)
            sc.prefix = self.rng.choice([i for i, step in enumerate(steps) if waiting[step.stage] == least])
            waiting[steps[sc.prefix].stage] += 1

    # -- decisions

    async def apply(self, sc: SoakCase, index: int) -> None:
        """Send step ``index`` until the case has applied it; the same signed decision on every attempt.

        A decision that was in flight when a process was killed is sent once more after its
        answer, as a client that lost the answer would: it must not be applied again."""
        step = sc.script.steps[index]
        if index not in sc.signed:
            sc.signed[index] = await sc.case.decision(step.role, step.payload, decision_id=sc.decision_id(index), name=step.name)
        decision = sc.signed[index]
        kills = len(self.outages) + self.killing
        if await self.send(sc, index, decision) > 1:
            self.stats.retried += 1
        if len(self.outages) + self.killing != kills:
            self.stats.resent += 1
            await self.send(sc, index, decision, again=True)
        sc.done = index + 1
        self.sent += 1

    async def send(self, sc: SoakCase, index: int, decision: Decision, again: bool = False) -> int:
        """Submit until the case answers; returns the attempts. A refusal is an AssertionError,
        unless the case has this decision already (an earlier attempt was applied, its answer lost)."""
        step = sc.script.steps[index]
        began = time.monotonic()
        deadline = began + DECISION_DEADLINE
        attempts = 0
        while True:
            attempts += 1
            self.stats.submissions += 1
            try:
                async with self.gate:
                    self.in_flight += 1
                    try:
                        await asyncio.wait_for(submit(sc.case.handle, step.name, decision), ATTEMPT_TIMEOUT)
                    finally:
                        self.in_flight -= 1
                self.stats.longest_decision = max(self.stats.longest_decision, time.monotonic() - began)
                return attempts
            except DecisionRefused as exc:
                if NOT_READY in str(exc) and time.monotonic() < deadline:
                    self.stats.not_ready += 1  # the case is still preparing (the assessment, the letters): as an operator would, ask again
                    await asyncio.sleep(0.5)
                    continue
                try:
                    view = await self.view(sc, timeout=30)
                except (RPCError, TimeoutError) as failed:
                    raise AssertionError(f"{sc.breach_id} ({sc.script.kind}): step {index} {step.name} refused ({exc}), and the case answers no query ({failed})") from None
                if (attempts > 1 or again) and decision.decision_id in [d["decision_id"] for d in view.decisions]:
                    self.stats.answered_applied += 1
                    return attempts
                raise AssertionError(f"{sc.breach_id} ({sc.script.kind}): step {index} {step.name} by {step.role} refused in stage {view.stage}: {exc}") from None
            except (DecisionNotDelivered, TimeoutError, RPCError) as exc:
                if time.monotonic() > deadline:
                    raise AssertionError(f"{sc.breach_id}: step {index} {step.name} not answered within {DECISION_DEADLINE:.0f} s ({attempts} attempts; last: {exc!r})") from None
                await asyncio.sleep(0.5)

    async def view(self, sc: SoakCase, timeout: float = DECISION_DEADLINE):
        return await self.patiently(sc.case.view, timeout)

    def record_clocks(self) -> None:
        """Remember every case's clock runs as the register shows them now (read there, it costs the
        worker nothing); a run whose due time has changed since is an anomaly."""
        cases = {sc.breach_id: sc for sc in self.cases}
        with Session(self.engine) as session:
            for c in session.exec(select(ClockRecord)):
                sc = cases.get(c.breach_id)
                if sc is None or c.due_at is None:
                    continue
                before = sc.seen.setdefault((c.clock, c.started_at), c.due_at)
                if before != c.due_at:
                    self.anomaly(f"{sc.breach_id}: clock {c.clock} started {c.started_at:%H:%M:%S} moved from due {before} to {c.due_at}")

    async def drive(self, sc: SoakCase, upto: int, think: float) -> None:
        """Apply the case's steps up to ``upto``, pausing up to ``think`` seconds before each; a failure is an anomaly."""
        if sc.stopped:
            return
        try:
            for index in range(sc.done, upto):
                if think:
                    await asyncio.sleep(sc.rng.uniform(0, think))
                await self.apply(sc, index)
        except Exception as exc:  # noqa: BLE001 - whatever stops a case is an anomaly; the other cases go on
            sc.stopped = True
            self.anomaly(str(exc) if isinstance(exc, AssertionError) else f"{sc.breach_id} ({sc.script.kind}): stopped before step {sc.done}: {exc!r}"[:500])

    # -- kills

    async def killer(self, plan: list[tuple[str, int]], driving: asyncio.Task) -> None:
        """Each kill once ``threshold`` decisions were applied, at a moment when decisions are in flight."""
        for process, threshold in plan:
            while (self.sent < threshold or self.in_flight == 0) and not driving.done():
                await asyncio.sleep(0.02)
            if driving.done():
                self.anomaly(f"the decisions were all sent before the kill of the {process} (threshold {threshold}): kill not done")
                continue
            self.record_clocks()  # the due times before this kill
            await asyncio.sleep(self.rng.uniform(0, 0.5))
            while self.in_flight == 0 and not driving.done():
                await asyncio.sleep(0.005)
            in_flight, killed = self.in_flight, datetime.now(UTC)  # nothing awaited between this and the kill
            self.killing = 1
            if process == "worker":
                await self.services.restart_worker(self.client, pause=self.rng.uniform(0.2, 2.0))
            else:
                self.client = await self.services.restart_server(pause=self.rng.uniform(0.2, 1.0))
                self.harness.world.env = RealTime(self.client)
                for sc in self.cases:
                    sc.case.handle = self.client.get_workflow_handle(sc.case.handle.id)
            self.outages.append(Outage(process, killed, datetime.now(UTC), in_flight))
            self.killing = 0

    # -- checks

    async def check(self, sc: SoakCase) -> WorkflowHistory | None:
        """Every check of one case after its last decision; each failure is an anomaly line. Returns its history."""
        bid, script = sc.breach_id, sc.script
        result = None
        if sc.done == len(script.steps):  # otherwise the anomaly that stopped it is recorded
            try:
                result = await asyncio.wait_for(sc.case.handle.result(), CLOSING_DEADLINE)
            except Exception as exc:  # noqa: BLE001 - any failure to complete is the anomaly
                self.anomaly(f"{bid} ({script.kind}): the workflow did not complete after its last decision: {exc!r}")
        try:
            whole = await self.patiently(sc.case.handle.fetch_history, 60)
        except (RPCError, TimeoutError) as exc:
            self.anomaly(f"{bid} ({script.kind}): its history cannot be read: {exc!r}")
            return None
        if result is None:
            return whole  # still replayed: a nondeterminism shows there
        try:
            view = await self.view(sc, 60)
            timeline = await self.patiently(sc.case.timeline, 60)
        except Exception as exc:  # noqa: BLE001 - e.g. a query failing on a workflow task in failed state
            self.anomaly(f"{bid} ({script.kind}): cannot be queried: {exc!r}"[:500])
            return whole
        history = list(whole.events)
        expected_ids = [sc.decision_id(i) for i in range(len(script.steps))]

        # The status its script dictates.
        if (result, view.status, view.stage, view.outcome) != (script.outcome, "concluded", Stage.closed, script.outcome):
            self.anomaly(f"{bid} ({script.kind}): ended {view.status} in {view.stage} with outcome {view.outcome} (result {result}), expected concluded/{script.outcome}")

        # Each decision applied exactly once, wherever it is recorded.
        def once(where: str, ids: list[str]) -> None:
            counts = Counter(ids)
            if counts != Counter(expected_ids):
                twice = sorted(i for i, n in counts.items() if n > 1)
                missing = sorted(set(expected_ids) - set(ids))
                extra = sorted(set(ids) - set(expected_ids))
                self.anomaly(f"{bid} ({script.kind}): decisions in {where}: applied twice {twice}, missing {missing}, unexpected {extra}")

        once("the case's decisions", [d["decision_id"] for d in view.decisions])
        accepted = [e.workflow_execution_update_accepted_event_attributes.accepted_request.meta.update_id.split(":")[0] for e in history if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED]
        completed = [e.workflow_execution_update_completed_event_attributes.meta.update_id.split(":")[0] for e in history if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED]
        once("the history (updates accepted)", accepted)
        once("the history (updates completed)", completed)
        decided = [e for e in timeline if e.kind == "decision_accepted"]
        if [e.decision for e in decided] != [s.name for s in script.steps]:
            self.anomaly(f"{bid} ({script.kind}): the timeline's decision_accepted events are {[e.decision for e in decided]}, expected {[s.name for s in script.steps]}")
        if history[-1].event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
            self.anomaly(f"{bid}: the history ends with {EventType.Name(history[-1].event_type)}")
        for e in history:
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                attrs = e.workflow_task_failed_event_attributes
                if attrs.cause not in BENIGN_TASK_FAILURES:
                    self.anomaly(f"{bid}: workflow task failed ({WorkflowTaskFailedCause.Name(attrs.cause)}): {attrs.failure.message[:200]}")
            elif e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
                self.anomaly(f"{bid}: activity failed: {e.activity_task_failed_event_attributes.failure.message[:200]}")
        if len(set(view.outbox)) != len(view.outbox):
            self.anomaly(f"{bid}: the outbox lists a document twice: {[p for p, n in Counter(view.outbox).items() if n > 1]}")

        self.check_clocks(sc, view, timeline, self.stalls(history), task_scheduled(history))
        self.check_register(sc, view)
        return whole

    async def check_replay(self, histories: list[WorkflowHistory]) -> None:
        """Every history replays on the worker's code: no nondeterminism slipped in under the kills."""
        replayer = Replayer(workflows=WORKFLOWS, data_converter=data_converter(self.settings), workflow_runner=workflow_runner())
        async def each() -> AsyncIterator[WorkflowHistory]:
            for history in histories:
                yield history

        results = await replayer.replay_workflows(each(), raise_on_replay_failure=False)
        for run_id, failure in results.replay_failures.items():
            wid = next((h.workflow_id for h in histories if h.events and h.run_id == run_id), run_id)
            self.anomaly(f"{wid}: its history does not replay: {str(failure)[:300]}")

    def stalls(self, history: list) -> list[tuple[datetime, datetime]]:
        """When the case could not fire a timer on time; spans less than TOLERANCE apart merged:

        * a process down (a kill until the restart);
        * the case not idle: a workflow task or an activity outstanding (waiting for a worker,
          running, lost with a killed one and retried) (``busy_spans``);
        * a timer armed by a slow workflow task: the case computes the timer from the task's
          start, the server starts it when the task completes, so it fires that much later.

        A timer due in a stall fires once the case can run again (``free_at``)."""
        at = {e.event_id: e.event_time.ToDatetime().replace(tzinfo=UTC) for e in history}
        by_id = {e.event_id: e for e in history}
        canceled = {e.timer_canceled_event_attributes.started_event_id for e in history if e.event_type == EventType.EVENT_TYPE_TIMER_CANCELED}
        armed = []
        for e in history:
            if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED and e.event_id not in canceled:
                attrs = e.timer_started_event_attributes
                task_started = at[by_id[attrs.workflow_task_completed_event_id].workflow_task_completed_event_attributes.started_event_id]
                fire = attrs.start_to_fire_timeout.ToTimedelta()
                armed.append((task_started + fire, at[e.event_id] + fire))
        return sorted([*((o.killed_at, o.back_at) for o in self.outages), *busy_spans(history), *armed])

    def check_clocks(self, sc: SoakCase, view, timeline: list[TimelineEvent], stalls: list[tuple[datetime, datetime]],
                     scheduled: dict[datetime, datetime]) -> None:
        """Every timer of every clock run fired at its due time: within TOLERANCE, or, when the case
        could not run then (``stalls``), within TOLERANCE after it could; no due time moved.

        One more allowance, counted apart: the worker runs a bounded number of workflow tasks
        at once (worker.main.WORKFLOW_TASK_SLOTS), so in the first CATCH_UP after a restart,
        while the worker replays the open cases, the task a timer scheduled on time (by
        TOLERANCE) may wait in the queue. ``scheduled`` maps a task's start to its scheduling."""
        bid = sc.breach_id
        final = {(c.clock, c.due_at): c.reminder_at for c in view.clocks}  # a clock set again (a new run) is a service level, started when set
        runs = clock_runs(timeline, lambda clock, due, start: final[(clock, due)] if (clock, due) in final else rules.reminder_at(start, due, sc.case.config))
        for (clock, started), due in sorted(sc.seen.items()):
            if any(r.clock == clock and r.due == due for r in runs):
                continue
            if any(r.clock == clock and r.start == started for r in runs):
                self.anomaly(f"{bid}: clock {clock} started {started:%H:%M:%S} was due {due} before a kill (the register showed it); its run is due otherwise")
            else:
                # Not a run of the case's: the register snapshot (a local activity) of a workflow task that never
                # completed, lost with a killed process and overwritten since (check_register holds the final rows).
                self.stats.uncommitted_rows += 1
        for run in runs:
            self.stats.clock_runs += 1
            for problem in run.problems:
                self.anomaly(f"{bid}: {problem}")
            for what, due, event in (("reminder", run.reminder, run.reminded), ("escalation", run.due, run.fired)):
                if due is None or due < run.start or (what == "reminder" and due >= run.due):
                    continue  # no timer: due before the clock was set (settled at once), or no reminder
                free = free_at(due, stalls)
                latest = free + TOLERANCE
                if event is None:
                    # Not fired: right when the run ended (a decision, or the escalation) before its timer was due to be processed.
                    if run.end is None or run.end > latest:
                        self.anomaly(f"{bid}: clock {run.clock} {what} due {due:%H:%M:%S.%f} never fired (the run ended {run.end})")
                    continue
                late = (event.at - due).total_seconds()
                self.stats.timer_firings += 1
                if event.due_at != run.due:
                    self.anomaly(f"{bid}: clock {run.clock} {what} names due {event.due_at}; the run was due {run.due}")
                queued = scheduled.get(event.at)
                if event.at > latest and queued is not None and due - TOLERANCE <= queued <= latest and self.recovering(queued):
                    self.stats.after_backlog += 1
                    self.stats.max_backlog_wait = max(self.stats.max_backlog_wait, (event.at - queued).total_seconds())
                elif not due <= event.at <= latest:
                    self.anomaly(f"{bid}: clock {run.clock} {what} due {due:%H:%M:%S.%f} fired at {event.at:%H:%M:%S.%f} ({late:+.2f} s{f'; the case could not run until {free:%H:%M:%S.%f}' if free > due else ''})")
                elif late <= TOLERANCE.total_seconds():
                    self.stats.on_time += 1
                    self.stats.max_late_on_time = max(self.stats.max_late_on_time, late)
                else:
                    self.stats.after_stall += 1
                    self.stats.max_late_after_stall = max(self.stats.max_late_after_stall, late)

    def recovering(self, at: datetime) -> bool:
        """Within CATCH_UP after a process came back from a kill."""
        return any(o.back_at <= at <= o.back_at + CATCH_UP for o in self.outages)

    def check_register(self, sc: SoakCase, view) -> None:
        bid = sc.breach_id
        with Session(self.engine) as session:
            row = session.get(CaseRecord, bid)
            if row is None:
                self.anomaly(f"{bid}: not in the register")
                return
            mine = (row.stage, row.status, row.outcome, row.risk_level, row.major_incident, row.individuals, row.individuals_notified)
            theirs = (view.stage.value, view.status, view.outcome, view.risk_level, view.major_incident, view.estimated_individuals, view.individuals_notified)
            if mine != theirs:
                self.anomaly(f"{bid}: register case row {mine} differs from the workflow {theirs}")
            rows = session.exec(select(DecisionRecord).where(DecisionRecord.breach_id == bid)).all()
            registered = {(r.decision_id, r.decision, r.decided_at) for r in rows}
            applied = {(d["decision_id"], d["decision"], datetime.fromisoformat(d["at"])) for d in view.decisions}
            if registered != applied:
                self.anomaly(f"{bid}: register decisions differ from the workflow's: only in the register {sorted(registered - applied)}, only in the workflow {sorted(applied - registered)}")
            rounds = session.exec(select(NotificationRoundRecord).where(NotificationRoundRecord.breach_id == bid)).all()
            if len(rounds) != (1 if sc.script is ROSTER_SCRIPT else 0):
                self.anomaly(f"{bid} ({sc.script.kind}): the register holds {len(rounds)} notification round(s)")
            for r in rounds:
                self.check_export(Path(r.export_path), r.exported)
                if r.recipients != view.individuals_notified:
                    self.anomaly(f"{bid}: the register's round notified {r.recipients}, the case says {view.individuals_notified}")
            clocks = {c.clock: (c.state, c.due_at) for c in session.exec(select(ClockRecord).where(ClockRecord.breach_id == bid)).all()}
            wanted = {c.clock: (c.state.value, c.due_at) for c in view.clocks}
            if clocks != wanted:
                self.anomaly(f"{bid}: register clocks differ from the workflow's: {sorted(set(clocks.items()) ^ set(wanted.items()))}")
        log = audit.read_log(self.engine, bid)
        kinds = Counter(e["kind"] for e in log)
        entries = [(e["detail"]["decision_id"], e["kind"].removeprefix("decision:"), datetime.fromisoformat(e["at"])) for e in log if e["kind"].startswith("decision:")]
        if sorted(entries) != sorted(applied):
            self.anomaly(f"{bid}: audit trail decisions differ from the workflow's: only in the trail {sorted(set(entries) - applied)}, only in the workflow {sorted(applied - set(entries))}"
                         + (f", recorded twice {[k for k, n in Counter(entries).items() if n > 1]}" if len(set(entries)) != len(entries) else ""))
        if kinds["closed"] != 1:
            self.anomaly(f"{bid}: the audit trail records the closure {kinds['closed']} times")
        sent = sorted(e["detail"]["location"] for e in log if e["kind"].startswith("sent:"))
        if sent != sorted(view.outbox):
            self.anomaly(f"{bid}: audit trail's sent documents differ from the outbox: {sorted(set(sent) ^ set(view.outbox))}")

    def check_export(self, export: Path, exported: int | None = None) -> None:
        """No letter twice in a mail-house export (a recipient_key is one person in one round)."""
        self.exports.add(export)
        keys = Counter(row["recipient_key"] for row in read_rows(export))
        self.stats.exports += 1
        self.stats.letters += sum(keys.values())
        twice = {k: n for k, n in keys.items() if n > 1}
        if twice:
            self.anomaly(f"{export}: {len(twice)} recipient(s) have more than one letter, e.g. {next(iter(twice))} x{max(twice.values())}")
        if exported is not None and sum(keys.values()) != exported:
            self.anomaly(f"{export}: {sum(keys.values())} letters, the register says {exported}")

    def check_exports(self) -> None:
        """Every mail-house file in the notify folder belongs to a round in the register, and none holds a letter twice."""
        for export in sorted(self.settings.notify_path.rglob("mailhouse.csv")):
            if export not in self.exports:
                self.anomaly(f"{export}: a mail-house export of no round in the register")
                self.check_export(export)


def task_scheduled(history: list) -> dict[datetime, datetime]:
    """The start of each workflow task (its ``workflow.now()``) to when it was scheduled."""
    at = {e.event_id: e.event_time.ToDatetime().replace(tzinfo=UTC) for e in history}
    return {at[e.event_id]: at[e.workflow_task_started_event_attributes.scheduled_event_id]
            for e in history if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED}


def free_at(due: datetime, stalls: list[tuple[datetime, datetime]]) -> datetime:
    """The first moment from ``due`` on outside every stall (stalls that follow on one another chain)."""
    slack = timedelta(milliseconds=100)  # a stall starts when the timer fires, a moment after its due time
    free, moved = due, True
    while moved:
        moved = False
        for start, end in stalls:
            if start - slack <= free < end:
                free, moved = end, True
    return free


@dataclass
class ClockRun:
    """One run of a clock in a timeline: from its deadline_set to its end (met, missed, not applicable,
    superseded by a new run, or its escalation), with the firings of its timers."""

    clock: str
    start: datetime
    due: datetime
    reminder: datetime | None
    end: datetime | None = None
    reminded: TimelineEvent | None = None
    fired: TimelineEvent | None = None  # the escalation (service level) or the missed deadline (statutory)
    problems: list[str] = field(default_factory=list)


def clock_runs(timeline: list[TimelineEvent], reminder_of: Callable[[str, datetime, datetime], datetime | None]) -> list[ClockRun]:
    runs: list[ClockRun] = []
    current: dict[str, ClockRun] = {}
    for e in timeline:
        run = current.get(e.clock) if e.clock else None
        if e.kind == "deadline_set":
            if run and run.end is None:
                run.end = e.at
            if e.due_at is None:
                current.pop(e.clock, None)
            else:
                current[e.clock] = run = ClockRun(e.clock, e.at, e.due_at, reminder_of(e.clock, e.due_at, e.at))
                runs.append(run)
        elif run is None:
            continue
        elif e.kind == "reminder":
            if run.reminded:
                run.problems.append(f"clock {run.clock} reminded twice ({run.reminded.at} and {e.at})")
            run.reminded = e
        elif e.kind == "escalation" or (e.kind == "deadline_missed" and e.detail is None):  # the timer fired (a late decision gives a detail)
            if run.fired:
                run.problems.append(f"clock {run.clock} fired twice ({run.fired.at} and {e.at})")
            run.fired = e
            run.end = run.end or e.at
        elif e.kind in ("deadline_met", "deadline_missed", "deadline_not_applicable", "deadline_paused"):
            run.end = run.end or e.at
    return runs


def kill_plan(rng: random.Random, worker_kills: int, server_kills: int, decisions: int) -> list[tuple[str, int]]:
    """The kills in a random order, each after a random share (10-80 %) of the decisions left."""
    order = ["worker"] * worker_kills + ["server"] * server_kills
    rng.shuffle(order)
    thresholds = sorted(int(decisions * rng.uniform(0.1, 0.8)) for _ in order)
    return list(zip(order, thresholds, strict=True))


async def run_soak(
    data_dir: Path,
    *,
    cases: int = 24,
    worker_kills: int = 2,
    server_kills: int = 1,
    seed: int = 1,
    concurrency: int = 12,
    think: float = 6.0,
    levels: tuple[float, float] = (5.0, 45.0),
    roster_cases: bool = True,
    log: Callable[[str], None] = lambda _line: None,
) -> SoakResult:
    """Run the soak on a fresh dev server and worker in ``data_dir``; stops both before returning."""
    started = time.monotonic()
    rng = random.Random(seed)
    scripts = [*SCRIPTS, ROSTER_SCRIPT] if roster_cases else list(SCRIPTS)
    services = Services.in_folder(data_dir, queue="soak")
    engine = make_engine(services.settings.register_url)
    try:
        client = await services.start()
        soak = Soak(services, client, rng, engine, concurrency=concurrency, levels=levels)

        # Open cases spread over every stage.
        chosen = [scripts[i % len(scripts)] for i in range(cases)]
        rng.shuffle(chosen)
        soak.cases = list(await asyncio.gather(*(soak.file(n, script, random.Random(seed * 1_000_003 + n)) for n, script in enumerate(chosen, start=1))))
        log(f"{cases} cases filed in {time.monotonic() - started:.0f} s")
        soak.choose_prefixes()
        await asyncio.gather(*(soak.drive(sc, sc.prefix, think=0) for sc in soak.cases))
        soak.record_clocks()
        spread = Counter()
        for sc in soak.cases:
            view = await soak.view(sc)
            spread[view.stage.value] += 1
            if not sc.stopped and (view.stage is not sc.script.steps[sc.prefix].stage or view.status != "ongoing"):
                soak.anomaly(f"{sc.breach_id} ({sc.script.kind}): after {sc.prefix} step(s) it is {view.status} in {view.stage}, expected ongoing in {sc.script.steps[sc.prefix].stage}")
        before = soak.sent
        log(f"{cases} cases filed and spread ({before} decisions) in {time.monotonic() - started:.0f} s: {dict(spread)}")

        # Drive every case to its end while the worker and the server are killed.
        left = sum(len(sc.script.steps) - sc.done for sc in soak.cases)
        driving = asyncio.ensure_future(asyncio.gather(*(soak.drive(sc, len(sc.script.steps), think=think) for sc in soak.cases)))
        killing = asyncio.ensure_future(soak.killer([(p, before + t) for p, t in kill_plan(rng, worker_kills, server_kills, left)], driving))
        await driving
        await killing
        log(f"driven to the end with {len(soak.outages)} kills in {time.monotonic() - started:.0f} s")

        async def check(sc: SoakCase) -> WorkflowHistory | None:
            async with soak.gate:
                return await soak.check(sc)

        histories = [h for h in await asyncio.gather(*(check(sc) for sc in soak.cases)) if h is not None]
        await soak.check_replay(histories)
        chain = audit.verify(engine)
        if not chain.ok:
            soak.anomaly(f"audit chain: {chain.message}")
        soak.check_exports()
        for proc in (services.server, services.worker):
            if not proc.alive():
                soak.anomaly(f"the {proc.name} process died:\n{proc.tail()}")
        return SoakResult(seed, cases, Counter(sc.script.kind for sc in soak.cases), spread, soak.outages, soak.sent, before, soak.stats, soak.anomalies, time.monotonic() - started, slow_workflow_tasks(services.worker.log))
    finally:
        services.stop()
        engine.dispose()


def slow_workflow_tasks(log: Path) -> list[float]:
    """The durations (s) of the workflow tasks the worker's SDK warned about (over 5 s), from its log."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", log.read_text(errors="replace")) if log.exists() else ""
    return [int(ms) / 1000 for ms in re.findall(r"workflow_task_duration=(\d+)", text)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.crash_soak",
        description="Crash soak: open cases spread over every stage; kill -9 the worker and the Temporal dev server at random moments "
        "while decisions are sent, restart them, drive every case to its end, then check statuses, exactly-once decisions, clock times, "
        "the register, the audit chain and (roster cases) the exports. Prints a summary; exit code 1 when there is any anomaly.",
    )
    parser.add_argument("--cases", type=int, default=200, help="open cases to file and spread over the stages (default 200)")
    parser.add_argument("--kills", type=int, default=6, help="kills in all, half of the worker and half of the server (default 6)")
    parser.add_argument("--server-kills", type=int, default=None, help="of --kills, how many kill the server (default: half, rounded down)")
    parser.add_argument("--seed", type=int, default=1, help="seed of every random choice: scripts, stages, service levels, kill moments (default 1)")
    parser.add_argument("--concurrency", type=int, default=12, help="decisions and filings in flight at most (default 12)")
    parser.add_argument("--think", type=float, default=6.0, help="longest pause of a case between two decisions during the kills, seconds (default 6)")
    parser.add_argument("--levels", type=float, nargs=2, default=(5.0, 45.0), metavar=("MIN", "MAX"), help="service levels are drawn from MIN..MAX seconds (default 5 45)")
    parser.add_argument("--roster-cases", action=argparse.BooleanOptionalAction, default=True, help="include cases whose roster the notify stage exports (default: on)")
    parser.add_argument("--data-dir", type=Path, default=None, help="folder for the server's database, the register, logs (default: a new temporary folder, removed when nothing failed)")
    args = parser.parse_args(argv)
    server_kills = args.kills // 2 if args.server_kills is None else args.server_kills
    if not 0 <= server_kills <= args.kills or args.cases < 1:
        parser.error("need --cases >= 1 and 0 <= --server-kills <= --kills")

    from temporalio.runtime import Runtime

    from tests.workflow_env import quiet_runtime

    Runtime.set_default(quiet_runtime(), error_if_already_set=False)  # the SDK's retry warnings while the server is down
    data = args.data_dir or Path(tempfile.mkdtemp(prefix="crash-soak-"))
    result = asyncio.run(
        run_soak(
            data / "data",
            cases=args.cases,
            worker_kills=args.kills - server_kills,
            server_kills=server_kills,
            seed=args.seed,
            concurrency=args.concurrency,
            think=args.think,
            levels=tuple(args.levels),
            roster_cases=args.roster_cases,
            log=lambda line: print(line, file=sys.stderr, flush=True),
        )
    )
    print(result.render())
    if result.anomalies:
        print(f"data folder kept: {data}", file=sys.stderr)
        return 1
    if args.data_dir is None:
        shutil.rmtree(data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

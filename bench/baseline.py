"""The baseline the lifecycle benchmark is measured against, and the floor of a decision.

``EightSteps`` runs 8 sequential no-op activities: the least a workflow of 8 steps costs
the stack (server, worker, persistence). ``Idle`` answers a bare update that runs no
activity: the round trip no decision can beat. Both run on their own task queue beside the
breach worker, with the same worker settings. This module imports only the SDK, since the
workflow sandbox re-imports it.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy

BASELINE_QUEUE = "bench-baseline"


@activity.defn(name="bench.noop")
def noop_step(step: int) -> int:
    return step


@workflow.defn(name="BenchEightSteps")
class EightSteps:
    """8 sequential no-op activities: the least a workflow of 8 steps costs the stack."""

    @workflow.run
    async def run(self) -> int:
        for step in range(8):
            await workflow.execute_activity(noop_step, step, start_to_close_timeout=timedelta(seconds=30), retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)))
        return 8


@workflow.defn(name="BenchIdle")
class Idle:
    """Waits for updates: the round trip of a bare update (no activity) is the floor of a decision's."""

    def __init__(self) -> None:
        self._pings = 0
        self._done = False

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self._done)
        return self._pings

    @workflow.update
    def ping(self) -> int:
        self._pings += 1
        return self._pings

    @workflow.signal
    def finish(self) -> None:
        self._done = True

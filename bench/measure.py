"""What the benchmarks measure with: rank percentiles, CPU seconds of this process and of
the dev server, a gate that keeps a fixed number of tasks in flight, and counts taken from
workflow histories (events, completed activities, local ones included).

Why from histories: a case's activities are the server's record of the work done, the same
for every worker setting, so activity rates of the lifecycle and of the baseline compare.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import time
from collections import Counter
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))  # nearest rank
    return ordered[k]


def _server_pid() -> int | None:
    """The dev server: the `temporal` child of this process."""
    me = str(os.getpid())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = stat.rsplit(")", 1)[1].split()[1]
        if ppid == me and cmd and cmd[0].endswith(b"temporal"):
            return int(entry.name)
    return None


class Cpu:
    """CPU seconds of this process (worker and load generator) and of the dev server."""

    def __init__(self) -> None:
        self.server = _server_pid()
        self.tick = os.sysconf("SC_CLK_TCK")

    def sample(self) -> tuple[float, float]:
        me = resource.getrusage(resource.RUSAGE_SELF)
        server = float("nan")
        if self.server:
            try:
                fields = Path(f"/proc/{self.server}/stat").read_text().rsplit(")", 1)[1].split()
                server = (int(fields[11]) + int(fields[12])) / self.tick
            except OSError:
                pass
        return me.ru_utime + me.ru_stime, server


async def gated(n: int, concurrency: int, one) -> float:
    """Run ``one(0)`` .. ``one(n - 1)`` with at most ``concurrency`` in flight; returns the elapsed seconds."""
    gate = asyncio.Semaphore(concurrency)

    async def guarded(i: int) -> None:
        async with gate:
            await one(i)

    started = time.perf_counter()
    await asyncio.gather(*(guarded(i) for i in range(n)))
    return time.perf_counter() - started


LOCAL_ACTIVITY_MARKER = "core_local_activity"


def _local_activity_type(event) -> str:
    try:
        return json.loads(event.marker_recorded_event_attributes.details["data"].payloads[0].data)["activity_type"]
    except (KeyError, IndexError, ValueError):
        return "local activity"


async def history_counts(client: Client, workflow_ids: list[str]) -> tuple[int, int, Counter]:
    """(events, completed activities, activity types) over the workflows' histories; local activities count too."""
    events = completed = 0
    kinds: Counter = Counter()
    gate = asyncio.Semaphore(20)

    async def one(wid: str) -> None:
        nonlocal events, completed
        async with gate:
            history = await client.get_workflow_handle(wid).fetch_history()
        events += len(history.events)
        for e in history.events:
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
                completed += 1
            elif e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                kinds[e.activity_task_scheduled_event_attributes.activity_type.name] += 1
            elif e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED and e.marker_recorded_event_attributes.marker_name == LOCAL_ACTIVITY_MARKER:
                completed += 1  # a local activity: recorded as a marker, not as activity events
                kinds[_local_activity_type(e) + " (local)"] += 1

    await asyncio.gather(*(one(w) for w in workflow_ids))
    return events, completed, kinds


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"

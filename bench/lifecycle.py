"""Case lifecycle throughput: N cases from intake to closure with signed decisions, against a
baseline of 8 sequential no-op activities per workflow, on one private dev server (started
as `breach up` starts it) with the real worker in this process, in the same run.

The cases are mixed like real life (the three sample reports as templates, with distinct
external ids and current times): mostly low risk (qecp sent to an HHS-internal recipient:
confirm PII, risk assessment, PIM closes), some on the notification path (qecp with a
1,000-row roster: the letters are checked at CMS approval, HHS approves, the case exports
its roster to the mail house and closes notified), a few contractor loops (recon:
the Contracting Officer acknowledges, asks the contractor once, records the answer and
completes the review, then PIM closes) and one major incident (laptop: CISA/OMB, Congress
and the 30-day report approved, the same roster exported, closure). Every decision is signed with an
operator key of this run (starter.signing.sign, an operators file written for the run)
and sent with starter.decisions.submit, the CLI's code path.

Prints, for the lifecycle: cases/s, decisions/s, activities/s (ActivityTaskCompleted
events in the cases' histories over the wall time from the first intake to the last
closure), events and activities per case, decision round trip p50/p99 under that load;
for the baseline (same concurrency, same server, same worker settings): workflows/s and
activities/s; the ratio of activity rates; then, on the otherwise idle stack, decision
round trips one at a time (cases driven one after the other) and, for reference, the
round trip of a bare update that runs no activity. CPU seconds of this process (worker
and load generator) and of the dev server are printed per phase, and the activity mix
per case. Targets (issue #8): activity rate at least 0.5 of the baseline's; decision
round trip p99 under 250 ms on an idle stack.

    python -m bench.lifecycle [--n 300] [--concurrency 20] [--rounds 3] [--idle-cases 30] [--synchronous full|normal] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.worker import Worker

# The baseline workflow below is loaded into the workflow sandbox, which re-imports this
# module: everything else is passed through.
with workflow.unsafe.imports_passed_through():
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from temporalio.api.enums.v1 import EventType
    from temporalio.client import Client, WorkflowHandle

    from bench.common import dev_server
    from bench.notify import MAKE_ROSTER
    from models.decisions import Actor, Decision, Role
    from models.inventory import load_inventory
    from models.operators import Operator, OperatorRoster
    from starter.decisions import DecisionRefused, submit
    from starter.intake import file_report, parse_report
    from starter.signing import public_key_b64, sign, write_roster
    from tests.support import REPORTS
    from worker.main import WORKFLOW_TASK_SLOTS, build_worker, workflow_runner
    from workflows.breach import BreachResponseWorkflow

# What each decision's handler awaits before the update returns (workflows/breach.py), for the breakdown.
AWAITED = {
    "confirm_pii": "load_policy when no contractor; record_decision, sync_case",
    "co_acknowledge": "record_decision, sync_case",
    "co_request_information": "record_decision, sync_case",
    "co_record_contractor_response": "record_decision, sync_case",
    "co_complete_review": "load_policy, record_decision, sync_case",
    "submit_risk_assessment": "assess; low: deliver + audit (PIM); record_decision, sync_case (the letters are checked after it returns)",
    "pim_approve_closure": "audit (closed), record_decision, sync_case",
    "approve_response_plan": "record_decision, sync_case",
    "approve_notification": "record_decision, sync_case",
    "approve_outbound_report": "second approval: deliver + audit; record_decision, sync_case",
}
TARGET_RATIO = 0.5
TARGET_IDLE_P99_MS = 250
NOTIFICATION = {"method": ["first_class_mail"], "notifying_official": "CMS Administrator", "services": ["credit_monitoring"], "languages": ["en"]}
BASELINE_QUEUE = "bench-baseline"
# Refusals that only mean "not yet": the case is still working on its previous step.
TRANSIENT = ("try again in a moment", "is still being drafted", "is still being reported")


# ---------------------------------------------------------------------------- the baseline


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


# ---------------------------------------------------------------------------- operators and reports


class Operators:
    """One person per role ("Bench <role>") with a key made for this run; the operators file lists them."""

    def __init__(self, path: Path) -> None:
        self.keys = {role: Ed25519PrivateKey.generate() for role in Role}
        write_roster(path, OperatorRoster(operators=[Operator(name=self.name(r), roles=[r], public_key=public_key_b64(k)) for r, k in self.keys.items()]))

    @staticmethod
    def name(role: Role) -> str:
        return f"Bench {role.value}"

    def decision(self, case: str, name: str, role: Role, payload: dict) -> Decision:
        d = Decision(decision_id=f"{name}-{uuid.uuid4().hex[:12]}", actor=Actor(name=self.name(role), role=role), payload=payload)
        return sign(d, case=case, decision_name=name, key=self.keys[role])


ROSTER = "bench-roster.csv"  # generated into the run's notification folder (make_roster.py)
ROSTER_ROWS = 1000
TEMPLATES = {
    "low": ("qecp-public-pdfs.json", {"recipient": "hhs_internal"}),
    "notify": ("qecp-public-pdfs.json", {"roster_uri": f"file:{ROSTER}"}),
    "contractor": ("recon-misdirected-email.json", {}),
    "major": ("laptop-claims-major.json", {"roster_uri": f"file:{ROSTER}"}),
}


def report_text(kind: str, run: str, i: int) -> str:
    """A sample report with a distinct external id, reported now, discovered as long before as in the sample."""
    name, changes = TEMPLATES[kind]
    doc = json.loads((REPORTS / name).read_text()) | changes
    reported = datetime.fromisoformat(doc["reported_at"])
    shift = datetime.now(UTC).astimezone(reported.tzinfo) - reported
    for key in ("discovered_at", "reported_at", "occurred_from", "occurred_to"):
        if doc.get(key):
            doc[key] = (datetime.fromisoformat(doc[key]) + shift).isoformat()
    doc["external_id"] = f"BENCH-{run}-{kind}-{i:05d}"
    return json.dumps(doc)


def mix(n: int) -> list[str]:
    """Mostly low risk, about a fifth on the notification path, about one in eleven a contractor loop, one major incident."""
    contractor = max(1, n // 11)
    notify = max(1, n // 5)
    kinds = ["major"] + ["contractor"] * contractor + ["notify"] * notify
    kinds += ["low"] * (n - len(kinds))
    # Interleave so that every kind runs throughout, not in blocks.
    return sorted(kinds[:n], key=lambda k, c=Counter(): (c.update([k]) or c[k]) / kinds.count(k))


# ---------------------------------------------------------------------------- driving one case


@dataclass
class Stats:
    round_trips: list[float] = field(default_factory=list)  # seconds, accepted decisions
    by_name: dict[str, list[float]] = field(default_factory=dict)
    decisions: int = 0
    retried: int = 0  # refusals meaning "not yet" (TRANSIENT), retried after 20 ms
    polls: int = 0  # queries while waiting for intake to finish
    workflow_ids: list[str] = field(default_factory=list)


R = Role


async def decide(handle: WorkflowHandle, ops: Operators, stats: Stats, name: str, role: Role, payload: dict | None = None) -> str:
    """Send one signed decision; returns the stage the case is in afterwards."""
    for _ in range(200):
        decision = ops.decision(handle.id, name, role, payload or {})
        started = time.perf_counter()
        try:
            outcome = await submit(handle, name, decision)
        except DecisionRefused as exc:
            if any(w in str(exc) for w in TRANSIENT):
                stats.retried += 1
                await asyncio.sleep(0.02)
                continue
            raise RuntimeError(f"{handle.id}: {name} refused: {exc}") from None
        elapsed = time.perf_counter() - started
        stats.round_trips.append(elapsed)
        stats.by_name.setdefault(name, []).append(elapsed)
        stats.decisions += 1
        return outcome.stage
    raise RuntimeError(f"{handle.id}: {name} still refused after 200 tries")


async def run_case(client: Client, settings, inventory, ops: Operators, stats: Stats, kind: str, run: str, i: int) -> None:
    filed = await file_report(client, settings, parse_report(report_text(kind, run, i)), inventory)
    assert filed.created, filed
    handle = client.get_workflow_handle(filed.workflow_id)
    stats.workflow_ids.append(filed.workflow_id)
    await asyncio.sleep(0.2)  # intake runs six activities; then look every 50 ms
    while (await handle.query(BreachResponseWorkflow.details)).stage.value == "report":
        stats.polls += 1
        await asyncio.sleep(0.05)

    def d(name: str, role: Role, payload: dict | None = None):
        return decide(handle, ops, stats, name, role, payload)

    if kind == "major":
        await d("approve_outbound_report", R.hhs_brt, {"kind": "cisa_omb"})
    stage = await d("confirm_pii", R.cms_sop, {"is_pii": True, "federal_data": True})
    if stage == "contractor_review":
        await d("co_acknowledge", R.contracting_officer)
        if kind == "contractor":
            await d("co_request_information", R.contracting_officer, {"request": "mail gateway logs and the recipient's deletion attestation"})
            await d("co_record_contractor_response", R.contracting_officer, {"summary": "logs and attestation received", "artifacts": ["INC-55120"]})
        stage = await d("co_complete_review", R.contracting_officer, {"contractor_cooperated": True, "obligations": "FAR 52.224-3 breach clause"})
    stage = await d("submit_risk_assessment", R.cms_sop, {"answers": {}})
    if kind == "major":
        await d("approve_outbound_report", R.hhs_brt, {"kind": "congress_oig"})
        await d("approve_outbound_report", R.hhs_asl, {"kind": "congress_oig"})
    if stage == "pim_review":
        stage = await d("pim_approve_closure", R.hhs_pim)
    else:
        await d("approve_response_plan", R.cms_brt)
        await d("approve_notification", R.hhs_saop, NOTIFICATION)
        stage = await exported(handle, stats)
    if kind == "major":
        await d("approve_outbound_report", R.hhs_brt, {"kind": "supplemental_30d"})
        stage = await d("approve_outbound_report", R.hhs_asl, {"kind": "supplemental_30d"})
    if stage != "closed":
        raise RuntimeError(f"{handle.id} ({kind}) ended in stage {stage}, not closed")
    result = await handle.result()
    if result not in ("closed_low_risk", "notified"):
        raise RuntimeError(f"{handle.id} ({kind}) closed as {result}")


async def exported(handle: WorkflowHandle, stats: Stats) -> str:
    """Wait while the case exports its roster (the worker's work, no decision); returns the stage after."""
    while True:
        view = await handle.query(BreachResponseWorkflow.details)
        if view.individuals_notified or view.stage.value == "closed":
            return view.stage.value
        if any(f.kind == "notification_export_failed" for f in view.findings):
            raise RuntimeError(f"{handle.id}: the export failed: {view.findings[-1].detail}")
        stats.polls += 1
        await asyncio.sleep(0.05)


# ---------------------------------------------------------------------------- measuring


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


async def main(n: int, concurrency: int, rounds: int, idle_cases: int, synchronous: str, database_url: str | None) -> None:
    run = uuid.uuid4().hex[:6]
    overrides = {"sqlite_synchronous": synchronous} | ({"database_url": database_url} if database_url else {})
    async with dev_server(**overrides) as (settings, client):
        settings.notify_path.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, str(MAKE_ROSTER), str(ROSTER_ROWS), "--out", str(settings.notify_path / ROSTER)], check=True)
        ops = Operators(settings.operators_path)
        inventory = load_inventory(settings.inventory_path)
        cpu = Cpu()
        kinds = mix(n)
        base_ids = [f"base-{run}-{i}" for i in range(n)]
        stats = Stats()
        life_wall = base_wall = 0.0
        life_cpu = [0.0, 0.0]
        base_cpu = [0.0, 0.0]
        with ThreadPoolExecutor(max_workers=16, thread_name_prefix="activity") as pool, ThreadPoolExecutor(max_workers=16, thread_name_prefix="baseline") as base_pool:
            baseline_worker = Worker(client, task_queue=BASELINE_QUEUE, workflows=[EightSteps, Idle], activities=[noop_step], activity_executor=base_pool, workflow_runner=workflow_runner(),
                                     max_concurrent_workflow_tasks=WORKFLOW_TASK_SLOTS)  # as the breach worker
            async with build_worker(client, settings, pool), baseline_worker:
                # Warm-up (connections, sandbox, caches): a few cases and baseline workflows, not counted.
                warm = Stats()
                await gated(4, 4, lambda i: run_case(client, settings, inventory, ops, warm, ["low", "notify", "contractor", "low"][i], run + "w", i))
                await gated(4, 4, lambda i: client.execute_workflow(EightSteps.run, id=f"warm-{run}-{i}", task_queue=BASELINE_QUEUE))

                # 1 and 2, alternating in rounds so that neither gets the emptier database or the quieter machine:
                # the lifecycle under load, then as many baseline workflows at the same concurrency.
                bounds = [round(r * n / rounds) for r in range(rounds + 1)]
                for lo, hi in itertools.pairwise(bounds):
                    c0 = cpu.sample()
                    life_wall += await gated(hi - lo, concurrency, lambda i, lo=lo: run_case(client, settings, inventory, ops, stats, kinds[lo + i], run, lo + i))
                    c1 = cpu.sample()
                    base_wall += await gated(hi - lo, concurrency, lambda i, lo=lo: client.execute_workflow(EightSteps.run, id=base_ids[lo + i], task_queue=BASELINE_QUEUE))
                    c2 = cpu.sample()
                    for k in (0, 1):
                        life_cpu[k] += c1[k] - c0[k]
                        base_cpu[k] += c2[k] - c1[k]

                # 3. The idle stack: decisions one at a time, cases one after the other; then bare updates.
                idle = Stats()
                idle_kinds = mix(idle_cases)
                for i in range(idle_cases):
                    await run_case(client, settings, inventory, ops, idle, idle_kinds[i], run + "i", i)
                ping_handle = await client.start_workflow(Idle.run, id=f"idle-{run}", task_queue=BASELINE_QUEUE)
                pings = []
                for _ in range(max(100, len(idle.round_trips))):
                    started = time.perf_counter()
                    await ping_handle.execute_update(Idle.ping)
                    pings.append(time.perf_counter() - started)
                await ping_handle.signal(Idle.finish)

            life_events, life_acts, life_kinds = await history_counts(client, stats.workflow_ids)
            base_events, base_acts, _ = await history_counts(client, base_ids)

    life_rate, base_rate = life_acts / life_wall, base_acts / base_wall
    print(f"dev server sqlite synchronous={synchronous}, register {'PostgreSQL' if database_url else 'SQLite'}, n={n}, concurrency={concurrency}, {rounds} alternating rounds, worker in-process (16 activity threads)")
    print(f"mix: {dict(Counter(kinds))}")
    print()
    print(f"lifecycle: {n} cases to closure in {life_wall:6.1f} s (sum of the rounds)")
    print(f"  cases/s:                {n / life_wall:8.2f}")
    print(f"  decisions/s:            {stats.decisions / life_wall:8.1f}   ({stats.decisions} decisions, {stats.decisions / n:.1f} per case; {stats.retried} 'not yet' refusals retried, {stats.polls} intake polls)")
    print(f"  activities/s:           {life_rate:8.1f}   ({life_acts} completed, {life_acts / n:.1f} per case; {life_events / n:.0f} history events per case)")
    print(f"  decision round trip:    p50 {ms(percentile(stats.round_trips, 50))}   p99 {ms(percentile(stats.round_trips, 99))}   (under load: {concurrency} cases in flight)")
    print(f"  CPU: this process {life_cpu[0]:6.1f} s, dev server {life_cpu[1]:6.1f} s  ({life_cpu[1] / max(life_acts, 1) * 1000:.1f} ms server CPU per activity)")
    print(f"baseline: {n} workflows of 8 sequential no-op activities in {base_wall:6.1f} s (sum of the rounds)")
    print(f"  workflows/s:            {n / base_wall:8.2f}")
    print(f"  activities/s:           {base_rate:8.1f}   ({base_acts} completed; {base_events / n:.0f} history events per workflow)")
    print(f"  CPU: this process {base_cpu[0]:6.1f} s, dev server {base_cpu[1]:6.1f} s  ({base_cpu[1] / max(base_acts, 1) * 1000:.1f} ms server CPU per activity)")
    ratio = life_rate / base_rate
    print(f"ratio of activity rates lifecycle / baseline: {ratio:6.2f}   (target >= {TARGET_RATIO}: {'met' if ratio >= TARGET_RATIO else 'MISSED'})")
    print()
    p99 = percentile(idle.round_trips, 99)
    print(f"idle stack, one decision at a time ({idle_cases} cases, {len(idle.round_trips)} decisions):")
    print(f"  decision round trip:    p50 {ms(percentile(idle.round_trips, 50))}   p99 {ms(p99)}   max {ms(max(idle.round_trips))}   (target p99 < {TARGET_IDLE_P99_MS} ms: {'met' if p99 * 1000 < TARGET_IDLE_P99_MS else 'MISSED'})")
    print(f"  bare update (no activity), for reference: p50 {ms(percentile(pings, 50))}   p99 {ms(percentile(pings, 99))}")
    print("  by decision (count, p50, max; activities the handler awaits in brackets):")
    for name, values in sorted(idle.by_name.items(), key=lambda kv: -statistics.median(kv[1])):
        print(f"    {name:28s} {len(values):4d}  p50 {ms(statistics.median(values))}  max {ms(max(values))}  [{AWAITED.get(name, '')}]")
    print()
    print("activities per case (scheduled, lifecycle):")
    for name, count in life_kinds.most_common():
        print(f"  {name:36s} {count / n:6.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="cases (and baseline workflows)")
    parser.add_argument("--concurrency", type=int, default=20, help="cases (and baseline workflows) in flight at once")
    parser.add_argument("--rounds", type=int, default=3, help="lifecycle and baseline alternate in this many rounds")
    parser.add_argument("--idle-cases", type=int, default=30, help="cases driven one at a time on the idle stack")
    parser.add_argument("--synchronous", choices=["full", "normal"], default="full", help="the dev server's SQLite synchronous pragma (as BREACH_SQLITE_SYNCHRONOUS)")
    parser.add_argument("--database-url", default=None, help="the register (default: SQLite in the run's data folder, as `breach up`)")
    args = parser.parse_args()
    asyncio.run(main(args.n, args.concurrency, args.rounds, args.idle_cases, args.synchronous, args.database_url))

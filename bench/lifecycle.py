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

The parts: ``bench.cases`` (the mix, signed decisions, one case driven to closure),
``bench.baseline`` (the no-op workflows), ``bench.measure`` (percentiles, CPU, history
counts); this module runs the phases and prints the figures.

    python -m bench.lifecycle [--n 300] [--concurrency 20] [--rounds 3] [--idle-cases 30] [--synchronous full|normal] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from temporalio.worker import Worker

from bench.baseline import BASELINE_QUEUE, EightSteps, Idle, noop_step
from bench.cases import ROSTER, ROSTER_ROWS, Operators, Stats, mix, run_case
from bench.common import dev_server
from bench.measure import Cpu, gated, history_counts, ms, percentile
from bench.notify import MAKE_ROSTER
from activities.notify.roster import rosters_folder
from models.inventory import load_inventory
from worker.main import WORKFLOW_TASK_SLOTS, build_worker, workflow_runner

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


async def main(n: int, concurrency: int, rounds: int, idle_cases: int, synchronous: str, database_url: str | None) -> None:
    run = uuid.uuid4().hex[:6]
    overrides = {"sqlite_synchronous": synchronous} | ({"database_url": database_url} if database_url else {})
    async with dev_server(**overrides) as (settings, client):
        rosters = rosters_folder(settings.notify_path)
        rosters.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, str(MAKE_ROSTER), str(ROSTER_ROWS), "--out", str(rosters / ROSTER)], check=True)
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

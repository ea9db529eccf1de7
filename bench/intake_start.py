"""Intake start rate: N cases through the `breach report` code path (parse, validate, start
with search attributes) against N bare `client.start_workflow` calls of a no-op workflow,
on the same dev server in the same run. Prints both rates and their ratio.

    python -m bench.intake_start [--n 1000] [--concurrency 20] [--synchronous full|normal]
"""

from __future__ import annotations

import argparse
import asyncio
import json

from temporalio import workflow

from bench.common import dev_server
from bench.measure import gated
from models.inventory import load_inventory
from starter.intake.filing import file_report, parse_report
from tests.support import REPORTS


@workflow.defn(name="BenchNoop")
class Noop:
    @workflow.run
    async def run(self) -> None:
        return None


async def main(n: int, concurrency: int, synchronous: str) -> None:
    template = json.loads((REPORTS / "laptop-claims-major.json").read_text())
    async with dev_server(sqlite_synchronous=synchronous) as (settings, client):
        inventory = load_inventory(settings.inventory_path)

        async def intake(i: int) -> None:
            text = json.dumps({**template, "external_id": f"BENCH-{i}"})
            filed = await file_report(client, settings, parse_report(text), inventory)
            assert filed.created

        async def bare(i: int) -> None:
            await client.start_workflow(Noop.run, id=f"noop-{i}", task_queue="bench-noop")

        await gated(20, concurrency, lambda i: bare(10_000 + i))  # warm-up: connections, caches
        intake_rate = n / await gated(n, concurrency, intake)
        bare_rate = n / await gated(n, concurrency, bare)
    print(f"dev server sqlite synchronous={synchronous}, n={n}, concurrency={concurrency}")
    print(f"intake (breach report path): {intake_rate:8.1f} cases/s")
    print(f"bare start_workflow (no-op): {bare_rate:8.1f} starts/s")
    print(f"ratio intake / bare:         {intake_rate / bare_rate:8.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--synchronous", choices=["full", "normal"], default="full")
    args = parser.parse_args()
    asyncio.run(main(args.n, args.concurrency, args.synchronous))

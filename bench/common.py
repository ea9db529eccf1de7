"""Benchmark support: a private dev server started exactly as `breach up` starts it."""

from __future__ import annotations

import contextlib
import socket
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from temporalio.client import Client

from starter.stack import _stop_process, start_dev_server, wait_for_server
from worker.config import Settings
from worker.main import ensure_search_attributes


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.asynccontextmanager
async def dev_server(**overrides) -> AsyncIterator[tuple[Settings, Client]]:
    with tempfile.TemporaryDirectory(prefix="breach-bench-") as tmp:
        settings = Settings(data_dir=Path(tmp), temporal_port=_free_port(), ui_port=_free_port(), codec_port=_free_port(), **overrides)
        proc = await start_dev_server(settings)
        try:
            client = await wait_for_server(settings, proc)
            await ensure_search_attributes(client, settings.temporal_namespace)
            yield settings, client
        finally:
            await _stop_process(proc)

"""`breach up`, `breach worker`, `breach codec-server`, `breach payload-key rotate`: running
the service and its keys."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn

from activities.db import make_engine
from starter.cli.console import client, fail, out
from starter.codec_server import codec_app
from starter.stack import StackError, run_stack
from worker import keys as keyring
from worker.config import Settings
from worker.converter import data_converter
from worker.logs import configure as configure_logs
from worker.main import build_worker, ensure_search_attributes
from worker.private_files import tighten
from worker.reconcile import reconcile_forever

payload_key_app = typer.Typer(help="Payload encryption keys.", no_args_is_help=True)


def _settings(**overrides: Any) -> Settings:
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def up(
    data_dir: Annotated[Path | None, typer.Option(help="Data folder (BREACH_DATA_DIR, default ./.breach).")] = None,
    temporal_address: Annotated[str | None, typer.Option(help="Use this Temporal frontend instead of starting the dev server.")] = None,
    temporal_port: Annotated[int | None, typer.Option(help="gRPC port of the embedded dev server (default 7233).")] = None,
    ui_port: Annotated[int | None, typer.Option(help="Web UI port (default 8233).")] = None,
    codec_port: Annotated[int | None, typer.Option(help="Codec server port (default 8234).")] = None,
    api_port: Annotated[int | None, typer.Option(help="HTTP intake API port (default 8235).")] = None,
) -> None:
    """Run the whole service: Temporal dev server + Web UI, codec server, worker, intake (HTTP API, inbox). Ctrl-C stops it.

    Example: breach up --data-dir /srv/breach
    """
    settings = _settings(data_dir=data_dir, temporal_address=temporal_address, temporal_port=temporal_port, ui_port=ui_port, codec_port=codec_port, api_port=api_port)
    configure_logs(settings.log_format)
    try:
        asyncio.run(run_stack(settings))
    except (StackError, keyring.KeySettingError, FileNotFoundError) as exc:
        raise fail(str(exc)) from None


def worker() -> None:
    """Run only the worker against BREACH_TEMPORAL_ADDRESS (for scaled deployments).

    Example: BREACH_TEMPORAL_ADDRESS=temporal:7233 breach worker
    """
    settings = Settings()
    configure_logs(settings.log_format)

    async def main() -> None:
        temporal = await client(settings, serves=True)  # a missing key file stops here, before anything is touched
        tighten(settings.private_paths)
        await ensure_search_attributes(temporal, settings.temporal_namespace)
        with ThreadPoolExecutor(max_workers=16) as pool:
            every = timedelta(minutes=settings.reconcile_minutes)
            await asyncio.gather(build_worker(temporal, settings, pool).run(), reconcile_forever(temporal, make_engine(settings.register_url), every, asyncio.Event()))

    asyncio.run(main())


def codec_server(host: Annotated[str, typer.Option(help="Address to bind; keep it private.")] = "127.0.0.1") -> None:
    """Serve the payload codec for the Web UI on BREACH_CODEC_PORT.

    Example: BREACH_CODEC_PORT=8234 breach codec-server
    """
    settings = Settings()
    try:
        codec = data_converter(settings).payload_codec
    except keyring.KeySettingError as exc:
        raise fail(str(exc)) from None
    uvicorn.run(codec_app(codec, settings), host=host, port=settings.codec_port, log_level="warning")


@payload_key_app.command("rotate")
def rotate_payload_key() -> None:
    """Add a new current payload key to the key file; older keys stay for reading history.

    Restart the worker, codec server and CLI users afterwards so they pick up the new key.

    Example: breach payload-key rotate
    """
    settings = Settings()
    if settings.payload_keys is not None:
        raise fail("keys come from BREACH_PAYLOAD_KEYS; rotate by prepending a new id:key entry there")
    ring = keyring.rotate(settings.key_path)
    out.print(f"current key: {ring.current_id} ({len(ring.keys)} key(s) in {settings.key_path})")

"""`breach`: the operators' command line.

Every command reads the same ``BREACH_*`` settings as the worker, talks to Temporal
through the same encrypted data converter, and turns expected failures into one
readable line and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from temporalio.client import Client
from temporalio.service import RPCError

from models import search
from models.inventory import load_inventory
from starter.intake import InvalidReport, file_report, parse_report
from starter.risk_cmd import risk
from worker import keys as keyring
from worker.config import Settings
from worker.logs import configure as configure_logs
from worker.main import connect
from workflows.breach import BreachResponseWorkflow

app = typer.Typer(help="Breach response orchestration on Temporal: run the service, file reports, follow cases.", no_args_is_help=True)
payload_key_app = typer.Typer(help="Payload encryption keys.", no_args_is_help=True)
app.add_typer(payload_key_app, name="payload-key")
app.command("risk")(risk)

out = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


def _settings(**overrides: Any) -> Settings:
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


async def _client(settings: Settings) -> Client:
    try:
        return await asyncio.wait_for(connect(settings), timeout=10)
    except (RuntimeError, TimeoutError, RPCError) as exc:
        raise fail(f"cannot reach Temporal at {settings.address} ({exc}); is `breach up` running?", 3) from None
    except keyring.KeySettingError as exc:
        raise fail(str(exc)) from None


def workflow_id(case: str) -> str:
    """Accept a breach id or a workflow id."""
    return case if case.startswith("breach-") else f"breach-{case}"


@app.command()
def up(
    data_dir: Annotated[Path | None, typer.Option(help="Data folder (BREACH_DATA_DIR, default ./.breach).")] = None,
    temporal_address: Annotated[str | None, typer.Option(help="Use this Temporal frontend instead of starting the dev server.")] = None,
    temporal_port: Annotated[int | None, typer.Option(help="gRPC port of the embedded dev server (default 7233).")] = None,
    ui_port: Annotated[int | None, typer.Option(help="Web UI port (default 8233).")] = None,
    codec_port: Annotated[int | None, typer.Option(help="Codec server port (default 8234).")] = None,
) -> None:
    """Run the whole service: Temporal dev server + Web UI, codec server, worker. Ctrl-C stops it.

    Example: breach up --data-dir /srv/breach
    """
    from starter.stack import StackError, run_stack

    settings = _settings(data_dir=data_dir, temporal_address=temporal_address, temporal_port=temporal_port, ui_port=ui_port, codec_port=codec_port)
    configure_logs(settings.log_format)
    try:
        asyncio.run(run_stack(settings))
    except (StackError, keyring.KeySettingError, FileNotFoundError) as exc:
        raise fail(str(exc)) from None


@app.command()
def worker() -> None:
    """Run only the worker against BREACH_TEMPORAL_ADDRESS (for scaled deployments)."""
    from concurrent.futures import ThreadPoolExecutor

    from worker.main import build_worker, ensure_search_attributes

    settings = Settings()
    configure_logs(settings.log_format)

    async def main() -> None:
        client = await _client(settings)
        await ensure_search_attributes(client, settings.temporal_namespace)
        with ThreadPoolExecutor(max_workers=16) as pool:
            await build_worker(client, settings, pool).run()

    asyncio.run(main())


@app.command("codec-server")
def codec_server(host: Annotated[str, typer.Option(help="Address to bind; keep it private.")] = "127.0.0.1") -> None:
    """Serve the payload codec for the Web UI on BREACH_CODEC_PORT."""
    import uvicorn

    from starter.codec_server import codec_app
    from worker.converter import data_converter

    settings = Settings()
    try:
        codec = data_converter(settings).payload_codec
    except keyring.KeySettingError as exc:
        raise fail(str(exc)) from None
    uvicorn.run(codec_app(codec, settings), host=host, port=settings.codec_port, log_level="warning")


@app.command()
def report(
    file: Annotated[str, typer.Argument(help="Report JSON file (intake contract v1), or - for standard input.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """File a breach report: validate it, start its case, print the breach id and the Web UI link.

    Filing the same source + external_id again prints the existing case and starts nothing.

    Example: breach report shared/fixtures/reports/laptop-claims-major.json
    """
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text()
    except OSError as exc:
        raise fail(f"cannot read {file}: {exc.strerror}") from None
    try:
        parsed = parse_report(text)
    except InvalidReport as exc:
        err.print(f"[bold red]invalid report[/] ({file}); nothing was started:", highlight=False)
        for name, message in exc.problems:
            err.print(f"  {name}: {message}", highlight=False)
        raise typer.Exit(2) from None
    settings = Settings()

    async def main():
        client = await _client(settings)
        return await file_report(client, settings, parsed, load_inventory(settings.inventory_path))

    filed = asyncio.run(main())
    if json_out:
        out.print_json(data=filed.__dict__)
        return
    verb = "filed" if filed.created else "already filed; existing case"
    out.print(f"{verb}: breach id [bold]{filed.breach_id}[/]", highlight=False)
    out.print(f"workflow id: {filed.workflow_id}", highlight=False)
    out.print(f"web ui: {filed.ui_url}", highlight=False)
    for flag in filed.flags:
        err.print(f"[yellow]flag:[/] {flag}", highlight=False)


def _fmt_time(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "-"


@app.command("list")
def list_cases(
    stage: Annotated[str | None, typer.Option(help="Only cases in this stage.")] = None,
    open_only: Annotated[bool, typer.Option("--open", help="Only running cases.")] = False,
    limit: Annotated[int, typer.Option(help="At most this many cases.")] = 100,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List breach cases from Temporal visibility (newest first).

    Example: breach list --stage confirm_pii
    """
    query = f"WorkflowType = '{BreachResponseWorkflow.__name__}'"
    if stage:
        query += f" AND BreachStage = '{stage}'"
    if open_only:
        query += " AND ExecutionStatus = 'Running'"
    settings = Settings()

    async def main() -> list[dict]:
        client = await _client(settings)
        rows = []
        async for wf in client.list_workflows(query, limit=limit):
            sa = wf.typed_search_attributes
            rows.append(
                {
                    "workflow_id": wf.id,
                    "status": wf.status.name.lower() if wf.status else "unknown",
                    "stage": sa.get(search.BREACH_STAGE),
                    "system_id": sa.get(search.SYSTEM_ID),
                    "individuals": sa.get(search.AFFECTED_INDIVIDUALS),
                    "next_deadline": sa.get(search.NEXT_DEADLINE),
                    "started": wf.start_time,
                }
            )
        return rows

    rows = asyncio.run(main())
    if json_out:
        out.print_json(json.dumps(rows, default=str))
        return
    table = Table("workflow id", "status", "stage", "system", "individuals", "next deadline", "started")
    for r in rows:
        table.add_row(r["workflow_id"], r["status"], r["stage"] or "-", r["system_id"] or "-", str(r["individuals"] if r["individuals"] is not None else "-"), _fmt_time(r["next_deadline"]), _fmt_time(r["started"]))
    out.print(table)
    out.print(f"{len(rows)} case(s)")


@app.command()
def show(
    case: Annotated[str, typer.Argument(help="Breach id or workflow id.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show one case: stage, what it awaits, clocks with due and remaining time, findings.

    Example: breach show api-CSIRC-INC-2026-88120
    """
    settings = Settings()

    async def main():
        client = await _client(settings)
        try:
            return await client.get_workflow_handle(workflow_id(case)).query(BreachResponseWorkflow.details)
        except RPCError as exc:
            raise fail(f"no case {case!r}: {exc.message}") from None

    view = asyncio.run(main())
    if json_out:
        out.print_json(view.model_dump_json())
        return
    from workflows.details import render_details

    out.print(render_details(view, datetime.now(UTC)), highlight=False)
    out.print(f"\nweb ui: {settings.ui_link(view.workflow_id)}", highlight=False)


@app.command()
def exercise(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML (see examples/exercises/).", exists=True, dir_okay=False)],
    json_out: Annotated[bool, typer.Option("--json", help="Print the timeline and summary as JSON (the stable shape of DECISIONS.md).")] = False,
    history: Annotated[Path | None, typer.Option(help="Also save the workflow history JSON here (for replay tests).")] = None,
) -> None:
    """Run a tabletop exercise: the real workflow and activities in accelerated time; print the timeline.

    Needs no running service: it starts Temporal's time-skipping test server for the run.

    Example: breach exercise examples/exercises/notify-cms-rejection.yaml
    """
    import tempfile

    from pydantic import ValidationError

    from starter.exercise import load_scenario, render_text, run_exercise

    try:
        loaded, report = load_scenario(scenario)
    except (ValidationError, ValueError, OSError) as exc:
        raise fail(f"scenario {scenario} is not valid:\n{exc}") from None
    with tempfile.TemporaryDirectory(prefix="breach-exercise-") as scratch:
        result = asyncio.run(run_exercise(loaded, report, Path(scratch), history_out=history))
    if json_out:
        out.print_json(result.model_dump_json())
    else:
        print(render_text(result))


@payload_key_app.command("rotate")
def rotate_payload_key() -> None:
    """Add a new current payload key to the key file; older keys stay for reading history.

    Restart the worker, codec server and CLI users afterwards so they pick up the new key.
    """
    settings = Settings()
    if settings.payload_keys is not None:
        raise fail("keys come from BREACH_PAYLOAD_KEYS; rotate by prepending a new id:key entry there")
    ring = keyring.rotate(settings.key_path)
    out.print(f"current key: {ring.current_id} ({len(ring.keys)} key(s) in {settings.key_path})")


def main() -> None:
    """Console entry point of `breach`.

    Once a command has finished, exit without interpreter finalization: temporalio's Rust
    bridge threads can abort CPython's teardown of a short-lived client process with
    "Fatal Python error: PyGILState_Release" (temporalio/sdk-python#300), which would turn
    a successful command into exit code -6.
    """
    try:
        app()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    else:
        code = 0
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)

"""`breach`: the operators' command line.

Every command reads the same ``BREACH_*`` settings as the worker, talks to Temporal
through the same encrypted data converter, and turns expected failures into one
readable line and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from temporalio.client import Client
from temporalio.service import RPCError

from models.inventory import load_inventory
from starter.intake import InvalidReport, file_report, parse_report
from starter.risk_cmd import risk
from worker import keys as keyring
from worker.config import Settings
from worker.logs import configure as configure_logs
from worker.main import connect

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


def run_case_update(case: str, update: Any) -> None:
    """Send an unsigned maintenance update (no decision) to a case; print its answer or the refusal."""
    from temporalio.client import WorkflowUpdateFailedError

    async def send() -> str:
        client = await _client(Settings())
        try:
            return await client.get_workflow_handle(workflow_id(case)).execute_update(update)
        except RPCError as exc:
            raise fail(f"no open case {case!r}: {exc.message}") from None

    try:
        out.print(asyncio.run(send()), highlight=False)
    except WorkflowUpdateFailedError as exc:
        raise fail(f"refused: {getattr(exc.cause, 'message', exc.cause)}", 1) from None


@app.command()
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
    from starter.stack import StackError, run_stack

    settings = _settings(data_dir=data_dir, temporal_address=temporal_address, temporal_port=temporal_port, ui_port=ui_port, codec_port=codec_port, api_port=api_port)
    configure_logs(settings.log_format)
    try:
        asyncio.run(run_stack(settings))
    except (StackError, keyring.KeySettingError, FileNotFoundError) as exc:
        raise fail(str(exc)) from None


@app.command()
def worker() -> None:
    """Run only the worker against BREACH_TEMPORAL_ADDRESS (for scaled deployments).

    Example: BREACH_TEMPORAL_ADDRESS=temporal:7233 breach worker
    """
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
    """Serve the payload codec for the Web UI on BREACH_CODEC_PORT.

    Example: BREACH_CODEC_PORT=8234 breach codec-server
    """
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


@app.command()
def exercise(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML (see examples/exercises/).", exists=True, dir_okay=False)],
    json_out: Annotated[bool, typer.Option("--json", help="Print the timeline and summary as JSON (the stable shape of DECISIONS.md).")] = False,
    history: Annotated[Path | None, typer.Option(help="Also save the workflow history JSON here (for replay tests).")] = None,
    roster: Annotated[Path | None, typer.Option(help="Roster CSV for the report's roster_uri: the case exports it to the mail house after HHS approval. Without one (here or in the scenario) the roster_uri is dropped and the Notifying Official records the mailing.", exists=True, dir_okay=False)] = None,
    keep: Annotated[Path | None, typer.Option(help="Keep the exercise's files here (letters, PDF previews, mail-house export, register, outbox) instead of a temporary folder; must be empty or new.", file_okay=False)] = None,
) -> None:
    """Run a tabletop exercise: the real workflow and activities in accelerated time; print the timeline.

    Needs no running service: it starts Temporal's time-skipping test server for the run.

    Examples:
      breach exercise examples/exercises/notify-cms-rejection.yaml
      breach exercise examples/exercises/laptop-roster-export.yaml --roster roster-claims.csv --keep ./laptop-run
    """
    import tempfile

    from pydantic import ValidationError

    from starter.exercise import load_scenario, render_text, run_exercise

    try:
        loaded, report = load_scenario(scenario)
    except (ValidationError, ValueError, OSError) as exc:
        raise fail(f"scenario {scenario} is not valid:\n{exc}") from None
    if keep is not None and keep.exists() and any(keep.iterdir()):
        raise fail(f"--keep {keep}: the folder is not empty; give a new or empty one")
    with tempfile.TemporaryDirectory(prefix="breach-exercise-") as scratch:
        folder = keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        try:
            result = asyncio.run(run_exercise(loaded, report, folder.resolve(), history_out=history, roster=roster))
        except (FileNotFoundError, ValueError, TimeoutError) as exc:
            raise fail(str(exc)) from None
    if json_out:
        out.print_json(result.model_dump_json())
    else:
        print(render_text(result))


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


from starter.intake_cmds import import_reports, token_app  # noqa: E402 - intake commands: import, token
app.command("import")(import_reports)
app.add_typer(token_app, name="token")
from starter.audit_cmd import audit_app  # noqa: E402 - audit trail, tracking reports, timeline chart
from starter.chart import chart  # noqa: E402
from starter.tracking_cmd import tracking_app  # noqa: E402
app.add_typer(audit_app, name="audit")
app.add_typer(tracking_app, name="tracking")
app.command("chart")(chart)

from starter.cases_cmd import list_cases, show, watch  # noqa: E402
from starter.decide_cmd import register as register_decisions  # noqa: E402
from starter.notify_cmd import letter, notify_retry, returned_mail  # noqa: E402 - notification: letters on demand, returned mail, retry
from starter.operator_cmd import operator_app  # noqa: E402

app.command("list")(list_cases)
app.command()(show)
app.command()(watch)
register_decisions(app)
app.add_typer(operator_app, name="operator")
app.command("letter")(letter)
app.command("returned-mail")(returned_mail)
app.command("notify-retry")(notify_retry)


def main() -> None:
    """Console entry point of `breach`.

    Once a command has finished, exit without interpreter finalization: temporalio's Rust
    bridge threads can abort CPython's teardown of a short-lived client process with
    "Fatal Python error: PyGILState_Release" (temporalio/sdk-python#300), which would turn
    a successful command into exit code -6.
    """
    configure_logs(os.environ.get("BREACH_LOG_FORMAT", "console"))  # to stderr; `breach up` and `breach worker` configure again from Settings
    try:
        app()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    else:
        code = 0
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)

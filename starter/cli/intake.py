"""`breach report` (one report), `breach import` (a batch) and `breach token ...` (API tokens of
integrations): the intake routes of the command line (starter/intake/)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from models.intake import Source
from models.inventory import load_inventory
from starter.cli.console import client, err, fail, out
from starter.intake.batch import BatchError, RowResult, count_rows, detect_format, import_rows, read_rows, summarize
from starter.intake.filing import InvalidReport, file_report, parse_report
from starter.intake.tokens import TokenError, TokenStore
from worker.config import Settings

token_app = typer.Typer(help="Bearer tokens of the HTTP intake API, one per integration.", no_args_is_help=True)


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
        temporal = await client(settings)
        return await file_report(temporal, settings, parsed, load_inventory(settings.inventory_path))

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


def _row_line(r: RowResult) -> str:
    if r.status == "invalid":
        return f"row {r.row}: [red]invalid[/]: " + "; ".join(f"{f}: {m}" for f, m in r.problems)
    if r.status == "not_filed":
        return f"row {r.row}: [yellow]not filed[/] ({r.breach_id}): {r.error}"
    flags = "".join(f"\n    [yellow]flag:[/] {f}" for f in r.flags)
    return f"row {r.row}: {r.status} {r.breach_id}{flags}"


def import_reports(
    file: Annotated[Path, typer.Argument(help="Reports as JSON Lines (.jsonl) or CSV (.csv); see the README for the CSV columns.", exists=True, dir_okay=False)],
    json_out: Annotated[bool, typer.Option("--json", help="Print every row's result and the summary as JSON.")] = False,
    fmt: Annotated[str | None, typer.Option("--format", help="jsonl or csv (default: from the file name).")] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Rows filed at the same time.")] = 8,
) -> None:
    """Import a batch of reports: each valid row starts (or finds) its case.

    Prints each row's result (row number, breach id or the problems) and a summary.
    Exit code 0 when every row was filed or existed already, 1 when some rows were invalid,
    3 when Temporal could not be reached (run the same command again: filed rows show as existing).

    Example: breach import exports/2026-11-incidents.csv
    """
    try:
        kind = detect_format(file, fmt)
        total = count_rows(file, kind)
    except BatchError as exc:
        raise fail(str(exc)) from None
    settings = Settings()

    async def main() -> list[RowResult]:
        temporal = await client(settings)
        inventory = load_inventory(settings.inventory_path)
        with Progress(
            TextColumn("[bold]importing[/] {task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
            console=err, transient=json_out,
        ) as progress:
            task = progress.add_task(file.name, total=total)
            return await import_rows(
                read_rows(file, kind),
                lambda report: file_report(temporal, settings, report, inventory),
                concurrency=concurrency,
                on_result=lambda _: progress.advance(task),
            )

    try:
        results = asyncio.run(main())
    except BatchError as exc:
        raise fail(str(exc)) from None
    summary = summarize(results)
    if json_out:
        out.print_json(json.dumps({"file": str(file), "format": kind, "rows": [r.as_json() for r in results], "summary": summary}))
    else:
        for r in results:
            out.print(_row_line(r), highlight=False, soft_wrap=True)
        line = f"{summary['filed']} filed, {summary['existing']} existing, {summary['invalid']} invalid"
        if summary["not_filed"]:
            line += f", {summary['not_filed']} not filed"
        out.print(f"[bold]{len(results)} row(s):[/] {line}", highlight=False)
    if summary["not_filed"]:
        stopped = next(r for r in results if r.status == "not_filed")
        raise fail(f"Temporal could not be reached at {settings.address} ({stopped.error}); {summary['not_filed']} row(s) were not filed. Run the same import again once `breach up` is running: rows already filed show as existing.", 3)
    if summary["invalid"]:
        raise typer.Exit(1)


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="Name of the integration, e.g. incident-center-feed.")],
    source: Annotated[list[Source] | None, typer.Option("--source", "-s", help="A source this token may file reports for; repeat for several. Default: every source.")] = None,
) -> None:
    """Create a token for an integration and print it once (only its SHA-256 is kept).

    Example: breach token create claims-contractor --source contractor
    """
    store = TokenStore(Settings().tokens_path)
    try:
        token = store.create(name, [s.value for s in source or []])
    except TokenError as exc:
        raise fail(str(exc)) from None
    scope = ", ".join(s.value for s in source) if source else "every source"
    err.print(f"token [bold]{name}[/] created (may file reports for: {scope}). Store it now: it is not shown again.", highlight=False)
    err.print(f"Use it as: Authorization: Bearer <token>   (kept as SHA-256 in {store.path})", highlight=False)
    print(token)


@token_app.command("list")
def token_list(json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List the tokens: name, the sources each may file for, when it was created (never the tokens)."""
    try:
        records = TokenStore(Settings().tokens_path).list()
    except TokenError as exc:
        raise fail(str(exc)) from None
    if json_out:
        out.print_json(json.dumps([{"name": r.name, "sources": [s.value for s in r.sources], "created_at": r.created_at.isoformat()} for r in records]))
        return
    table = Table("name", "sources", "created")
    for r in records:
        table.add_row(r.name, r.scope, r.created_at.isoformat())
    out.print(table)
    out.print(f"{len(records)} token(s)")


@token_app.command("revoke")
def token_revoke(name: Annotated[str, typer.Argument(help="Name of the token to revoke.")]) -> None:
    """Revoke a token: the API refuses it from now on (no restart needed)."""
    try:
        TokenStore(Settings().tokens_path).revoke(name)
    except TokenError as exc:
        raise fail(str(exc)) from None
    out.print(f"token {name} revoked", highlight=False)

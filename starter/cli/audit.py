"""`breach audit`: check the audit trail, reconcile cases with Temporal, read the trail.

`verify` recomputes the register's chain (activities/audit.py), cross-checks every case
with its workflow (activities/case_chains.py, worker/reconcile.py) and exits 1 naming
what was changed or removed; it writes nothing. `reconcile` runs the worker's scheduled
check now and records what it finds; `migrate-chain` is the one explicit, recorded way to
chain a table from before the hash chain; `log` prints the entries oldest first.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import re
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlmodel import Session

from activities import audit
from models.intake import breach_id_of
from models.records import AuditEntry
from starter.cli.console import client, fail, open_register, out
from worker.config import Settings
from worker.reconcile import Reconciliation, reconcile, record

audit_app = typer.Typer(help="The register's tamper-evident audit trail: verify the hash chain, read the entries.", no_args_is_help=True)

_ANCHOR = re.compile(r"^(\d+):([0-9a-f]{64})$")


@audit_app.command("verify")
def verify_cmd(
    anchor: Annotated[list[str] | None, typer.Option(
        "--anchor", metavar="SEQ:HASH", help="An entry's hash recorded earlier (from a previous verify); it must be unchanged. Repeatable.")] = None,
    register_only: Annotated[bool, typer.Option("--register-only", help="Check the register's chain alone, without Temporal (the cases' own chains and runs are then not checked).")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Verify the audit trail: exit 0 if intact, 1 naming what was changed or removed. Changes nothing.

    Recomputes the register's hash chain from entry 1 and compares its end with the head record, so an edited, deleted or inserted row (the last one too) is found. Then cross-checks every case with its workflow in Temporal: the case's own chain of entries, whose head the workflow holds, finds a deleted case, a deleted tail or a consistently rewritten table; and each case's runs show whether something other than the workflow terminated, reset or restarted it.

    Prints the head's hash: keep it elsewhere (the quarterly review, a ticket) and pass it later with --anchor. An audit table without the chain's columns fails; chain one from before the chain with `breach audit migrate-chain`.

    Example: breach audit verify --anchor 120:3f9c...e1
    """
    anchors = []
    for value in anchor or []:
        match = _ANCHOR.match(value.strip().lower())
        if not match:
            raise fail(f"--anchor {value!r}: expected SEQ:HASH, e.g. 120:<64 hex digits> as `breach audit verify` prints it")
        anchors.append((int(match[1]), match[2]))
    settings = Settings()
    engine = open_register(settings, create_tables=False)
    try:
        result = audit.verify(engine, anchors)
        found = None if register_only or not result.ok else asyncio.run(_reconcile(settings, engine))
    finally:
        engine.dispose()
    problems = [] if found is None else [c.line for c in found.changes] + found.chains.problems
    if json_out:
        out.print_json(json.dumps({**result.as_dict(), "cross_checked": found is not None, "cases": found.chains.cases if found else None, "case_problems": problems}))
    else:
        out.print(result.message, highlight=False, markup=False, soft_wrap=True)
        if result.ok and result.head_seq:
            out.print(f"head: entry {result.head_seq}, sha256 {result.head_hash} (anchor: {result.head_seq}:{result.head_hash})", highlight=False, markup=False, soft_wrap=True)
        if found is not None:
            verdict = "every case matches its workflow" if not problems else f"{len(problems)} problem(s) found"
            out.print(f"cross-checked {found.chains.cases} case(s) with Temporal: {verdict}", highlight=False, markup=False, soft_wrap=True)
        for line in problems:
            out.print(f"  {line}", highlight=False, markup=False, soft_wrap=True)
    if not result.ok or problems:
        raise typer.Exit(1)


async def _reconcile(settings: Settings, engine) -> Reconciliation:
    return await reconcile(await client(settings), engine)


@audit_app.command("reconcile")
def reconcile_cmd() -> None:
    """Run the worker's scheduled reconciliation now and put what it finds on record.

    Compares the register's cases with Temporal (runs terminated, reset or restarted by anything other than the workflow; cases missing on either side) and each case's audit chain with its workflow; each outside change becomes an audit entry and a finding on the case. Exit 1 if anything was found.

    Example: breach audit reconcile
    """
    settings = Settings()
    engine = open_register(settings)

    async def run() -> tuple[Reconciliation, int]:
        temporal = await client(settings)
        found = await reconcile(temporal, engine)
        return found, await record(temporal, engine, found.changes)

    try:
        found, noted = asyncio.run(run())
    except audit.AuditChainError as exc:
        raise fail(str(exc)) from None
    finally:
        engine.dispose()
    for line in [c.line for c in found.changes] + found.chains.problems:
        out.print(line, highlight=False, markup=False, soft_wrap=True)
    out.print(f"{found.chains.cases} case(s) checked: {len(found.changes)} outside change(s) recorded ({noted} noted on their case), "
              f"{len(found.chains.problems)} audit chain problem(s)", highlight=False, markup=False, soft_wrap=True)
    if not found.ok:
        raise typer.Exit(1)


@audit_app.command("migrate-chain")
def migrate_chain_cmd() -> None:
    """Chain an audit table written before the hash chain existed, and record that it was done.

    `verify` never does this by itself: a table whose chain columns were dropped looks the same, so run this only once you know the table predates the chain.

    Example: breach audit migrate-chain
    """
    engine = open_register(Settings())
    try:
        chained = audit.upgrade(engine)
        with Session(engine) as session:
            audit.append(session, AuditEntry(event_key=f"register:migrate-chain:{datetime.now(UTC).isoformat()}", breach_id="register", at=datetime.now(UTC),
                                             kind="audit_chain_migrated", actor=getpass.getuser(), detail={"entries_chained": chained}))
            session.commit()
    finally:
        engine.dispose()
    out.print(f"chained {chained} audit entries written before the hash chain existed; the migration itself is recorded in the trail", highlight=False, markup=False, soft_wrap=True)


@audit_app.command("log")
def log_cmd(
    case: Annotated[str | None, typer.Argument(help="Breach id or workflow id; all cases when omitted.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the entries as JSON (with their hashes).")] = False,
) -> None:
    """Print the audit trail, oldest first: when, which case, what, who in which role, details.

    Example: breach audit log api-CSIRC-INC-2026-88120 --json
    """
    engine = open_register(Settings())
    try:
        entries = audit.read_log(engine, breach_id_of(case) if case else None)
    except audit.AuditChainError as exc:
        raise fail(str(exc)) from None
    finally:
        engine.dispose()
    if json_out:
        out.print_json(json.dumps(entries, ensure_ascii=False))
        return
    table = Table("seq", "at (UTC)", "breach", "kind", "actor", "role", "detail")
    for e in entries:
        detail = json.dumps(e["detail"], ensure_ascii=False, sort_keys=True)
        table.add_row(*(Text(v) for v in (str(e["seq"]), e["at"][:19].replace("T", " "), e["breach_id"], e["kind"], e["actor"], e["role"] or "-", detail)))
    (out if out.is_terminal else Console(width=max(out.width, 220))).print(table)
    scope = f" of case {breach_id_of(case)}" if case else ""
    out.print(f"{len(entries)} audit entr{'y' if len(entries) == 1 else 'ies'}{scope}", highlight=False, markup=False, soft_wrap=True)

"""`breach audit`: check the register's audit hash chain and read the trail.

`verify` recomputes the chain (activities/audit.py) and exits 1 naming the first entry
that was changed or removed; `log` prints the entries oldest first.
"""

from __future__ import annotations

import json
import re
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from activities import audit
from models.intake import breach_id_of
from starter.cli.console import err, fail, open_register, out
from worker.config import Settings

audit_app = typer.Typer(help="The register's tamper-evident audit trail: verify the hash chain, read the entries.", no_args_is_help=True)

_ANCHOR = re.compile(r"^(\d+):([0-9a-f]{64})$")


@audit_app.command("verify")
def verify_cmd(
    anchor: Annotated[list[str] | None, typer.Option(
        "--anchor", metavar="SEQ:HASH", help="An entry's hash recorded earlier (from a previous verify); it must be unchanged. Repeatable.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Verify the audit hash chain: exit 0 if intact, 1 naming the first entry changed or removed.

    Recomputes every entry's hash from entry 1 and compares the end with the head record, so an edited, deleted or inserted row (the last one too) is found.

    Prints the head's hash: keep it elsewhere (the quarterly review, a ticket) and pass it later with --anchor to detect a rewrite of the whole trail. An audit table from before the hash chain is chained first.

    Example: breach audit verify --anchor 120:3f9c...e1
    """
    anchors = []
    for value in anchor or []:
        match = _ANCHOR.match(value.strip().lower())
        if not match:
            raise fail(f"--anchor {value!r}: expected SEQ:HASH, e.g. 120:<64 hex digits> as `breach audit verify` prints it")
        anchors.append((int(match[1]), match[2]))
    engine = open_register(Settings())
    try:
        chained = audit.upgrade(engine)
        if chained:
            err.print(f"chained {chained} audit entries written before the hash chain existed", highlight=False, markup=False, soft_wrap=True)
        result = audit.verify(engine, anchors)
    finally:
        engine.dispose()
    if json_out:
        out.print_json(json.dumps(result.as_dict()))
    else:
        out.print(result.message, highlight=False, markup=False, soft_wrap=True)
        if result.ok and result.head_seq:
            out.print(f"head: entry {result.head_seq}, sha256 {result.head_hash} (anchor: {result.head_seq}:{result.head_hash})", highlight=False, markup=False, soft_wrap=True)
    if not result.ok:
        raise typer.Exit(1)


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

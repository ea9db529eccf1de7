"""`breach operator ...`: create a person's key pair and register them in the operators file."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from models.operators import read_roster
from models.roles import Role
from starter.cli.console import fail, out, run_case_update
from starter.signing import add_operator
from worker.config import Settings
from workflows.breach import BreachResponseWorkflow

operator_app = typer.Typer(help="Operators: people, their roles and their signing keys.", no_args_is_help=True)


@operator_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="The person's name, as they will sign decisions.")],
    role: Annotated[list[Role], typer.Option(help="A role they hold (repeat for several).")],
) -> None:
    """Create NAME's Ed25519 key pair (private key 0600 in BREACH_OPERATOR_KEY_DIR) and add their
    public key and roles to the operators file that new cases load.

    Running cases keep their operators; change those with a signed `breach update-operators`.

    Example: breach operator add "Sam Ortiz" --role cms_sop --role cms_brt
    """
    settings = Settings()
    try:
        operator, key_path = add_operator(settings.operators_path, settings.operator_keys, name, role)
    except ValueError as exc:
        raise fail(str(exc)) from None
    out.print(f"added {operator.name} ({', '.join(r.value for r in operator.roles)}) to {settings.operators_path}", highlight=False)
    out.print(f"private key: {key_path} (keep it private; it signs {operator.name}'s decisions)", highlight=False)


@operator_app.command("list")
def list_operators(json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List the operators file: names, roles, public keys.

    Example: breach operator list
    """
    roster = read_roster(Settings().operators_path)
    if json_out:
        out.print_json(json.dumps(roster.model_dump(mode="json")))
        return
    table = Table("name", "roles", "public key")
    for o in roster.operators:
        table.add_row(o.name, ", ".join(r.value for r in o.roles), o.public_key)
    out.print(table)


@operator_app.command("refresh")
def refresh(case: Annotated[str, typer.Argument(help="Breach id or workflow id.")]) -> None:
    """Load the operators file into a case filed before any operator existed.

    A case that already has operators refuses this: change those with a signed
    `breach update-operators` by the CMS SOP.

    Example: breach operator refresh api-CSIRC-INC-2026-88120
    """
    run_case_update(case, BreachResponseWorkflow.refresh_operators)

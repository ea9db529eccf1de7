"""What every `breach` command shares: the consoles, the one error exit, the clients.

Every command module of this package imports this one; this one imports no command
module, so the CLI has no import cycle (tests/test_layering.py checks the whole project).

- ``out`` (stdout) and ``err`` (stderr) are the consoles every command prints to.
- ``fail(message, code=2)`` is the only error exit: one readable line on stderr and a
  non-zero exit code, never a traceback. Exit codes: 1 the case or check said no, 2 bad
  input or local state, 3 Temporal could not be reached.
- ``client(settings)`` is the Temporal client of a command, ``open_register(settings)``
  the register's engine; both turn "cannot reach it" into ``fail``. ``fetch_case`` reads a
  case's details and timeline, ``run_case_update`` sends it a maintenance update.
- ``write_output(path, text)`` writes a file the operator named (``--out``).
- ``workflow_id(case)`` (and ``models.intake.breach_id_of``): a command takes a case as its breach id or
  its workflow id; these turn either into the one it needs (the format is
  ``models.intake.workflow_id_for``).
"""

from __future__ import annotations

import asyncio
import errno
import os
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from temporalio.client import Client, WorkflowQueryFailedError, WorkflowUpdateFailedError
from temporalio.service import RPCError

from activities.db import make_engine
from activities.durable import write_atomic
from models.case import CaseView, TimelineEvent
from models.intake import breach_id_of, workflow_id_for
from worker import keys as keyring
from worker.codec import DecryptionError
from worker.config import Settings
from worker.main import connect
from workflows.breach import BreachResponseWorkflow

out = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: <message>`` on stderr and return the exit to raise.

    The message is printed as it is: no Rich markup or emoji code is read from it (a reason
    or a path may hold brackets or colons) and long lines are not broken (a path stays whole).
    """
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, emoji=False, soft_wrap=True)
    return typer.Exit(code)


def workflow_id(case: str) -> str:
    """The workflow id of a case given as its breach id or its workflow id."""
    return workflow_id_for(breach_id_of(case))


async def client(settings: Settings, *, serves: bool = False) -> Client:
    """The command's Temporal client (with the encrypted data converter). A command reports a
    refused payload as its error; one that ``serves`` (runs a worker) logs each refusal."""
    try:
        return await asyncio.wait_for(connect(settings, log_refusals=serves), timeout=10)
    except (RuntimeError, TimeoutError, RPCError) as exc:
        raise fail(f"cannot reach Temporal at {settings.address} ({exc}); is `breach up` running?", 3) from None
    except keyring.KeySettingError as exc:
        raise fail(str(exc)) from None


async def fetch_case(settings: Settings, case: str) -> tuple[CaseView, list[TimelineEvent]]:
    """A case's current details and its timeline (the workflow's queries)."""
    temporal = await client(settings)
    handle = temporal.get_workflow_handle(workflow_id(case))
    try:
        return await handle.query(BreachResponseWorkflow.details), await handle.query(BreachResponseWorkflow.timeline)
    except RPCError as exc:
        raise fail(f"no case {case!r}: {exc.message}") from None
    except DecryptionError as exc:  # the answer is under a key this key ring does not have
        raise fail(f"case {case!r} cannot be read with this key ring ({settings.key_path}): {exc}") from None
    except WorkflowQueryFailedError as exc:  # e.g. the worker cannot decode the case's history
        raise fail(f"case {case!r} cannot be read: {exc}; the worker's log says why") from None


def run_case_update(case: str, update: Any) -> None:
    """Send an unsigned maintenance update (no decision) to a case; print its answer or the refusal."""

    async def send() -> str:
        temporal = await client(Settings())
        try:
            return await temporal.get_workflow_handle(workflow_id(case)).execute_update(update)
        except RPCError as exc:
            raise fail(f"no open case {case!r}: {exc.message}") from None

    try:
        out.print(asyncio.run(send()), highlight=False)
    except WorkflowUpdateFailedError as exc:
        raise fail(f"refused: {getattr(exc.cause, 'message', exc.cause)}", 1) from None


def open_register(settings: Settings, *, create_tables: bool = True) -> Engine:
    """The register's engine for reading. Refuses to create a new empty SQLite file where
    none is (a wrong data folder): the worker creates the register. ``create_tables=False``
    for a check that must change nothing."""
    url = settings.register_url
    try:
        parsed = make_url(url)
    except SQLAlchemyError as exc:
        raise fail(f"the register URL is not valid ({exc}); check BREACH_DATABASE_URL") from None
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:" and not Path(parsed.database).exists():
        raise fail(f"no register at {parsed.database}: set BREACH_DATA_DIR to the service's data folder or BREACH_DATABASE_URL (the worker creates the register)")
    try:
        return make_engine(url, create_tables=create_tables)
    except SQLAlchemyError as exc:
        raise fail(f"cannot open the register at {parsed.render_as_string(hide_password=True)}: {exc.__class__.__name__}: {getattr(exc, 'orig', None) or exc}") from None


def write_output(path: Path, text: str) -> None:
    """Write a file the operator named with ``--out``: atomically, readable by its owner only
    (it holds case data), and only into a folder that exists (a mistyped folder is an error,
    not a new folder)."""
    try:
        if not path.parent.is_dir():
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path.parent))
        write_atomic(path, text.encode())
    except OSError as exc:
        raise fail(f"cannot write {path}: {exc.strerror or exc}") from None

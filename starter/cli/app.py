"""The `breach` application: every command group of this package on one Typer app.

``main`` is the console script (``pyproject.toml``: ``breach = "starter.cli.app:main"``).
Commands are listed in the help in the order they are added here.
"""

from __future__ import annotations

import os
import sys

import typer

from starter.cli import audit, cases, chart, decisions, exercise, intake, notify, operators, risk, service, tracking
from worker.logs import configure as configure_logs
from worker.private_files import private_umask

app = typer.Typer(help="Breach response orchestration on Temporal: run the service, file reports, follow cases.", no_args_is_help=True,
                  pretty_exceptions_show_locals=False)  # a traceback must never print a report's fields

app.command("risk")(risk.risk)
app.command("up")(service.up)
app.command("worker")(service.worker)
app.command("codec-server")(service.codec_server)
app.command("report")(intake.report)
app.command("exercise")(exercise.exercise)
app.command("import")(intake.import_reports)
app.command("chart")(chart.chart)
app.command("list")(cases.list_cases)
app.command("show")(cases.show)
app.command("watch")(cases.watch)
decisions.register(app)
app.command("letter")(notify.letter)
app.command("returned-mail")(notify.returned_mail)
app.command("notify-retry")(notify.notify_retry)
app.add_typer(service.payload_key_app, name="payload-key")
app.add_typer(intake.token_app, name="token")
app.add_typer(audit.audit_app, name="audit")
app.add_typer(tracking.tracking_app, name="tracking")
app.add_typer(operators.operator_app, name="operator")


def main() -> None:
    """Console entry point of `breach`.

    Once a command has finished, exit without interpreter finalization: temporalio's Rust
    bridge threads can abort CPython's teardown of a short-lived client process with
    "Fatal Python error: PyGILState_Release" (temporalio/sdk-python#300), which would turn
    a successful command into exit code -6.
    """
    private_umask()  # before anything is written: every file of every command is the service user's own
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

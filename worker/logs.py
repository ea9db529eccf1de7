"""structlog set-up: readable lines on a terminal, one JSON object per line in production.

Logs go to standard error, so a command's output (`--json`, CSV) stays clean on standard
output. Log events carry ids and counts, never personal data or report free text.

Why exceptions are rendered without local variables, in both formats: structlog's
defaults show every frame's locals (the console renderer whenever ``rich`` or
``better_exceptions`` is installed, the dict tracebacks always), and a frame of the
intake route holds the report being filed: one failed request printed the reporter's
name and the summary six times. A traceback here names files, lines, code and the
exception, never the values a frame held.
"""

from __future__ import annotations

import logging
import sys

import structlog
from structlog.tracebacks import ExceptionDictTransformer


def configure(fmt: str = "console", level: int = logging.INFO) -> None:
    if fmt == "json":
        renderers = [structlog.processors.ExceptionRenderer(ExceptionDictTransformer(show_locals=False)), structlog.processors.JSONRenderer()]
    else:
        renderers = [structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            *renderers,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

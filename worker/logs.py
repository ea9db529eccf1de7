"""structlog set-up: readable lines on a terminal, one JSON object per line in production.

Logs go to standard error, so a command's output (`--json`, CSV) stays clean on standard
output. Log events carry ids and counts, never personal data or report free text.
"""

from __future__ import annotations

import logging
import sys

import structlog


def configure(fmt: str = "console", level: int = logging.INFO) -> None:
    renderer = structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

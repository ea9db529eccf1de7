"""The register's databases for tests: SQLite always, PostgreSQL when one is given.

``register_url`` is parametrized: ``[sqlite]`` is a fresh SQLite file in the test's
temporary folder; ``[postgresql]`` is a fresh schema, dropped afterwards, in the
database named by ``BREACH_TEST_POSTGRES_URL`` (``.ci/postgres.sh start`` makes one
and prints the variable). Without that variable the PostgreSQL variant is skipped on a
developer's machine but FAILS when ``CI`` is set (``CI=true``, as CI services and
``.ci/run`` set it), so CI can never pass by silently skipping PostgreSQL.

Use it in a test module with ``from tests.register_backends import register_url``
(pytest finds fixtures imported into the module). ``postgres_schema()`` gives the same
fresh schema to tests that need PostgreSQL alone.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

PG_ENV = "BREACH_TEST_POSTGRES_URL"
BACKENDS = ["sqlite", "postgresql"]


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def postgres_base_url() -> str:
    """The test PostgreSQL's URL; skips (on a laptop) or fails (in CI) when there is none."""
    url = os.environ.get(PG_ENV, "").strip()
    if url:
        if not url.startswith("postgresql"):
            pytest.fail(f"{PG_ENV} must be a postgresql+psycopg://... URL, not {url.split(':', 1)[0]}:...")
        return url
    if in_ci():
        pytest.fail(
            f"{PG_ENV} is not set but CI is: the register's PostgreSQL tests must run in CI, not be skipped. "
            "Start a database with `pg_env=$(.ci/postgres.sh start); eval \"$pg_env\"` (see .ci/run)."
        )
    pytest.skip(f"PostgreSQL variant: set {PG_ENV}=postgresql+psycopg://... (e.g. `.ci/postgres.sh run pytest ...`)")


@contextmanager
def postgres_schema(prefix: str = "register_test") -> Iterator[str]:
    """A URL whose connections work in a new, empty schema; the schema is dropped afterwards.

    The schema is chosen through libpq's ``options=-csearch_path=...``, so every engine,
    process and command line made from the URL sees only this test's tables.
    """
    base = postgres_base_url()
    schema = f"{re.sub(r'[^a-z0-9_]', '_', prefix.lower())[:40]}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            # A connection left inside a transaction would block the drop forever: fail instead.
            conn.exec_driver_sql("SET LOCAL lock_timeout = '20s'")
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def register_url(request, tmp_path) -> Iterator[str]:
    """A fresh, empty register: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'register.db'}"
        return
    with postgres_schema(request.node.originalname or "register_test") as url:
        yield url


def open_register_at_once(url: str, barrier, results) -> None:
    """In a child process: wait for the others, then open the register (``make_engine``); put "ok" or the error.

    Lives here, not in a test module, so that a spawned child imports little before the barrier.
    """
    from activities.db import make_engine

    barrier.wait(60)
    try:
        make_engine(url).dispose()
    except Exception as exc:  # noqa: BLE001 - reported to the test
        results.put(f"{type(exc).__name__}: {exc}"[:300])
        return
    results.put("ok")

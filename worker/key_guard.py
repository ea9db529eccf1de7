"""Keys are never replaced silently.

Issue 14: a deleted key file was replaced by a new key on the next start; the running
worker then failed every task of a new case ("unknown key id") and, after a restart,
every older case was unreadable. A new key is created only for a new, empty data folder.
When the key file is missing but the folder already holds cases (rows in the register or
an embedded Temporal database), every process stops at start-up with one error naming
the missing file and how to restore it.

At start the worker also records the key id it encrypts with in the register and lists
the key ids in use that its ring does not have (``worker.main.report_missing_keys``).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from worker.config import Settings
from worker.keys import KeyRing, KeySettingError, load_or_create, parse_key_setting

RESTORE = ("restore it from the backup of the key file (SECURITY.md, \"Keys\") or set BREACH_PAYLOAD_KEYS; "
           "a new key would leave every existing case unreadable, so none is created")


def _register_cases(url: str) -> int:
    """How many cases the register holds, without creating a register where none is."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database or parsed.database == ":memory:" or not Path(parsed.database).exists():
            return 0
        try:
            with sqlite3.connect(f"file:{parsed.database}?mode=ro", uri=True) as db:
                return db.execute("SELECT count(*) FROM cases").fetchone()[0]
        except sqlite3.Error:
            return 0  # no cases table yet: an empty register
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM cases")).scalar_one() if inspect(conn).has_table("cases") else 0
    except SQLAlchemyError:
        return 0  # an unreachable register is reported by the process that opens it
    finally:
        engine.dispose()


def cases_present(settings: Settings) -> str | None:
    """What shows that the data folder already holds cases, or None for a new, empty one."""
    if settings.embedded and settings.temporal_db.exists() and settings.temporal_db.stat().st_size > 0:
        return f"the data folder {settings.data_dir} holds a Temporal database ({settings.temporal_db.name})"
    count = _register_cases(settings.register_url)
    if count:
        return f"the register holds {count} case(s)"
    return None


def key_ring(settings: Settings) -> KeyRing:
    """The payload key ring of every process: the setting, else the key file, created only for a new data folder."""
    if settings.payload_keys is not None:
        return parse_key_setting(settings.payload_keys.get_secret_value())
    path = settings.key_path
    if not path.exists() and (evidence := cases_present(settings)):
        raise KeySettingError(f"the payload key file {path} is missing, but {evidence}: {RESTORE}")
    return load_or_create(path)

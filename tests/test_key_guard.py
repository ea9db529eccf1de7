"""Keys are never replaced silently (issue 14): a data folder that holds cases and has lost
its key file stops every process with one error; a case under a key the ring lacks reads
as one line; the worker lists key ids in use that its ring does not have."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime

import pytest
import structlog
from sqlmodel import Session

from activities.db import make_engine
from activities.register import RegisterActivities
from models.register import CaseRecord
from tests.support import REPORTS, LocalStack, breach_cli
from worker import keys
from worker.config import Settings
from worker.key_guard import key_ring
from worker.main import report_missing_keys


def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path)


def test_a_new_empty_folder_gets_a_key(tmp_path):
    ring = key_ring(settings(tmp_path))
    assert settings(tmp_path).key_path.exists() and key_ring(settings(tmp_path)) == ring


def test_a_missing_key_file_beside_register_cases_is_refused(tmp_path):
    key_ring(settings(tmp_path))
    engine = make_engine(settings(tmp_path).register_url)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    with Session(engine) as session:
        session.add(CaseRecord(breach_id="b1", workflow_id="breach-b1", source="api", external_id="x", system_id="s", system_known=True, stage="confirm_pii",
                               status="ongoing", individuals=1, data_elements=[], contractor_involved=False, hipaa_covered=False,
                               discovered_at=at, reported_at=at, opened_at=at, updated_at=at))
        session.commit()
    engine.dispose()
    settings(tmp_path).key_path.unlink()
    with pytest.raises(keys.KeySettingError) as info:
        key_ring(settings(tmp_path))
    message = str(info.value)
    assert str(settings(tmp_path).key_path) in message and "register holds 1 case" in message and "restore" in message
    assert not settings(tmp_path).key_path.exists(), "a new key was created"


def test_a_missing_key_file_beside_a_temporal_database_is_refused(tmp_path):
    (tmp_path / "temporal.db").write_bytes(b"SQLite format 3\0")
    with pytest.raises(keys.KeySettingError, match="holds a Temporal database"):
        key_ring(settings(tmp_path))


def test_every_process_stops_with_one_line(tmp_path):
    (tmp_path / "temporal.db").write_bytes(b"SQLite format 3\0")
    env = LocalStack(tmp_path).env
    for command in (["up"], ["list"], ["worker"]):
        run = subprocess.run([breach_cli(), *command], env=env, capture_output=True, text=True, timeout=60)
        assert run.returncode == 2, (command, run.stdout, run.stderr)
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and "payload key file" in lines[0] and "is missing" in lines[0], (command, run.stderr)
    assert not (tmp_path / "keys").exists()


def test_the_worker_lists_key_ids_in_use_that_its_ring_lacks(tmp_path):
    register = RegisterActivities(make_engine(settings(tmp_path).register_url))
    old = keys.load_or_create(tmp_path / "old.json")
    assert report_missing_keys(register, old) == []
    new = keys.load_or_create(tmp_path / "new.json")
    with structlog.testing.capture_logs() as logs:
        assert report_missing_keys(register, new) == [old.current_id]
    assert any(e["log_level"] == "error" and e["missing"] == [old.current_id] for e in logs), logs
    assert report_missing_keys(register, keys.rotate(tmp_path / "old.json")) == [new.current_id]


@pytest.mark.e2e
def test_deleted_key_file_stops_breach_up_and_a_foreign_key_reads_as_one_line(tmp_path):
    stack = LocalStack(tmp_path / "data")
    stack.start()
    try:
        filed = stack.run_cli("report", str(REPORTS / "qecp-public-pdfs.json"), "--json")
        assert filed.returncode == 0, filed.stderr
        wid = json.loads(filed.stdout)["workflow_id"]
        key_file = stack.settings.key_path
        shutil.copy(key_file, tmp_path / "backup.json")
        # A CLI whose key ring lacks the case's key: one line, no traceback.
        foreign = tmp_path / "foreign.json"
        keys.load_or_create(foreign)
        shown = subprocess.run([breach_cli(), "show", wid], env={**stack.env, "BREACH_KEY_FILE": str(foreign)}, capture_output=True, text=True, timeout=60)
        assert shown.returncode == 2 and len(shown.stderr.strip().splitlines()) == 1, shown.stderr
        assert "cannot be read with this key ring" in shown.stderr and "Traceback" not in shown.stderr
    finally:
        assert stack.stop() == 0
    key_file.unlink()
    with pytest.raises(RuntimeError, match="payload key file .* is missing"):
        stack.start()
    assert not key_file.exists()
    shutil.copy(tmp_path / "backup.json", key_file)
    stack.start()
    try:
        assert stack.run_cli("show", wid).returncode == 0
    finally:
        assert stack.stop() == 0

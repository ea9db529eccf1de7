"""`breach up` as an operator meets it: restart keeps open cases, ports in use are clear
errors, and a configured Temporal address is used instead of starting a server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
import signal
import socket

import pytest

from models import search
from tests.support import REPORTS, LocalStack, eventually, free_port
from worker.main import connect
from workflows.breach import BreachResponseWorkflow

pytestmark = pytest.mark.e2e


async def test_restart_resumes_open_cases(tmp_path):
    stack = LocalStack(tmp_path / "data")
    stack.start()
    try:
        # Reported now, so no clock is already overdue: the case is quiet while it is compared.
        doc = json.loads((REPORTS / "laptop-claims-major.json").read_text())
        now = datetime.now(UTC).replace(microsecond=0)
        doc.update(discovered_at=(now - timedelta(minutes=20)).isoformat(), reported_at=now.isoformat(), occurred_from=(now - timedelta(hours=12)).isoformat(), occurred_to=(now - timedelta(minutes=20)).isoformat())
        filed = stack.run_cli("report", "-", "--json", input=json.dumps(doc))
        assert filed.returncode == 0, filed.stderr
        wid = json.loads(filed.stdout)["workflow_id"]
        client = await connect(stack.settings)
        handle = client.get_workflow_handle(wid)

        async def waiting() -> bool:
            return (await handle.query(BreachResponseWorkflow.details)).stage.value == "confirm_pii"

        await eventually(waiting)
        before = await handle.query(BreachResponseWorkflow.details)
    finally:
        assert stack.stop(signal.SIGINT) == 0, stack.log.read_text()[-2000:]

    stack.start()
    try:
        client = await connect(stack.settings)
        handle = client.get_workflow_handle(wid)
        after = await handle.query(BreachResponseWorkflow.details)
        assert after == before
        description = await handle.describe()
        assert description.status.name == "RUNNING"
        assert description.typed_search_attributes.get(search.BREACH_STAGE) == "confirm_pii"
        shown = stack.run_cli("show", wid)
        assert shown.returncode == 0 and "confirm_pii" in shown.stdout
    finally:
        assert stack.stop() == 0


@pytest.mark.parametrize("setting", ["BREACH_TEMPORAL_PORT", "BREACH_UI_PORT", "BREACH_CODEC_PORT"])
def test_port_in_use_is_a_clear_error(tmp_path, setting):
    stack = LocalStack(tmp_path / "data")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        stack.env[setting] = str(port)
        result = stack.run_cli("up", timeout=30)
    assert result.returncode == 2
    assert f"port {port} is already in use" in result.stderr and setting in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "data" / "temporal.db").exists()


def test_configured_address_starts_no_server(stack, tmp_path):
    other = LocalStack(tmp_path / "other")
    other.env["BREACH_TEMPORAL_ADDRESS"] = stack.settings.address
    other.env["BREACH_CODEC_PORT"] = str(free_port())
    other.env["BREACH_KEY_FILE"] = str(stack.settings.key_path)  # every process must share the key
    other.start()
    try:
        assert not (tmp_path / "other" / "temporal.db").exists()
        assert f"temporal={stack.settings.address}" in other.log.read_text()
    finally:
        assert other.stop() == 0

"""Nothing is lost while Temporal is away: the API spools reports durably, answers 202, and
`breach up` files them, each exactly once, when Temporal is back.

The end-to-end test runs `breach up` against a Temporal dev server this test starts, stops
and starts again itself (same SQLite file, same port), as an outage of a configured
Temporal looks to the service.
"""

from __future__ import annotations

import json
import os
import stat

import httpx
import pytest

from models.intake import IntakeReport
from starter.intake.filing import FiledCase
from activities.durable import write_atomic
from starter.intake.spool import Spool
from starter.stack import _stop_process, start_dev_server, wait_for_server
from tests.support import REPORTS, LocalStack, eventually, free_port
from worker.config import Settings
from worker.main import connect, ensure_search_attributes
from workflows.breach import BreachResponseWorkflow

SAMPLES = sorted(REPORTS.glob("*.json"))


def _report(path) -> IntakeReport:
    return IntakeReport.model_validate_json(path.read_text())


# ---------------------------------------------------------------------- the spool itself


def test_write_atomic_leaves_the_whole_file_and_no_temp_files(tmp_path):
    target = tmp_path / "spool" / "a.json"
    write_atomic(target, b'{"one": 1}')
    write_atomic(target, b'{"two": 2}')
    assert target.read_bytes() == b'{"two": 2}'
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["a.json"]


async def test_a_spooled_report_is_removed_only_once_its_case_exists(tmp_path):
    spool = Spool(tmp_path / "spool")
    reports = [_report(p) for p in SAMPLES]
    for r in reports:
        spool.put(r)
    spool.put(reports[0])  # the same report twice: one file
    assert stat.S_IMODE(os.stat(spool.folder).st_mode) == 0o700
    assert sorted(p.name for p in spool.pending()) == sorted(f"{r.breach_id}.json" for r in reports)

    async def away(report: IntakeReport) -> FiledCase:
        raise RuntimeError("Failed client connect: connection refused")

    result = await spool.drain(away)
    assert result.filed == 0 and result.remaining == 3 and "connect" in result.error
    assert spool.count() == 3

    filed: list[str] = []

    async def flaky(report: IntakeReport) -> FiledCase:
        if len(filed) == 1:
            filed.append("failed")
            raise TimeoutError()
        filed.append(report.breach_id)
        return FiledCase(report.breach_id, report.workflow_id, True, "")

    first = await spool.drain(flaky)
    assert first.filed == 1 and spool.count() == 2, "the file whose filing failed stays"
    second = await spool.drain(flaky)
    assert second.filed == 2 and second.error is None and spool.count() == 0
    assert sorted(f for f in filed if f != "failed") == sorted(r.breach_id for r in reports)


async def test_a_report_temporal_refuses_is_set_aside_not_retried_forever(tmp_path):
    from temporalio.service import RPCError, RPCStatusCode

    spool = Spool(tmp_path / "spool")
    poison, fine = _report(SAMPLES[0]), _report(SAMPLES[1])
    spool.put(poison)
    spool.put(fine)
    done = []

    async def file_one(report: IntakeReport) -> FiledCase:
        if report.breach_id == poison.breach_id:
            raise RPCError("invalid value for search attribute", RPCStatusCode.INVALID_ARGUMENT, b"")
        done.append(report.breach_id)
        return FiledCase(report.breach_id, report.workflow_id, True, "")

    result = await spool.drain(file_one)
    assert done == [fine.breach_id] and result.error is None and spool.count() == 0
    kept = spool.rejected / f"{poison.breach_id}.json"
    assert kept.exists(), "never deleted"
    assert "invalid value for search attribute" in (spool.rejected / f"{poison.breach_id}.json.error.txt").read_text()


# ---------------------------------------------------------------------- end to end


@pytest.mark.e2e
async def test_reports_posted_while_temporal_is_down_are_filed_once_it_is_back(tmp_path):
    server = Settings(data_dir=tmp_path / "temporal", temporal_port=free_port(), ui_port=free_port(), codec_port=free_port())
    server.data_dir.mkdir()
    proc = await start_dev_server(server)
    stack = None
    try:
        await ensure_search_attributes(await wait_for_server(server, proc), server.temporal_namespace)
        stack = LocalStack(tmp_path / "data")
        stack.env |= {"BREACH_TEMPORAL_ADDRESS": server.address, "BREACH_SPOOL_RETRY_SECONDS": "0.5"}
        stack.start()
        made = stack.run_cli("token", "create", "spool-test")
        assert made.returncode == 0, made.stderr
        headers = {"Authorization": f"Bearer {made.stdout.strip()}"}
        api = stack.settings.api_base

        await _stop_process(proc)  # Temporal goes away
        assert proc.returncode is not None
        async with httpx.AsyncClient(base_url=api, timeout=60) as http:
            answers = [await http.post("/v1/breaches", content=p.read_bytes(), headers=headers) for p in [*SAMPLES, SAMPLES[0]]]
            assert [a.status_code for a in answers] == [202] * 4, [a.text for a in answers]
            assert {a.json()["status"] for a in answers} == {"spooled"}
            ids = sorted({a.json()["breach_id"] for a in answers})
            assert ids == sorted(_report(p).breach_id for p in SAMPLES)
            spooled = sorted((tmp_path / "data" / "spool").glob("*.json"))
            assert [p.stem for p in spooled] == ids
            assert all(stat.S_IMODE(os.stat(p).st_mode) == 0o600 for p in spooled)
            while_down = await http.get(f"/v1/breaches/{ids[0]}", headers=headers)
            assert while_down.status_code == 200 and while_down.json()["status"] == "spooled"
            health = (await http.get("/v1/health")).json()
            assert health["temporal"] == "unreachable" and health["spooled"] == 3

            proc = await start_dev_server(server)  # Temporal is back: same database, same port
            await wait_for_server(server, proc)

            async def drained() -> bool:
                return not list((tmp_path / "data" / "spool").glob("*.json"))

            await eventually(drained, timeout=60)
            client = await connect(stack.settings)
            for breach_id in ids:
                await client.get_workflow_handle(f"breach-{breach_id}").describe()  # exists

                async def listed(breach_id=breach_id) -> bool:
                    return bool([wf async for wf in client.list_workflows(f"WorkflowId = 'breach-{breach_id}'")])

                await eventually(listed)  # visibility is eventually consistent
                runs = [wf async for wf in client.list_workflows(f"WorkflowId = 'breach-{breach_id}'")]
                assert len(runs) == 1, f"{breach_id}: {len(runs)} executions"
            handle = client.get_workflow_handle(f"breach-{ids[0]}")

            async def moving() -> bool:
                return (await handle.query(BreachResponseWorkflow.details)).stage.value == "confirm_pii"

            await eventually(moving, timeout=60)
            after = await http.get(f"/v1/breaches/{ids[0]}", headers=headers)
            assert after.status_code == 200 and after.json()["stage"] == "confirm_pii"
            again = await http.post("/v1/breaches", content=SAMPLES[0].read_bytes(), headers=headers)
            assert again.status_code == 200 and again.json()["status"] == "existing"
        log = stack.log.read_text()
        assert "spool drained" in log and json.loads(SAMPLES[0].read_text())["summary"][:30] not in log
    finally:
        if stack and stack.proc:
            assert stack.stop() == 0, stack.log.read_text()[-3000:]
        await _stop_process(proc)

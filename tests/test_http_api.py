"""The HTTP intake API as integrations meet it, served by a real `breach up` (the session stack):
tokens, every answer code with a body naming the problem, the status route without personal
data, the OpenAPI documentation, refusals in the log, and schemathesis over the API's own
OpenAPI document."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import os
import stat

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance, status_code_conformance

from models.intake import Source
from tests.support import REPORTS, eventually
from worker.main import connect

pytestmark = pytest.mark.e2e

LAPTOP = json.loads((REPORTS / "laptop-claims-major.json").read_text())


def create_token(stack, name: str, *sources: str) -> str:
    args = [a for s in sources for a in ("--source", s)]
    made = stack.run_cli("token", "create", name, *args)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("brt_") and "\n" not in token
    return token


def report(external_id: str, **changes) -> dict:
    doc = copy.deepcopy(LAPTOP)
    doc["external_id"] = external_id
    doc.update(changes)
    return doc


@pytest.fixture(scope="module")
def tokens(stack) -> dict[str, str]:
    return {"all": create_token(stack, "http-tests"), "contractor": create_token(stack, "http-tests-contractor", "contractor")}


@pytest.fixture
async def api(stack):
    async with httpx.AsyncClient(base_url=stack.settings.api_base, timeout=30) as http:
        yield http


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_answer_codes(api, tokens, stack):
    doc = report("HTTP-CODES-1")
    missing = await api.post("/v1/breaches", json=doc)
    assert missing.status_code == 401 and missing.json()["error"] == "missing bearer token"
    assert missing.headers["www-authenticate"].startswith("Bearer")
    unknown = await api.post("/v1/breaches", json=doc, headers=bearer("brt_not-a-token"))
    assert unknown.status_code == 401 and unknown.json()["error"] == "unknown token"

    forbidden = await api.post("/v1/breaches", json=doc, headers=bearer(tokens["contractor"]))
    assert forbidden.status_code == 403
    assert forbidden.json()["error"] == "source not allowed" and "'api'" in forbidden.json()["detail"]

    big = {**doc, "summary": "x" * (1024 * 1024)}
    too_big = await api.post("/v1/breaches", json=big, headers=bearer(tokens["all"]))
    assert too_big.status_code == 413 and too_big.json()["error"] == "report too large"
    async def chunks():
        yield b"{" + b" " * 600_000
        yield b" " * 600_000 + b"}"

    chunked = await api.post("/v1/breaches", content=chunks(), headers=bearer(tokens["all"]))
    assert chunked.status_code == 413, "a body without Content-Length is capped too"

    bad = report("HTTP-CODES-1", media="fax", estimated_individuals=-3, hipaa_coverd=True)
    bad["reported_by"] = {**bad["reported_by"], "email": ""}
    del bad["summary"]
    invalid = await api.post("/v1/breaches", json=bad, headers=bearer(tokens["all"]))
    assert invalid.status_code == 422
    body = invalid.json()
    assert body["error"] == "invalid report"
    assert {p["field"] for p in body["problems"]} == {"media", "estimated_individuals", "hipaa_coverd", "reported_by.email", "summary"}
    assert all(p["message"] for p in body["problems"])
    overflow = await api.post("/v1/breaches", json=report("HTTP-CODES-1", estimated_individuals=2**64), headers=bearer(tokens["all"]))
    assert overflow.status_code == 422 and [p["field"] for p in overflow.json()["problems"]] == ["estimated_individuals"]
    not_json = await api.post("/v1/breaches", content=b"{not json", headers=bearer(tokens["all"]))
    assert not_json.status_code == 422 and not_json.json()["problems"][0]["field"] == "(body)"

    created = await api.post("/v1/breaches", json=doc, headers=bearer(tokens["all"]))
    assert created.status_code == 201, created.text
    first = created.json()
    assert first["breach_id"] == "api-HTTP-CODES-1" and first["workflow_id"] == "breach-api-HTTP-CODES-1"
    assert first["status"] == "filed" and first["created"] is True
    assert created.headers["location"] == "/v1/breaches/api-HTTP-CODES-1"
    assert first["ui_url"].endswith("/workflows/breach-api-HTTP-CODES-1")
    assert any(f.startswith("unknown_system") for f in first["flags"])

    again = await api.post("/v1/breaches", json=doc, headers=bearer(tokens["all"]))
    assert again.status_code == 200
    assert again.json() | {"status": "filed", "created": True} == first
    assert again.json()["status"] == "existing" and again.json()["created"] is False

    client = await connect(stack.settings)

    async def listed() -> bool:
        return bool([wf async for wf in client.list_workflows("WorkflowId = 'breach-api-HTTP-CODES-1'")])

    await eventually(listed)  # visibility is eventually consistent
    executions = [wf async for wf in client.list_workflows("WorkflowId = 'breach-api-HTTP-CODES-1'")]
    assert len(executions) == 1, "a repeat starts nothing"


async def test_contractor_token_files_its_own_source(api, tokens):
    doc = json.loads((REPORTS / "recon-misdirected-email.json").read_text())
    doc["external_id"] = "HTTP-CONTRACTOR-1"
    filed = await api.post("/v1/breaches", json=doc, headers=bearer(tokens["contractor"]))
    assert filed.status_code == 201, filed.text
    assert filed.json()["breach_id"] == "contractor-HTTP-CONTRACTOR-1"


async def test_status_route_shows_stage_and_clocks_only(api, tokens):
    doc = report("HTTP-STATUS-1")
    assert (await api.post("/v1/breaches", json=doc, headers=bearer(tokens["all"]))).status_code == 201
    for _ in range(150):
        answer = await api.get("/v1/breaches/api-HTTP-STATUS-1", headers=bearer(tokens["all"]))
        if answer.status_code == 200 and answer.json()["stage"] == "confirm_pii":
            break
        await asyncio.sleep(0.2)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"breach_id", "workflow_id", "status", "stage", "outcome", "clocks", "ui_url"}
    assert body["stage"] == "confirm_pii" and body["status"] == "ongoing"
    clocks = {c["clock"]: c for c in body["clocks"]}
    assert {"csirc_report", "confirm_pii", "hipaa_individuals"} <= set(clocks)
    assert set(clocks["confirm_pii"]) == {"clock", "kind", "state", "started_at", "due_at", "met_at"}
    text = answer.text
    for personal in (doc["reported_by"]["name"], doc["reported_by"]["email"], doc["summary"][:40], doc["contractor"]["contract_number"], doc["roster_uri"], "CLAIMS-ANALYTICS-EXTRACT"):
        assert personal not in text
    by_workflow_id = await api.get("/v1/breaches/breach-api-HTTP-STATUS-1", headers=bearer(tokens["all"]))
    assert by_workflow_id.status_code == 200 and by_workflow_id.json()["breach_id"] == "api-HTTP-STATUS-1"


async def test_status_route_refusals(api, tokens):
    assert (await api.get("/v1/breaches/api-HTTP-STATUS-1")).status_code == 401
    forbidden = await api.get("/v1/breaches/api-HTTP-STATUS-1", headers=bearer(tokens["contractor"]))
    assert forbidden.status_code == 403 and "contractor" in forbidden.json()["detail"]
    for missing in ("api-NO-SUCH-CASE", "not a breach id", "fax-1"):
        answer = await api.get(f"/v1/breaches/{missing}", headers=bearer(tokens["all"]))
        assert answer.status_code == 404, missing
        assert answer.json()["error"] == "no such case"
    nowhere = await api.get("/v2/nowhere")
    assert nowhere.status_code == 404 and nowhere.json()["error"] == "not found"
    wrong_method = await api.delete("/v1/breaches/api-HTTP-STATUS-1", headers=bearer(tokens["all"]))
    assert wrong_method.status_code == 405 and wrong_method.json()["error"] == "method not allowed"


async def test_documentation_is_served(api):
    spec = (await api.get("/openapi.json")).json()
    assert {"/v1/breaches", "/v1/breaches/{breach_id}", "/v1/health"} <= set(spec["paths"])
    post = spec["paths"]["/v1/breaches"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/IntakeReport"}
    assert {"200", "201", "202", "401", "403", "413", "422"} <= set(post["responses"])
    schemas = spec["components"]["schemas"]
    assert set(schemas["IntakeReport"]["required"]) >= {"external_id", "source", "reported_by", "summary"}
    assert schemas["Source"]["enum"] == [s.value for s in Source]
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    docs = await api.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    health = (await api.get("/v1/health")).json()
    assert health["status"] == "ok" and health["temporal"] == "reachable" and health["spooled"] >= 0


def test_tokens_are_stored_hashed_and_can_be_revoked(stack, tokens):
    path = stack.settings.tokens_path
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    content = path.read_text()
    assert tokens["all"] not in content and tokens["contractor"] not in content
    assert hashlib.sha256(tokens["all"].encode()).hexdigest() in content

    listed = stack.run_cli("token", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {r["name"]: r for r in json.loads(listed.stdout)}
    assert rows["http-tests-contractor"]["sources"] == ["contractor"] and rows["http-tests"]["sources"] == []
    assert "sha256" not in listed.stdout

    short_lived = create_token(stack, "http-tests-revoked")
    duplicate = stack.run_cli("token", "create", "http-tests-revoked")
    assert duplicate.returncode == 2 and "exists already" in duplicate.stderr
    bad_source = stack.run_cli("token", "create", "x", "--source", "fax")
    assert bad_source.returncode == 2 and "fax" in bad_source.stderr
    doc = report("HTTP-REVOKE-1")
    url = stack.settings.api_base + "/v1/breaches"
    assert httpx.post(url, json=doc, headers=bearer(short_lived), timeout=30).status_code == 201
    revoked = stack.run_cli("token", "revoke", "http-tests-revoked")
    assert revoked.returncode == 0, revoked.stderr
    after = httpx.post(url, json=doc, headers=bearer(short_lived), timeout=30)
    assert after.status_code == 401 and after.json()["error"] == "unknown token"
    again = stack.run_cli("token", "revoke", "http-tests-revoked")
    assert again.returncode == 2 and "no token named" in again.stderr


async def test_refusals_are_logged_without_report_contents(api, stack, tokens):
    secret_summary = "LOGCANARY summary text that must never reach a log line"
    doc = report("HTTP-LOG-1", summary=secret_summary)
    await api.post("/v1/breaches", json=doc)
    await api.post("/v1/breaches", json=doc, headers=bearer(tokens["contractor"]))
    await api.post("/v1/breaches", json={**doc, "summary": secret_summary * 30_000}, headers=bearer(tokens["all"]))
    await api.post("/v1/breaches", json={**doc, "media": "LOGCANARY-media"}, headers=bearer(tokens["all"]))

    async def every_refusal_logged() -> bool:
        refusals = [line for line in stack.log.read_text().splitlines() if "request refused" in line]
        return all(any(f"status={status}" in line for line in refusals) for status in ("401", "403", "413", "422")) and any(
            "fields=['media']" in line for line in refusals)

    # The negative checks below read the log once the line of every refusal above is in it (to a deadline).
    await eventually(every_refusal_logged, timeout=15, interval=0.05)
    log = stack.log.read_text()
    assert "LOGCANARY" not in log
    assert doc["reported_by"]["email"] not in log
    assert tokens["all"] not in log and tokens["contractor"] not in log


# ---------------------------------------------------------------------- schemathesis


OPERATIONS = [("POST", "/v1/breaches"), ("GET", "/v1/breaches/{breach_id}"), ("GET", "/v1/health")]


@pytest.fixture(scope="module")
def api_schema(stack):
    loaded = schemathesis.openapi.from_url(stack.settings.api_base + "/openapi.json")
    found = {(op.ok().method.upper(), op.ok().path) for op in loaded.get_all_operations()}
    assert found == set(OPERATIONS), "a new route must be fuzzed too: add it to OPERATIONS"
    return loaded


@pytest.fixture(scope="module")
def fuzz_token(stack) -> str:
    return create_token(stack, "schemathesis")


def names_the_problem(ctx, response, case) -> None:
    """Every 4xx answers a JSON body that says what is wrong."""
    if 400 <= response.status_code < 500:
        body = response.json()
        assert isinstance(body, dict) and body.get("error") and body.get("detail"), f"{response.status_code} without a body naming the problem: {response.text[:300]}"
        if response.status_code == 422 and body["error"] == "invalid report":
            assert body["problems"] and all(p["field"] and p["message"] for p in body["problems"])


FUZZ = [
    (method, path, mode)
    for method, path in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if not (path == "/v1/health" and mode is GenerationMode.NEGATIVE)  # no input to get wrong
]


@pytest.mark.parametrize(("method", "path", "mode"), FUZZ, ids=[f"{m} {p} {g.value}" for m, p, g in FUZZ])
def test_api_against_its_openapi_document(api_schema, fuzz_token, method, path, mode):
    """No 5xx on any generated input (valid or not); every answer fits the documented codes,
    content types and schemas; every 4xx names the problem. 50 examples per operation and mode."""
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
    def run(case):
        case.call_and_validate(
            headers={"Authorization": f"Bearer {fuzz_token}"},
            checks=[not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance, names_the_problem],
            timeout=30,
        )

    run()


def test_api_port_in_use_is_a_clear_error(tmp_path):
    import socket

    from tests.support import LocalStack

    stack = LocalStack(tmp_path / "data")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        stack.env["BREACH_API_PORT"] = str(port)
        result = stack.run_cli("up", timeout=30)
    assert result.returncode == 2
    assert f"port {port} is already in use" in result.stderr and "BREACH_API_PORT" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout

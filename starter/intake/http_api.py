"""The HTTP intake API: integrations post breach reports and read a case's stage and clocks.

    POST /v1/breaches          one report (intake contract v1)  -> 201 new case, 200 existing,
                                                                   202 spooled (Temporal away)
    GET  /v1/breaches/{id}     stage, status and clocks of a case (no personal data)
    GET  /v1/health            liveness, Temporal reachability, spooled reports (no token)
    GET  /docs, /openapi.json  the OpenAPI documentation

Every route but the health check needs ``Authorization: Bearer <token>`` (`breach token
create NAME [--source S ...]`). Checks run in this order and every refusal answers a JSON
body naming the problem: 401 (no or unknown token; repeated from one address, answered more
slowly and then refused with 429 for a while, see starter/intake/throttle.py), 413 (body over 1 MiB), 422 (invalid
report: every offending field), 403 (token not allowed for the report's source). Refusals
are logged with the status, the reason, the token's name and the offending field names,
never with report contents.

When Temporal cannot be reached, a valid report is written to the durable spool and
answered 202 with its breach id; `breach up` files it when Temporal is back.

`breach up` serves this app on 127.0.0.1:BREACH_API_PORT. It can also run on its own
against a configured Temporal (one shared client; the spool is drained in the background):

    uvicorn --factory starter.intake.http_api:app_from_env --host 127.0.0.1 --port 8235
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any, Literal

import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import Client

from models.intake import IntakeReport, Source, breach_id_of
from starter.intake.filing import InvalidReport, parse_for_filing
from starter.intake.service import Accepted, CaseStatus, IntakeService, NotFileable
from starter.intake.throttle import FailureThrottle
from starter.intake.tokens import TokenRecord
from worker.config import Settings

log = structlog.get_logger("breach.api")

MAX_BODY = 1024 * 1024  # 1 MiB; the contract's largest field (summary) is 20,000 characters
BREACH_ID = re.compile(r"^(?:breach-)?([a-z_]+)-[A-Za-z0-9._-]+$")


# ---------------------------------------------------------------------- answers


class FieldProblem(BaseModel):
    field: str = Field(description="dotted path of the offending field, `(body)` for the document itself")
    message: str


class Problem(BaseModel):
    """The body of every 4xx and 5xx answer."""

    error: str = Field(description="short name of the problem, e.g. `invalid report`, `unknown token`")
    detail: str = Field(description="what went wrong and what to do, in one or two sentences")
    problems: list[FieldProblem] | None = Field(None, description="for `invalid report`: every offending field")


class Health(BaseModel):
    status: Literal["ok"]
    temporal: Literal["reachable", "unreachable"]
    spooled: int = Field(description="reports waiting in the spool for Temporal")


def problem(status: int, error: str, detail: str, problems: list[tuple[str, str]] | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": error, "detail": detail}
    if problems is not None:
        body["problems"] = [{"field": f, "message": m} for f, m in problems]
    return JSONResponse(body, status_code=status, headers=headers)


# ---------------------------------------------------------------------- the app

_bearer = HTTPBearer(auto_error=False, description="An integration's token from `breach token create NAME`.")
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]

_REFUSALS = {
    401: {"model": Problem, "description": "no bearer token, or an unknown or revoked one (repeated failures from one address are answered more slowly)"},
    429: {"model": Problem, "description": "this address sent too many unknown or missing tokens; wait `Retry-After` seconds"},
    403: {"model": Problem, "description": "the token is not allowed for this report's (or case's) source"},
}

_INTAKE_EXAMPLE = {
    "external_id": "INC-2026-0042",
    "source": "api",
    "reported_by": {"name": "Pat Doe", "email": "pat.doe@example.gov", "organization": "Office of IT", "role": "employee"},
    "system_id": "CLAIMS-ANALYTICS-EXTRACT",
    "discovered_at": "2026-11-20T07:55:00-05:00",
    "reported_at": "2026-11-20T08:30:00-05:00",
    "summary": "A misdirected email with a claims extract attached.",
    "data_elements": ["name", "medicare_id"],
    "estimated_individuals": 12,
    "media": "email",
    "intent": "unintentional",
    "recipient": "known_external",
}


def create_app(service: IntakeService, *, drain_spool: bool = False, throttle: FailureThrottle | None = None,
               sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> FastAPI:
    """The FastAPI app over ``service``; ``drain_spool`` runs the spool drainer in the app's lifespan
    (for a stand-alone API process; `breach up` runs the drainer itself). ``throttle`` (default from
    the settings) slows and then refuses repeated 401s of one address; ``sleep`` makes its delays."""
    settings = service.settings
    throttle = throttle or FailureThrottle(limit=settings.api_auth_failures_limit, window=600.0, block=settings.api_auth_block_minutes * 60)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(service.drain_forever(stop)) if drain_spool else None
        try:
            yield
        finally:
            stop.set()
            if task:
                await task

    app = FastAPI(
        title="Breach intake API",
        version="1",
        description=(
            "Start breach cases from integrations (intake contract v1) and follow where they stand. "
            "Authenticate with `Authorization: Bearer <token>`; an operator creates tokens with "
            "`breach token create NAME [--source S ...]`. Every error answer is a JSON object "
            "`{error, detail, problems?}` naming the problem."
        ),
        lifespan=lifespan,
    )
    def refused(request: Request, status: int, error: str, detail: str, token: TokenRecord | None = None, problems: list[tuple[str, str]] | None = None) -> JSONResponse:
        context = {
            "status": status,
            "reason": error,
            "method": request.method,
            "path": request.url.path,
            "client": request.client.host if request.client else None,
            "token": token.name if token else None,
            "fields": sorted({f for f, _ in problems}) if problems else None,
        }
        log.warning("request refused", **{k: v for k, v in context.items() if v is not None})
        headers = {"WWW-Authenticate": 'Bearer realm="breach"'} if status == 401 else None
        return problem(status, error, detail, problems, headers)

    async def authenticate(request: Request, credentials: HTTPAuthorizationCredentials | None) -> TokenRecord | JSONResponse:
        address = request.client.host if request.client else "unknown"
        if (wait := throttle.retry_after(address)) is not None:
            answer = refused(request, 429, "too many failed attempts", f"this address sent too many unknown or missing tokens; try again in {wait:.0f} s")
            answer.headers["Retry-After"] = str(max(1, round(wait)))
            return answer
        if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
            return await unauthenticated(request, address, "missing bearer token", "send the header `Authorization: Bearer <token>`; an operator creates tokens with `breach token create NAME`")
        record = service.tokens.authenticate(credentials.credentials)
        if record is None:
            return await unauthenticated(request, address, "unknown token", "this bearer token is unknown or has been revoked; ask an operator for a token (`breach token create NAME`)")
        throttle.succeeded(address)
        return record

    async def unauthenticated(request: Request, address: str, error: str, detail: str) -> JSONResponse:
        delay, blocked = throttle.failed(address)
        if blocked:
            log.warning("client blocked after repeated failed authentication", client=address, minutes=round(throttle.block / 60, 1))
        elif delay:
            log.warning("failed authentication slowed", client=address, delay_seconds=delay)
            await sleep(delay)
        return refused(request, 401, error, detail)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return problem(404, "not found", f"there is no {request.url.path} on this API; see /docs", headers=exc.headers)
        if exc.status_code == 405:
            return problem(405, "method not allowed", f"{request.method} is not allowed on {request.url.path}; see /docs", headers=exc.headers)
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return problem(exc.status_code, detail.lower(), f"{detail} ({request.method} {request.url.path}); see /docs", headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors()]
        return refused(request, 422, "invalid request", "the request does not fit the API; see /docs", problems=problems)

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("request failed", method=request.method, path=request.url.path)
        return problem(500, "internal error", f"the API failed on this request ({type(exc).__name__}); it is logged; retry later or tell the operators")

    @app.post(
        "/v1/breaches",
        status_code=201,
        summary="File one breach report",
        response_model=Accepted,
        responses={
            200: {"model": Accepted, "description": "the same source + external_id was filed before: the existing case; nothing new was started"},
            201: {"model": Accepted, "description": "a new case was started"},
            202: {"model": Accepted, "description": "Temporal is unreachable: the report is stored durably and will be filed when it is back"},
            **_REFUSALS,
            413: {"model": Problem, "description": "the body is larger than 1 MiB"},
            422: {"model": Problem, "description": "the report breaks the intake contract (or Temporal refused it); `problems` names every offending field; nothing was started"},
            503: {"model": Problem, "description": "Temporal is unreachable and the report could not be stored either; send it again"},
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "description": "One report, as in the intake contract v1. The same source + external_id always maps to the same case.",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/IntakeReport"}, "example": _INTAKE_EXAMPLE}},
            }
        },
    )
    async def post_breach(request: Request, credentials: Bearer = None) -> Any:
        """Validate a report and start its case.

        Answers 201 with the breach id for a new case, 200 with the existing case when the same
        source + external_id was filed before, and 202 when Temporal is unreachable (the report is
        kept on disk and filed when Temporal is back). The answer carries the breach id, the
        workflow id, the case's status URL and its link in the Temporal Web UI.
        """
        token = await authenticate(request, credentials)
        if isinstance(token, JSONResponse):
            return token
        too_big = f"the limit is {MAX_BODY} bytes (1 MiB); send one report per request and reference rosters by roster_uri, never inline"
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_BODY:
            return refused(request, 413, "report too large", f"the body has {int(length)} bytes; {too_big}", token)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                return refused(request, 413, "report too large", f"the body is over {MAX_BODY} bytes; {too_big}", token)
        try:
            report = parse_for_filing(bytes(body))
        except InvalidReport as exc:
            return refused(request, 422, "invalid report", f"the report breaks the intake contract in {len(exc.problems)} place(s); nothing was started", token, exc.problems)
        if not token.allows(report.source):
            return refused(request, 403, "source not allowed", f"token {token.name!r} may file reports for {token.scope}, not for source {report.source.value!r}", token)
        try:
            accepted = await service.accept(report)
        except NotFileable as exc:
            log.error("Temporal refused a report", breach_id=report.breach_id, error=str(exc))
            message = f"Temporal refused to start this case: {exc}"
            return refused(request, 422, "report not accepted", f"{message}; nothing was started", token, [("(report)", message)])
        except OSError as exc:
            log.error("report neither filed nor spooled", breach_id=report.breach_id, error=str(exc))
            return problem(503, "not accepted", "Temporal is unreachable and the report could not be stored; nothing was kept: send it again later")
        status = {"filed": 201, "existing": 200, "spooled": 202}[accepted.status]
        log.info("report accepted", breach_id=accepted.breach_id, status=accepted.status, token=token.name)
        return JSONResponse(accepted.model_dump(mode="json"), status_code=status, headers={"Location": accepted.status_url})

    @app.get(
        "/v1/breaches/{breach_id}",
        summary="Where a case stands",
        response_model=CaseStatus,
        responses={
            **_REFUSALS,
            404: {"model": Problem, "description": "no case with this id"},
            503: {"model": Problem, "description": "Temporal (or the worker answering the query) is unreachable; retry"},
        },
    )
    async def get_breach(breach_id: str, request: Request, credentials: Bearer = None) -> Any:
        """The case's stage, status and clocks (from the workflow's `details` query; no personal data).

        ``breach_id`` is the breach id from the intake answer (``<source>-<external id>``) or the
        workflow id (``breach-<breach id>``). A token limited to some sources sees only their cases.
        """
        token = await authenticate(request, credentials)
        if isinstance(token, JSONResponse):
            return token
        match = BREACH_ID.match(breach_id)
        if not match or match.group(1) not in Source.__members__:
            return problem(404, "no such case", f"{breach_id!r} is not a breach id (<source>-<external id>, as answered at intake)")
        bid = breach_id_of(breach_id)
        if not token.allows(match.group(1)):
            return refused(request, 403, "source not allowed", f"token {token.name!r} may read cases of {token.scope}, not of source {match.group(1)!r}", token)
        if service.temporal_away() and service.spool.contains(bid):
            return service.spooled_status(bid).model_dump(mode="json")
        try:
            found = await service.case_status(bid)
        except Exception as exc:  # noqa: BLE001
            if service.spool.contains(bid):
                return service.spooled_status(bid).model_dump(mode="json")
            log.warning("case status unavailable", breach_id=bid, error=str(exc) or type(exc).__name__)
            return problem(503, "temporal unavailable", "the case cannot be read now (Temporal or its worker does not answer); retry shortly")
        if found is None:
            if service.spool.contains(bid):
                return service.spooled_status(bid).model_dump(mode="json")
            return problem(404, "no such case", f"there is no case {bid!r}")
        return found.model_dump(mode="json")

    @app.get("/v1/health", summary="Is the API up, is Temporal reachable", response_model=Health)
    async def health() -> Health:
        """No token needed; tells nothing about cases beyond how many reports wait in the spool."""
        reachable = await service.temporal_reachable()
        return Health(status="ok", temporal="reachable" if reachable else "unreachable", spooled=await asyncio.to_thread(service.spool.count))

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        report = IntakeReport.model_json_schema(ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(report.pop("$defs", {}))
        components["IntakeReport"] = report
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def app_from_env() -> FastAPI:
    """A stand-alone API process on the ``BREACH_*`` settings (uvicorn --factory)."""
    from worker.converter import data_converter

    settings = Settings()
    service = IntakeService(settings)
    app = create_app(service, drain_spool=True)
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[None]:
        service.client = await Client.connect(settings.address, namespace=settings.temporal_namespace, data_converter=data_converter(settings), lazy=True)
        async with inner(a):
            yield

    app.router.lifespan_context = lifespan
    return app

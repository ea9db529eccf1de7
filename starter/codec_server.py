"""Codec server: lets the Temporal Web UI (and `temporal` CLI) show decrypted payloads.

The UI posts ``{"payloads": [...]}`` (protobuf JSON) to ``/decode`` from the browser, so
the server answers CORS for the UI's origin only. It binds to 127.0.0.1 by default:
anyone who can reach it can decrypt payloads.
"""

from __future__ import annotations

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads
from temporalio.converter import PayloadCodec

from worker.codec import DecryptionError
from worker.config import Settings


def ui_origins(settings: Settings) -> list[str]:
    base = settings.ui_base
    origins = {base}
    if "127.0.0.1" in base:
        origins.add(base.replace("127.0.0.1", "localhost"))
    return sorted(origins)


def codec_app(codec: PayloadCodec, settings: Settings) -> FastAPI:
    app = FastAPI(title="breach codec server", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=ui_origins(settings),
        allow_methods=["POST", "OPTIONS"],
        allow_headers=["*"],
        allow_credentials=True,
    )

    async def _apply(request: Request, op) -> Response:
        try:
            payloads = json_format.Parse(await request.body(), Payloads())
        except json_format.ParseError as exc:
            raise HTTPException(400, f"body is not a Payloads JSON document: {exc}") from None
        try:
            result = Payloads(payloads=await op(payloads.payloads))
        except DecryptionError as exc:
            raise HTTPException(422, str(exc)) from None
        return Response(json_format.MessageToJson(result), media_type="application/json")

    @app.post("/encode")
    async def encode(request: Request) -> Response:
        return await _apply(request, codec.encode)

    @app.post("/decode")
    async def decode(request: Request) -> Response:
        return await _apply(request, codec.decode)

    return app

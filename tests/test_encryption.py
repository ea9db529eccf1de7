"""Encrypted payloads: the codec, key files and rotation, and a canary that must never reach
the dev server's database in clear while it still decodes through the codec server."""

from __future__ import annotations

import base64
import json
import os
import stat
import uuid

import httpx
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from models.case_state import CaseInput
from tests.support import REPORTS, eventually
from worker import keys
from worker.codec import ENCODING, KEY_ID, REFUSED, DecryptionError, EncryptionCodec
from worker.converter import CasePayloadConverter
from workflows.breach import BreachResponseWorkflow


def payload(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(text).encode())


async def test_round_trip_and_key_id_in_metadata(tmp_path):
    ring = keys.load_or_create(tmp_path / "k.json")
    codec = EncryptionCodec(ring)
    (sealed,) = await codec.encode([payload("secret")])
    assert sealed.metadata["encoding"] == ENCODING
    assert sealed.metadata[KEY_ID].decode() == ring.current_id
    assert b"secret" not in sealed.data
    assert await codec.decode([sealed]) == [payload("secret")]


async def test_rotation_keeps_old_payloads_readable(tmp_path):
    path = tmp_path / "k.json"
    old_ring = keys.load_or_create(path)
    (old,) = await EncryptionCodec(old_ring).encode([payload("before rotation")])
    new_ring = keys.rotate(path)
    assert new_ring.current_id != old_ring.current_id and old_ring.current_id in new_ring.keys
    codec = EncryptionCodec(keys.read_key_file(path))
    (new,) = await codec.encode([payload("after")])
    assert new.metadata[KEY_ID].decode() == new_ring.current_id
    assert await codec.decode([old, new]) == [payload("before rotation"), payload("after")]


async def refused_reason(codec: EncryptionCodec, sealed: Payload) -> str:
    """What reading ``sealed`` through ``codec`` and the project's converter says."""
    (decoded,) = await codec.decode([sealed])
    assert decoded.metadata["encoding"] == REFUSED.encode()
    with pytest.raises(DecryptionError) as info:
        CasePayloadConverter().from_payloads([decoded], [str])
    return str(info.value)


async def test_tampered_or_unknown_key_is_refused(tmp_path):
    codec = EncryptionCodec(keys.load_or_create(tmp_path / "k.json"))
    (sealed,) = await codec.encode([payload("x")])
    tampered = Payload(metadata=dict(sealed.metadata), data=sealed.data[:-1] + bytes([sealed.data[-1] ^ 1]))
    assert "failed authentication" in await refused_reason(codec, tampered)
    other = EncryptionCodec(keys.load_or_create(tmp_path / "other.json"))
    assert "which this key ring does not have" in await refused_reason(other, sealed)


async def test_unencrypted_payloads_are_refused_not_passed_through(tmp_path):
    """Issue 14: a plain client's payload used to reach the workflow as it was."""
    codec = EncryptionCodec(keys.load_or_create(tmp_path / "k.json"))
    reason = await refused_reason(codec, payload("plain"))
    assert "not encrypted" in reason and "json/plain" in reason
    # A refusal decoded again keeps its first reason.
    (once,) = await codec.decode([payload("plain")])
    assert await codec.decode([once]) == [once]


def test_key_file_is_created_private(tmp_path):
    path = tmp_path / "keys" / "payload-keys.json"
    ring = keys.load_or_create(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert keys.load_or_create(path) == ring  # second run reads, does not replace


def test_key_from_environment_setting():
    k1, k2 = base64.b64encode(b"a" * 32).decode(), base64.b64encode(b"b" * 32).decode()
    ring = keys.parse_key_setting(f"new:{k2},old:{k1}")
    assert ring.current_id == "new" and set(ring.keys) == {"new", "old"}
    with pytest.raises(keys.KeySettingError, match="32 bytes"):
        keys.parse_key_setting("short:" + base64.b64encode(b"abc").decode())
    with pytest.raises(keys.KeySettingError, match="id:base64key"):
        keys.parse_key_setting(k1)
    with pytest.raises(keys.KeySettingError, match="not valid base64"):
        keys.parse_key_setting("x:@@@")


def test_malformed_key_file_is_a_clear_error(tmp_path):
    path = tmp_path / "k.json"
    path.write_text("{}")
    with pytest.raises(keys.KeySettingError, match="malformed"):
        keys.load_or_create(path)


@pytest.mark.e2e
async def test_canary_never_reaches_server_database_in_clear(stack, client):
    canary = f"CANARY-{uuid.uuid4().hex}"
    doc = json.loads((REPORTS / "qecp-public-pdfs.json").read_text())
    doc.update(external_id=f"CANARY-{canary[-8:]}", summary=f"Summary holding {canary} for the test.")
    result = stack.run_cli("report", "-", "--json", input=json.dumps(doc))
    assert result.returncode == 0, result.stderr
    handle = client.get_workflow_handle(json.loads(result.stdout)["workflow_id"])

    async def reported() -> bool:
        return bool((await handle.query(BreachResponseWorkflow.details)).outbox)

    await eventually(reported)

    db_files = sorted(stack.data_dir.glob("temporal.db*"))
    assert db_files, "the dev server persists to SQLite in the data folder"
    for path in db_files:
        assert canary.encode() not in path.read_bytes(), f"canary found in clear in {path.name}"

    history = await handle.fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    raw = started.input.payloads[0]
    assert raw.metadata["encoding"] == ENCODING
    (case_input,) = await client.data_converter.decode(started.input.payloads, [CaseInput])
    assert canary in case_input.report.summary

    # The codec server that the Web UI is wired to decodes the same payload.
    body = json_format.MessageToJson(Payloads(payloads=[raw]))
    ui_origin = stack.settings.ui_base
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{stack.settings.codec_endpoint}/decode", content=body, headers={"Content-Type": "application/json", "Origin": ui_origin})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ui_origin
    decoded = json_format.Parse(response.text, Payloads())
    assert canary in decoded.payloads[0].data.decode()

"""AES-256-GCM payload codec: every payload that reaches Temporal is encrypted, and only
encrypted payloads are read.

The key id travels in the payload metadata so keys can rotate: new payloads use the
current key, old ones decode with the key they name.

Decoding refuses, rather than passes through, any payload that is not ours: a payload
that is not encrypted, names a key id the ring does not have, or fails AES-GCM
authentication (forged or tampered). Someone who can reach Temporal but has no key could
otherwise start or steer a case with plaintext input (issue 14: a case was terminated and
restarted in plaintext, its carried state naming the attacker's key as an operator). A
refused payload is replaced by a *refusal*: a payload of encoding ``binary/refused`` whose
data is the reason. Converting it to a value raises ``DecryptionError`` with that reason,
so the attempt fails where it lands and changes nothing:

- a workflow started with refused input fails its workflow task, visibly in the Web UI
  ("Failed decoding arguments", caused by the reason), and never runs a line of the case;
- an update or query with refused arguments is rejected before any handler runs;
- a signal with refused arguments is dropped by the SDK, with an error in the worker log
  (raising in the codec instead would wedge the case: the signal stays in its history and
  every replay would fail);
- a client reading a refused result gets ``DecryptionError``, not a value.

Every refusal is logged (reason, key id, workflow id; never the payload). Search
attributes and headers are not run through codecs by the SDK, so they stay readable (they
hold no personal data).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import structlog
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import EncodingPayloadConverter, PayloadCodec, SerializationContext, WithSerializationContext

from worker.keys import KeyRing

ENCODING = b"binary/encrypted"
REFUSED = "binary/refused"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12

log = structlog.get_logger("breach.codec")


class DecryptionError(ValueError):
    """A payload that was refused: not encrypted, under an unknown key, or failing authentication.

    A ``ValueError`` (not a ``RuntimeError``) so the SDK's payload converter passes it on
    with its reason instead of wrapping it in "could not be converted".
    """


def refusal(reason: str) -> Payload:
    return Payload(metadata={"encoding": REFUSED.encode()}, data=reason.encode())


class RefusalPayloadConverter(EncodingPayloadConverter):
    """The payload converter's side of a refusal: never encodes, and reading raises the reason."""

    @property
    def encoding(self) -> str:
        return REFUSED

    def to_payload(self, value: Any) -> Payload | None:
        return None

    def from_payload(self, payload: Payload, type_hint: type | None = None) -> Any:
        raise DecryptionError(f"payload refused: {payload.data.decode(errors='replace')}")


class EncryptionCodec(PayloadCodec, WithSerializationContext):
    def __init__(self, ring: KeyRing, *, log_refusals: bool = True) -> None:
        """``log_refusals``: False in one-shot commands, which report a refused answer as their error."""
        self._ring = ring
        self._ciphers = {key_id: AESGCM(key) for key_id, key in ring.keys.items()}
        self._log_refusals = log_refusals
        self._workflow_id: str | None = None

    @property
    def ring(self) -> KeyRing:
        return self._ring

    def with_context(self, context: SerializationContext) -> EncryptionCodec:
        """The same codec, naming the workflow in its refusal log lines."""
        copy = EncryptionCodec.__new__(EncryptionCodec)
        copy._ring, copy._ciphers, copy._log_refusals = self._ring, self._ciphers, self._log_refusals
        copy._workflow_id = getattr(context, "workflow_id", None)
        return copy

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        key_id = self._ring.current_id
        cipher = self._ciphers[key_id]
        out = []
        for payload in payloads:
            nonce = os.urandom(NONCE_BYTES)
            sealed = cipher.encrypt(nonce, payload.SerializeToString(), key_id.encode())
            out.append(Payload(metadata={"encoding": ENCODING, KEY_ID: key_id.encode()}, data=nonce + sealed))
        return out

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._open(payload) for payload in payloads]

    def _open(self, payload: Payload) -> Payload:
        encoding = payload.metadata.get("encoding", b"")
        if encoding == REFUSED.encode():
            return payload  # already refused (decoded twice): keep the first reason
        if encoding != ENCODING:
            return self._refuse(f"not encrypted (encoding {encoding.decode(errors='replace') or 'none'!r}); "
                                "only payloads encrypted under the service's payload key are accepted", None)
        key_id = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            return self._refuse(f"encrypted under key id {key_id!r}, which this key ring does not have "
                                f"(it has {', '.join(sorted(self._ring.keys))}); restore the key file that held it", key_id)
        try:
            plain = cipher.decrypt(payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:], key_id.encode())
        except InvalidTag:
            return self._refuse(f"under key id {key_id!r} failed authentication (forged or tampered)", key_id)
        return Payload.FromString(plain)

    def _refuse(self, reason: str, key_id: str | None) -> Payload:
        if self._log_refusals:
            log.warning("payload_refused", reason=reason, key_id=key_id, workflow_id=self._workflow_id)
        return refusal(reason)

"""Operators and signed decisions: who may act on a case, proven by an Ed25519 signature.

Temporal does not tell an update handler who sent it, so every decision carries a
signature over its canonical bytes (case, decision, decision id, actor, rationale,
payload, signing time). The workflow verifies it against the operators registered for
the case. Verification is pure computation, so it is safe inside workflow code.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Annotated, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from models.roles import Role

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class Operator(BaseModel):
    """One person: the roles they hold and their Ed25519 public key (raw 32 bytes, base64)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    roles: list[Role] = Field(min_length=1)
    public_key: str

    @field_validator("public_key")
    @classmethod
    def _is_ed25519(cls, value: str) -> str:
        try:
            raw = base64.b64decode(value, validate=True)
        except ValueError:
            raise ValueError("public_key must be base64") from None
        if len(raw) != 32:
            raise ValueError("public_key must be a raw Ed25519 key of 32 bytes")
        return value


class OperatorRoster(BaseModel):
    model_config = ConfigDict(extra="forbid")

    operators: list[Operator] = []

    @field_validator("operators")
    @classmethod
    def _unique_names(cls, operators: list[Operator]) -> list[Operator]:
        names = [o.name for o in operators]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"operator names must be unique; repeated: {', '.join(dupes)}")
        return operators

    def get(self, name: str) -> Operator | None:
        return next((o for o in self.operators if o.name == name), None)


def signing_bytes(case: str, decision: str, decision_id: str, actor: dict[str, Any], rationale: str | None, payload: dict[str, Any], signed_at: datetime) -> bytes:
    """The exact bytes a signature covers: canonical JSON (sorted keys, no spaces)."""
    body = {
        "case": case,
        "decision": decision,
        "decision_id": decision_id,
        "actor": actor,
        "rationale": rationale,
        "payload": payload,
        "signed_at": signed_at.isoformat(),
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()


def signature_valid(public_key_b64: str, signature_b64: str, message: bytes) -> bool:
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))
        key.verify(base64.b64decode(signature_b64, validate=True), message)
    except (InvalidSignature, ValueError):
        return False
    return True


def read_roster(path) -> OperatorRoster:
    """The operators file (YAML or JSON: ``operators: [{name, roles, public_key}]``); missing = empty."""
    from pathlib import Path

    import yaml

    file = Path(path)
    if not file.exists():
        return OperatorRoster()
    return OperatorRoster.model_validate(yaml.safe_load(file.read_text()) or {})

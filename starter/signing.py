"""Operator keys and decision signing on the operator's side.

A person's private key never leaves their machine (written with 0600 permissions); the
operators file holds only names, roles and public keys (0644: it holds no secret), and
is what the worker loads into each case. Both are written by
``activities.durable`` (the key with ``create_once``, so an existing key is never replaced).
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from pathlib import Path

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from activities.durable import create_once, write_atomic
from models.decisions import Decision, Role
from models.operators import Operator, OperatorRoster, read_roster, signing_bytes


def key_file_for(key_dir: Path, name: str) -> Path:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "operator"
    return Path(key_dir) / f"{slug}.pem"


def public_key_b64(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def generate_key(path: Path) -> Ed25519PrivateKey:
    """A new Ed25519 key written as PKCS#8 PEM, readable by its owner only. Never overwrites."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    if not create_once(path, pem, mode=0o600):  # an existing key wins, even against a racing writer
        raise FileExistsError(f"a private key already exists at {path}")
    return key


def load_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except FileNotFoundError:
        raise ValueError(f"no private key at {path}; create one with `breach operator add`") from None
    except ValueError as exc:
        raise ValueError(f"{path} is not a PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 key")
    return key


def write_roster(path: Path, roster: OperatorRoster) -> None:
    write_atomic(path, yaml.safe_dump(roster.model_dump(mode="json"), sort_keys=False).encode(), mode=0o600)


def add_operator(roster_path: Path, key_dir: Path, name: str, roles: list[Role]) -> tuple[Operator, Path]:
    """Create ``name``'s key pair and register their public key and roles in the operators file."""
    roster = read_roster(roster_path)
    if roster.get(name):
        raise ValueError(f"operator {name!r} is already in {roster_path}; remove them first to replace the key")
    key_path = key_file_for(key_dir, name)
    if key_path.exists():
        raise ValueError(f"a private key already exists at {key_path}; move it away or use another name")
    operator = Operator(name=name, roles=roles, public_key=public_key_b64(generate_key(key_path)))
    write_roster(roster_path, OperatorRoster(operators=[*roster.operators, operator]))
    return operator, key_path


def sign(decision: Decision, *, case: str, decision_name: str, key: Ed25519PrivateKey, at: datetime | None = None) -> Decision:
    """``decision`` with its signing time and signature; ``case`` is the workflow id."""
    signed_at = at or datetime.now(UTC)
    message = signing_bytes(case, decision_name, decision.decision_id, decision.actor.model_dump(mode="json"), decision.rationale, decision.payload, signed_at)
    return decision.model_copy(update={"signed_at": signed_at, "signature": base64.b64encode(key.sign(message)).decode()})

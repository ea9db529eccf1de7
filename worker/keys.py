"""Payload encryption keys: a key ring with one current key and older keys kept for reading.

Keys come from ``BREACH_PAYLOAD_KEYS`` (``id:base64,...``, first current) or from a JSON key
file created on first run with 0600 permissions. Rotating adds a key and makes it
current; old keys stay so histories written under them still decode.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from activities.durable import write_atomic

KEY_BYTES = 32


class KeySettingError(ValueError):
    """A key setting or key file that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class KeyRing:
    current_id: str
    keys: dict[str, bytes]

    def __post_init__(self) -> None:
        if self.current_id not in self.keys:
            raise KeySettingError(f"current key id {self.current_id!r} has no key")
        for key_id, key in self.keys.items():
            if len(key) != KEY_BYTES:
                raise KeySettingError(f"key {key_id!r} must be {KEY_BYTES} bytes (AES-256), got {len(key)}")


def _decode(key_id: str, text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise KeySettingError(f"key {key_id!r} is not valid base64") from exc


def parse_key_setting(value: str) -> KeyRing:
    """``id:base64[,id:base64...]`` → key ring whose first entry is current."""
    entries = [part.strip() for part in value.split(",") if part.strip()]
    if not entries:
        raise KeySettingError("BREACH_PAYLOAD_KEYS is empty")
    keys: dict[str, bytes] = {}
    for entry in entries:
        key_id, sep, text = entry.partition(":")
        if not sep or not key_id:
            raise KeySettingError("BREACH_PAYLOAD_KEYS entries must look like id:base64key")
        keys[key_id] = _decode(key_id, text)
    return KeyRing(entries[0].partition(":")[0], keys)


def _new_key_id() -> str:
    return datetime.now(UTC).strftime("k%Y%m%dT%H%M%S") + "-" + secrets.token_hex(2)


def _write_private(path: Path, ring: KeyRing) -> None:
    """Write the key file atomically with 0600 permissions from the first byte (a new folder is 0700)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    doc = {"current": ring.current_id, "keys": {k: base64.b64encode(v).decode() for k, v in ring.keys.items()}}
    write_atomic(path, json.dumps(doc, indent=2).encode(), mode=0o600)


def read_key_file(path: Path) -> KeyRing:
    try:
        doc = json.loads(path.read_text())
        return KeyRing(doc["current"], {k: _decode(k, v) for k, v in doc["keys"].items()})
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise KeySettingError(f"key file {path} is unreadable or malformed: {exc}") from exc


def load_or_create(path: Path) -> KeyRing:
    """The key file's ring, creating the file with a fresh key when it does not exist."""
    if path.exists():
        return read_key_file(path)
    key_id = _new_key_id()
    ring = KeyRing(key_id, {key_id: secrets.token_bytes(KEY_BYTES)})
    _write_private(path, ring)
    return ring


def rotate(path: Path) -> KeyRing:
    """Add a fresh current key to the key file; older keys remain for decoding."""
    ring = load_or_create(path)
    key_id = _new_key_id()
    while key_id in ring.keys:
        key_id += "x"
    rotated = KeyRing(key_id, {key_id: secrets.token_bytes(KEY_BYTES), **ring.keys})
    _write_private(path, rotated)
    return rotated

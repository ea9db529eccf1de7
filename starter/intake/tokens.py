"""Bearer tokens of the HTTP intake API, one per integration.

A token is shown once, when `breach token create NAME` makes it; the file
``<data_dir>/api-tokens.json`` (0600) keeps only its SHA-256, its name, the sources it may
file reports for (none listed = every source) and when it was made. The API re-reads the
file when it changes, so a new or revoked token takes effect without a restart.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field, TypeAdapter

from activities.durable import write_atomic
from models.intake import Source

TOKEN_PREFIX = "brt_"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class TokenError(ValueError):
    """A token command that cannot be done, phrased for the operator."""


class TokenRecord(BaseModel):
    name: str
    sha256: str
    sources: list[Source] = Field(default_factory=list, description="sources this token may file for; empty = every source")
    created_at: datetime

    def allows(self, source: Source | str) -> bool:
        return not self.sources or Source(source) in self.sources

    @property
    def scope(self) -> str:
        return ", ".join(s.value for s in self.sources) if self.sources else "every source"


_RECORDS = TypeAdapter(list[TokenRecord])


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    """The token file: create, list and revoke (CLI), authenticate (API)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self._by_digest: dict[str, TokenRecord] = {}

    # ------------------------------------------------------------------ file

    def _read(self) -> list[TokenRecord]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            raise TokenError(f"cannot read the token file {self.path}: {exc}") from None
        return _RECORDS.validate_python(data.get("tokens", []))

    def _write(self, records: list[TokenRecord]) -> None:
        body = {"version": 1, "note": "SHA-256 digests of API tokens; the tokens themselves are never stored", "tokens": _RECORDS.dump_python(records, mode="json")}
        write_atomic(self.path, (json.dumps(body, indent=2) + "\n").encode(), mode=0o600)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One writer at a time (two `breach token` commands at once must not lose a token)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.parent / f".{self.path.name}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    # ------------------------------------------------------------------ commands

    def create(self, name: str, sources: list[str] | None = None) -> str:
        """Add a token; returns the token itself, which is not stored anywhere."""
        if not NAME.match(name):
            raise TokenError(f"token name {name!r} is not allowed: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
        allowed = []
        for s in sources or []:
            try:
                allowed.append(Source(s))
            except ValueError:
                raise TokenError(f"unknown source {s!r}; sources are: {', '.join(x.value for x in Source)}") from None
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._locked():
            records = self._read()
            if any(r.name == name for r in records):
                raise TokenError(f"a token named {name!r} exists already; revoke it first (`breach token revoke {name}`) or choose another name")
            records.append(TokenRecord(name=name, sha256=digest(token), sources=sorted(set(allowed), key=list(Source).index), created_at=datetime.now(UTC).replace(microsecond=0)))
            self._write(records)
        return token

    def list(self) -> list[TokenRecord]:
        return self._read()

    def revoke(self, name: str) -> TokenRecord:
        with self._locked():
            records = self._read()
            found = next((r for r in records if r.name == name), None)
            if found is None:
                known = ", ".join(r.name for r in records) or "none"
                raise TokenError(f"no token named {name!r} (tokens: {known})")
            self._write([r for r in records if r.name != name])
        return found

    # ------------------------------------------------------------------ API

    def _refresh(self) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._stamp, self._by_digest = None, {}
            return
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if stamp != self._stamp:
            self._by_digest = {r.sha256: r for r in self._read()}
            self._stamp = stamp

    def authenticate(self, token: str) -> TokenRecord | None:
        """The record of ``token``, or None when it is unknown or revoked."""
        self._refresh()
        return self._by_digest.get(digest(token))

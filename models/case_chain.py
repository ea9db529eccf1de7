"""Each case's own audit chain, whose head lives in the case's workflow state.

The register's hash chain (``activities/audit.py``) detects a changed, removed or
inserted row, but not someone with write access who rewrites the whole table
consistently, or deletes a case's entries together with the head record (issue 14: both
passed ``verify``). So every audit entry a case writes also carries its place in a chain
of that case alone, under the reserved detail key ``case_chain``: ``{"seq": n, "hash": h}``
with ``h = sha256(h_{n-1} + digest)``, ``h_0 = GENESIS`` and ``digest`` the SHA-256 of the
entry's own content (canonical JSON, the ``case_chain`` key left out). The workflow
computes it before the entry is written and keeps the head (``CaseChain``) in its state,
that is in Temporal's store and not the register's. ``breach audit verify`` recomputes
every case's chain from the register and compares it with the head its workflow holds.

Pure functions (hashlib, json): the workflow runs them in replayed code.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

GENESIS = "0" * 64
CASE_CHAIN = "case_chain"
NUL, REPLACEMENT = "\x00", "\ufffd"


def storable(value: Any) -> Any:
    """``value`` as a text column of either database can hold it.

    PostgreSQL's text types cannot contain NUL (U+0000) and refuse the whole row (a
    register activity would then be retried for ever); SQLite stores it. Both get the
    replacement character U+FFFD instead, so the register reads the same on either.
    JSON columns keep NUL: it is written as the escape ``\\u0000``, which both accept.
    The case chain hashes text as it will be stored, so it uses the same rule.
    """
    if isinstance(value, str) and NUL in value:
        return value.replace(NUL, REPLACEMENT)
    return value


def rfc3339(at: datetime) -> str:
    """``at`` as RFC 3339 in UTC with microseconds; a naive time is taken as UTC (SQLite returns those)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


class CaseAnchor(BaseModel):
    """An entry's place in its case's chain."""

    seq: int
    hash: str


class CaseChain(BaseModel):
    """The head of a case's chain, in the workflow's state.

    ``legacy`` counts the entries the case wrote before its workflow anchored them (cases
    running when this chain was introduced): they carry no ``case_chain`` and only their
    number can be checked.
    """

    seq: int = 0
    hash: str = GENESIS
    legacy: int = 0


def content_digest(*, event_key: str, breach_id: str, at: datetime, kind: str, actor: str, role: str | None, detail: dict[str, Any]) -> str:
    """SHA-256 (hex) of an entry's content as the register stores it, without its ``case_chain``."""
    content = {k: storable(v) for k, v in {"event_key": event_key, "breach_id": breach_id, "kind": kind, "actor": actor, "role": role}.items()}
    content["at"] = rfc3339(at)
    content["detail"] = {k: v for k, v in json.loads(canonical_json(detail)).items() if k != CASE_CHAIN}
    return hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()


def link(prev_hash: str, digest: str) -> str:
    return hashlib.sha256((prev_hash + digest).encode("ascii")).hexdigest()

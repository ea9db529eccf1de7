"""Sending a decision to a case: one code path for the CLI, exercises and benchmarks.

The update id is derived from the whole signed decision, so a submission retried after
a network error is deduplicated by the server, and the workflow refuses a different
decision that reuses a decision id it has already applied.
"""

from __future__ import annotations

import hashlib

from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from models.decisions import Decision, DecisionOutcome


class DecisionRefused(Exception):
    """The case refused the decision; the message is the validator's reason."""


def update_id(name: str, decision: Decision) -> str:
    """The same submission retried gets the same update id (the server answers it once); a
    different decision reusing a decision id gets another, so the workflow refuses it."""
    digest = hashlib.sha256(name.encode() + b"\0" + decision.model_dump_json().encode()).hexdigest()[:16]
    return f"{decision.decision_id}:{digest}"


async def submit(handle: WorkflowHandle, name: str, decision: Decision) -> DecisionOutcome:
    try:
        return await handle.execute_update(name, decision, id=update_id(name, decision), result_type=DecisionOutcome)
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        raise DecisionRefused(getattr(cause, "message", None) or str(cause)) from None
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            raise DecisionRefused("the case is closed or does not exist; no decision can be applied") from None
        raise DecisionRefused(exc.message) from None

"""Sending a decision to a case: one code path for the CLI, exercises and benchmarks.

The decision id doubles as the Temporal update id, so a submission retried after a
network error is deduplicated by the server, and the workflow refuses an id it has
already applied.
"""

from __future__ import annotations

from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from models.decisions import Decision, DecisionOutcome


class DecisionRefused(Exception):
    """The case refused the decision; the message is the validator's reason."""


async def submit(handle: WorkflowHandle, name: str, decision: Decision) -> DecisionOutcome:
    try:
        return await handle.execute_update(name, decision, id=decision.decision_id, result_type=DecisionOutcome)
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        raise DecisionRefused(getattr(cause, "message", None) or str(cause)) from None
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            raise DecisionRefused("the case is closed or does not exist; no decision can be applied") from None
        raise DecisionRefused(exc.message) from None

"""Sending a decision to a case: one code path for the CLI, exercises and benchmarks.

The update id is derived from the whole signed decision, so a submission retried after
a network error is deduplicated by the server, and the workflow refuses a different
decision that reuses a decision id it has already applied.

Two failures are kept apart: ``models.decisions.DecisionRefused`` (the case said no, with
its reason; ``recorded`` when the case's handler refused it and so put it on the record,
not when the update's validator turned it away or the case is gone) and
``DecisionNotDelivered`` (Temporal could not be reached or did not answer in time, or the
case cannot take decisions for now because its workflow task keeps failing, so the sender
does not know whether the decision was applied; sending the same decision again is safe).
"""

from __future__ import annotations

import hashlib

from temporalio.api.errordetails.v1 import WorkflowNotReadyFailure
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from models.decisions import Decision, DecisionOutcome, DecisionRefused


class DecisionNotDelivered(Exception):
    """No answer from the case: Temporal was unreachable, overloaded or too slow. The decision
    may or may not have been applied; the same decision (same id) sent again applies once."""


# Failures of the connection or of the server, not answers from the case.
TRANSIENT = frozenset({RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED, RPCStatusCode.RESOURCE_EXHAUSTED, RPCStatusCode.ABORTED, RPCStatusCode.INTERNAL, RPCStatusCode.UNKNOWN})


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
        recorded = isinstance(cause, ApplicationError) and cause.type == DecisionRefused.__name__
        raise DecisionRefused(getattr(cause, "message", None) or str(cause), recorded=recorded) from None
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        raise DecisionNotDelivered("Temporal did not answer in time") from None
    except RPCError as exc:
        if exc.status in TRANSIENT:
            raise DecisionNotDelivered(f"Temporal could not be reached or failed ({exc.status.name}: {exc.message})") from None
        if _not_ready(exc):
            raise DecisionNotDelivered(f"the case cannot take decisions for now: its workflow task keeps failing and the server retries it ({exc.message})") from None
        if exc.status is RPCStatusCode.NOT_FOUND:
            raise DecisionRefused("the case is closed or does not exist; no decision can be applied") from None
        raise DecisionRefused(exc.message) from None


def _not_ready(exc: RPCError) -> bool:
    """The server turns updates away while the case's workflow task has failed several times
    in a row (a worker overloaded or crashing, or a fault being retried): no answer from the case."""
    return exc.status is RPCStatusCode.FAILED_PRECONDITION and any(d.Is(WorkflowNotReadyFailure.DESCRIPTOR) for d in exc.grpc_status.details)

"""`submit` tells a refusal by the case from a decision that never got an answer.

Found by the crash soak: while the dev server was down, `submit` turned the connection
error into ``DecisionRefused("tcp connect error")``, so the CLI printed "refused" and wrote
a refusal to the audit trail for a decision the case never saw. Under load, the same for
the server turning updates away while a case's workflow task keeps failing.
"""

from __future__ import annotations

import pytest
from google.protobuf.any_pb2 import Any
from temporalio.api.common.v1 import GrpcStatus
from temporalio.api.errordetails.v1 import WorkflowNotReadyFailure
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode

from models.decisions import Actor, Decision, DecisionRefused, Role
from starter.decisions import DecisionNotDelivered, submit


class FailingHandle:
    def __init__(self, error: BaseException) -> None:
        self.error = error

    async def execute_update(self, *args, **kwargs):
        raise self.error


DECISION = Decision(decision_id="d-1", actor=Actor(name="Sam Ortiz", role=Role.cms_sop), payload={"is_pii": True})


@pytest.mark.parametrize("status", [RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.RESOURCE_EXHAUSTED, RPCStatusCode.INTERNAL])
async def test_a_connection_or_server_failure_is_not_a_refusal(status):
    with pytest.raises(DecisionNotDelivered, match=status.name):
        await submit(FailingHandle(RPCError("tcp connect error", status, b"")), "confirm_pii", DECISION)


async def test_no_answer_in_time_is_not_a_refusal():
    with pytest.raises(DecisionNotDelivered, match="did not answer"):
        await submit(FailingHandle(WorkflowUpdateRPCTimeoutOrCancelledError()), "confirm_pii", DECISION)


async def test_a_case_whose_workflow_task_keeps_failing_has_not_refused():
    """Found by the crash soak under load: the server answers FAILED_PRECONDITION with a
    WorkflowNotReadyFailure while the case's workflow task keeps failing; that is no answer."""
    details = Any()
    details.Pack(WorkflowNotReadyFailure())
    status = GrpcStatus(code=RPCStatusCode.FAILED_PRECONDITION.value, message="Unable to perform workflow execution update due to Workflow Task in failed state.", details=[details])
    error = RPCError(status.message, RPCStatusCode.FAILED_PRECONDITION, status.SerializeToString())
    with pytest.raises(DecisionNotDelivered, match="keeps failing"):
        await submit(FailingHandle(error), "confirm_pii", DECISION)


@pytest.mark.parametrize(("status", "reason"), [(RPCStatusCode.NOT_FOUND, "closed or does not exist"), (RPCStatusCode.INVALID_ARGUMENT, "update id too long"), (RPCStatusCode.FAILED_PRECONDITION, "update id too long")])
async def test_answers_from_the_server_about_the_case_stay_refusals(status, reason):
    with pytest.raises(DecisionRefused, match=reason):
        await submit(FailingHandle(RPCError("update id too long", status, b"")), "confirm_pii", DECISION)

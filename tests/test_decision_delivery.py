"""`submit` tells a refusal by the case from a decision that never got an answer.

Found by the crash soak: while the dev server was down, `submit` turned the connection
error into ``DecisionRefused("tcp connect error")``, so the CLI printed "refused" and wrote
a refusal to the audit trail for a decision the case never saw.
"""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode

from models.decisions import Actor, Decision, Role
from starter.decisions import DecisionNotDelivered, DecisionRefused, submit


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


@pytest.mark.parametrize(("status", "reason"), [(RPCStatusCode.NOT_FOUND, "closed or does not exist"), (RPCStatusCode.INVALID_ARGUMENT, "update id too long")])
async def test_answers_from_the_server_about_the_case_stay_refusals(status, reason):
    with pytest.raises(DecisionRefused, match=reason):
        await submit(FailingHandle(RPCError("update id too long", status, b"")), "confirm_pii", DECISION)

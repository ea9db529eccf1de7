"""The case's effects as Temporal activities: timeouts, retry policies and error translation.

The one module of the workflow package that schedules activities. Retry policies name the
error types that no retry can fix (the activities raise them as non-retryable too; naming
them here keeps a stray retryable raise from looping). Failures come back to the tracks
as ``StepFailed``/``ExportPaused`` (workflows/effects.py).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError

with workflow.unsafe.imports_passed_through():
    from activities.assessment import RiskActivities
    from activities.inventory import InventoryActivities
    from activities.notify.activities import NotifyActivities
    from activities.operators import OperatorActivities
    from activities.outbox import OutboxActivities
    from activities.register import RegisterActivities
    from activities.reports import ReportActivities
    from models.assessment import ANSWERS_REFUSED, POLICY_CHANGED, AssessRequest, PolicyRef
    from models.case import SystemInfo
    from models.notification import NotifyRequest, NotifyResult, Prepared, PrepareRequest
    from models.operators import OperatorRoster
    from models.records import AuditEntry, CaseOpening, CaseSync, DecisionEntry, DraftRequest, OutboundReport, Receipt, RoundEntry
    from models.risk import RiskAssessment
    from workflows.effects import ExportPaused, StepFailed

_RETRY = dict(maximum_interval=timedelta(minutes=1))
QUICK = dict(start_to_close_timeout=timedelta(seconds=30), retry_policy=RetryPolicy(**_RETRY))
# Scoring: refused answers and a changed policy file end the submission (it is refused).
SCORE = dict(start_to_close_timeout=timedelta(seconds=30), retry_policy=RetryPolicy(**_RETRY, non_retryable_error_types=[ANSWERS_REFUSED, POLICY_CHANGED]))
# Letters for approvers: facts, the template check and a PDF preview (seconds, whatever the
# roster's size). The timeout is also how long a check lost with a crashed worker holds up CMS
# approval ("try again in a moment") or the export before it runs again.
PREPARE = dict(start_to_close_timeout=timedelta(minutes=1), retry_policy=RetryPolicy(**_RETRY, non_retryable_error_types=list(NotifyActivities.REFUSALS)))
# A mail-house export of up to millions of rows: it heartbeats at every checkpoint and a
# new attempt resumes from the last one, so a lost worker costs one heartbeat timeout.
EXPORT = dict(start_to_close_timeout=timedelta(hours=12), heartbeat_timeout=timedelta(minutes=2), retry_policy=RetryPolicy(**_RETRY, non_retryable_error_types=list(NotifyActivities.REFUSALS)))


def problem(exc: ActivityError) -> str:
    """An activity's failure as one line: its type and message."""
    cause = exc.cause
    return f"{cause.type}: {cause.message}" if isinstance(cause, ApplicationError) and cause.type else str(cause or exc)


class ActivityCalls:
    """``Effects`` for a running workflow (see workflows/effects.py for the contract)."""

    async def lookup_system(self, system_id: str) -> SystemInfo:
        return await workflow.execute_activity_method(InventoryActivities.lookup, system_id, summary="Identify the system, its PIA and SORNs in the inventory", **QUICK)

    async def load_operators(self) -> OperatorRoster:
        return await workflow.execute_activity_method(OperatorActivities.load, summary="Load the operators who may decide on this case", **QUICK)

    async def open_case(self, opening: CaseOpening) -> None:
        await workflow.execute_activity_method(RegisterActivities.open_case, opening, summary="Register the case (plan, Appendix A tracking)", **QUICK)

    async def deliver(self, report: OutboundReport, summary: str) -> Receipt:
        return await workflow.execute_activity_method(OutboxActivities.deliver, report, summary=summary, **QUICK)

    async def audit(self, entry: AuditEntry, summary: str) -> None:
        await workflow.execute_activity_method(RegisterActivities.audit, entry, summary=summary, **QUICK)

    async def record_decision(self, entry: DecisionEntry, summary: str) -> None:
        await workflow.execute_activity_method(RegisterActivities.record_decision, entry, summary=summary, **QUICK)

    async def record_round(self, entry: RoundEntry, summary: str) -> None:
        await workflow.execute_activity_method(RegisterActivities.record_notification_round, entry, summary=summary, **QUICK)

    async def sync(self, snapshot: CaseSync) -> None:
        """A local activity: it runs on this worker without a round trip through the server,
        which shortens every decision (the update waits for it). Only this write is local: it
        is a last-writer-wins snapshot, so a write made by a workflow task that was then lost
        (a killed worker or server) is overwritten by the task that replaces it. Decisions,
        audit events and rounds are written once and never overwritten, so they stay ordinary
        activities, scheduled only by committed workflow tasks (the crash soak found a
        decision recorded with the time of a lost task when these were local)."""
        await workflow.execute_local_activity_method(RegisterActivities.sync_case, snapshot, summary="Update the register", **QUICK)

    async def load_policy(self) -> PolicyRef:
        return await workflow.execute_activity_method(RiskActivities.load_policy, None, summary="Load the current risk-of-harm policy", **QUICK)

    async def assess(self, req: AssessRequest) -> RiskAssessment:
        try:
            return await workflow.execute_activity_method(RiskActivities.assess, req, summary="Score the risk of harm (plan, Attachment A)", **SCORE)
        except ActivityError as exc:
            if isinstance(exc.cause, ApplicationError) and exc.cause.type in (ANSWERS_REFUSED, POLICY_CHANGED):
                raise StepFailed(exc.cause.message) from None
            raise

    async def draft(self, req: DraftRequest, summary: str) -> dict[str, Any]:
        return await workflow.execute_activity_method(ReportActivities.draft, req, summary=summary, **QUICK)

    async def prepare_letters(self, req: PrepareRequest, summary: str) -> Prepared:
        try:
            return await workflow.execute_activity_method(NotifyActivities.prepare, req, summary=summary, **PREPARE)
        except ActivityError as exc:
            raise StepFailed(problem(exc)) from None

    def start_export(self, req: NotifyRequest, summary: str) -> asyncio.Task[NotifyResult]:
        return workflow.start_activity_method(NotifyActivities.export_round, req, summary=summary, **EXPORT)

    async def finish_export(self, task: asyncio.Task[NotifyResult]) -> NotifyResult:
        try:
            return await task
        except ActivityError as exc:
            if isinstance(exc.cause, CancelledError):
                raise ExportPaused() from None
            raise StepFailed(problem(exc)) from None

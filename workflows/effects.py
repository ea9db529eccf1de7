"""What a case asks of the world, as one interface: the tracks call these, never Temporal.

``workflows/activity_calls.py`` implements it with activities (the only place that names
timeouts and retry policies); the unit suite implements it with a recording fake, so a
decision's effect can be checked without a Temporal server. Failures come back as the two
exceptions below, never as Temporal's error types, so the tracks stay plain Python.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from models.assessment import AssessRequest, PolicyRef
from models.case import SystemInfo
from models.notification import NotifyRequest, NotifyResult, Prepared, PrepareRequest
from models.operators import OperatorRoster
from models.records import AuditEntry, CaseOpening, CaseSync, DecisionEntry, DraftRequest, OutboundReport, Receipt, RoundEntry
from models.risk import RiskAssessment


class StepFailed(Exception):
    """A step failed for a reason a retry cannot fix; the message names its type and cause."""


class ExportPaused(Exception):
    """The mail-house export stopped because a hold cancelled it; it resumes from its checkpoint."""


class Effects(Protocol):
    async def lookup_system(self, system_id: str) -> SystemInfo: ...

    async def load_operators(self) -> OperatorRoster: ...

    async def open_case(self, opening: CaseOpening) -> None: ...

    async def deliver(self, report: OutboundReport, summary: str) -> Receipt: ...

    async def audit(self, entry: AuditEntry, summary: str) -> None: ...

    async def record_decision(self, entry: DecisionEntry, summary: str) -> None: ...

    async def record_round(self, entry: RoundEntry, summary: str) -> None: ...

    async def sync(self, snapshot: CaseSync) -> None: ...

    async def load_policy(self) -> PolicyRef: ...

    async def assess(self, req: AssessRequest) -> RiskAssessment:
        """Raises ``StepFailed`` when the answers are refused or the policy changed on disk."""

    async def draft(self, req: DraftRequest, summary: str) -> dict[str, Any]: ...

    async def prepare_letters(self, req: PrepareRequest, summary: str) -> Prepared:
        """Raises ``StepFailed`` when the templates, letterhead or roster refuse the round."""

    def start_export(self, req: NotifyRequest, summary: str) -> asyncio.Task[NotifyResult]:
        """Start the export; the returned task is cancelled by a hold and read by ``finish_export``."""

    async def finish_export(self, task: asyncio.Task[NotifyResult]) -> NotifyResult:
        """The finished export's result; raises ``ExportPaused`` or ``StepFailed``."""

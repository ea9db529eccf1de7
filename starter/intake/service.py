"""The intake service: what the HTTP API, the spool drainer and the file drop share.

One Temporal client, the inventory (loaded once), the API tokens and the spool. A report
is filed at once when Temporal answers within ``TEMPORAL_TIMEOUT``; when it does not, the
report goes to the spool and the answer says so (``Accepted.status == "spooled"``); while
Temporal is known to be away, reports are spooled at once instead of waiting each time.
Nothing here knows HTTP: the transport is ``starter/intake/http_api.py``.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Literal

import structlog
from pydantic import BaseModel, Field
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from models.case import CaseView, Stage
from models.intake import IntakeReport, workflow_id_for
from models.inventory import InventorySystem, load_inventory
from starter.intake.filing import FiledCase, file_report, temporal_unreachable
from starter.intake.spool import Spool, drain_forever
from starter.intake.tokens import TokenStore
from worker.config import Settings
from workflows.breach import BreachResponseWorkflow

log = structlog.get_logger("breach.api")

TEMPORAL_TIMEOUT = 5.0  # seconds a request waits for Temporal before the report is spooled
QUERY_TIMEOUT = 10.0


# ---------------------------------------------------------------------- answers


class Accepted(BaseModel):
    """A report was accepted: its case was started (201), existed already (200), or was spooled (202)."""

    breach_id: str
    workflow_id: str
    status: Literal["filed", "existing", "spooled"]
    created: bool | None = Field(description="true: a new case; false: the existing case; null: spooled, not filed yet")
    status_url: str = Field(description="path of the case's status on this API")
    ui_url: str = Field(description="the case in the Temporal Web UI")
    flags: list[str] = Field(default_factory=list, description="what the sender should know but did not block intake (e.g. an unknown system)")
    detail: str | None = None


class ClockStatus(BaseModel):
    clock: str
    kind: str
    state: str
    started_at: datetime
    due_at: datetime | None
    met_at: datetime | None


class CaseStatus(BaseModel):
    """Where a case stands. Built from the workflow's `details` query; holds no personal data."""

    breach_id: str
    workflow_id: str
    status: str = Field(description="`ongoing` or `concluded`; `spooled` while the report waits for Temporal")
    stage: Stage | None
    outcome: str | None = None
    clocks: list[ClockStatus]
    ui_url: str

    @classmethod
    def from_view(cls, view: CaseView, settings: Settings) -> CaseStatus:
        return cls(
            breach_id=view.breach_id,
            workflow_id=view.workflow_id,
            status=view.status,
            stage=view.stage,
            outcome=view.outcome,
            clocks=[ClockStatus(clock=c.clock, kind=c.kind.value, state=c.state.value, started_at=c.started_at, due_at=c.due_at, met_at=c.met_at) for c in view.clocks],
            ui_url=settings.ui_link(view.workflow_id),
        )


# ---------------------------------------------------------------------- the service


class NotFileable(Exception):
    """Temporal answered that this report's case cannot be started; retrying would not help."""


class IntakeService:
    """What the API, the spool drainer and the file drop share: one client, the inventory, the spool.

    The inventory is loaded once; the token file is re-read only when it changes.
    """

    def __init__(self, settings: Settings, client: Client | None = None, inventory: dict[str, InventorySystem] | None = None) -> None:
        self.settings = settings
        self.client = client
        self.inventory = inventory if inventory is not None else load_inventory(settings.inventory_path)
        self.tokens = TokenStore(settings.tokens_path)
        self.spool = Spool(settings.spool_path)
        self._away_until = 0.0  # while Temporal is known to be away, spool at once instead of waiting

    def temporal_away(self) -> bool:
        return time.monotonic() < self._away_until

    def mark_away(self, reason: str) -> None:
        if not self.temporal_away():
            log.warning("Temporal unreachable; spooling reports", error=reason)
        self._away_until = time.monotonic() + self.settings.spool_retry_seconds

    def mark_back(self) -> None:
        self._away_until = 0.0

    async def file_now(self, report: IntakeReport) -> FiledCase:
        """Start the case (or find it); raises if Temporal does not answer within TEMPORAL_TIMEOUT."""
        if self.client is None:
            raise RuntimeError("no Temporal client yet")
        return await asyncio.wait_for(file_report(self.client, self.settings, report, self.inventory), TEMPORAL_TIMEOUT)

    async def file_spooled(self, report: IntakeReport) -> FiledCase:
        filed = await self.file_now(report)
        self.mark_back()
        return filed

    async def accept(self, report: IntakeReport) -> Accepted:
        """File ``report``, or spool it when Temporal is away.

        Raises NotFileable when Temporal refuses this report, OSError when it could be neither filed nor spooled.
        """
        status_url = f"/v1/breaches/{report.breach_id}"
        if not self.temporal_away():
            try:
                filed = await self.file_now(report)
            except Exception as exc:  # Temporal away: keep the report, answer 202
                if not temporal_unreachable(exc):
                    raise NotFileable(str(exc)) from exc
                self.mark_away(str(exc) or type(exc).__name__)
            else:
                return Accepted(
                    breach_id=filed.breach_id, workflow_id=filed.workflow_id, status="filed" if filed.created else "existing", created=filed.created,
                    status_url=status_url, ui_url=filed.ui_url, flags=filed.flags,
                )
        await asyncio.to_thread(self.spool.put, report)
        log.info("report spooled", breach_id=report.breach_id, source=report.source.value)
        return Accepted(
            breach_id=report.breach_id, workflow_id=report.workflow_id, status="spooled", created=None, status_url=status_url,
            ui_url=self.settings.ui_link(report.workflow_id), flags=[],
            detail="Temporal is unreachable; the report is stored durably and its case will be started when Temporal is back",
        )

    async def case_status(self, breach_id: str) -> CaseStatus | None:
        """The case's status; None if there is no such case. Raises on Temporal failures."""
        if self.client is None:
            raise RuntimeError("no Temporal client yet")
        handle = self.client.get_workflow_handle(workflow_id_for(breach_id))
        try:
            view = await asyncio.wait_for(handle.query(BreachResponseWorkflow.details), QUERY_TIMEOUT)
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                return None
            raise
        return CaseStatus.from_view(view, self.settings)

    def spooled_status(self, breach_id: str) -> CaseStatus:
        return CaseStatus(breach_id=breach_id, workflow_id=workflow_id_for(breach_id), status="spooled", stage=None, clocks=[], ui_url=self.settings.ui_link(workflow_id_for(breach_id)))

    async def temporal_reachable(self) -> bool:
        if self.client is None:
            return False
        try:
            return await asyncio.wait_for(self.client.service_client.check_health(), 2)
        except Exception:  # noqa: BLE001 - any failure means "not reachable"
            return False

    async def drain_forever(self, stop: asyncio.Event) -> None:
        await drain_forever(self.spool, self.file_spooled, self.settings.spool_retry_seconds, stop, on_drained=self.mark_back)

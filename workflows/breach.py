"""The breach case: one durable workflow per breach, keyed by its breach id.

This first cut registers the case, looks the system up in the inventory, reports to
HHS CSIRC/PIM through the outbox, starts the intake clocks, and then waits in the
confirm-PII stage for the decisions that the lifecycle adds. Deterministic code only:
time from ``workflow.now()``, all I/O in activities.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.inventory import InventoryActivities
    from activities.outbox import OutboxActivities
    from activities.register import RegisterActivities
    from models import search
    from models.case import CaseView, Clock, ClockState, Finding, Stage, SystemInfo
    from models.intake import IntakeReport
    from models.records import AuditEntry, CaseOpening, ClockUpdate, OutboundReport
    from workflows.clocks import intake_clocks
    from workflows.details import render_details, span

QUICK = dict(start_to_close_timeout=timedelta(seconds=30), retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)))


@workflow.defn
class BreachResponseWorkflow:
    @workflow.init
    def __init__(self, report: IntakeReport) -> None:
        self._report = report
        self._stage = Stage.report
        self._awaiting: str | None = None
        self._system: SystemInfo | None = None
        self._clocks: dict[str, Clock] = {}
        self._findings: list[Finding] = []
        self._outbox: list[str] = []
        self._closed = False

    @workflow.run
    async def run(self, report: IntakeReport) -> str:
        now = workflow.now()
        for clock in intake_clocks(report):
            self._clocks[clock.clock] = clock
        self._check_contractor_report()
        self._publish()

        self._system = await workflow.execute_activity_method(
            InventoryActivities.lookup, report.system_id, summary="Identify the system in the inventory", **QUICK
        )
        if not self._system.known:
            self._add_finding("unknown_system", f"system {report.system_id!r} is not in the system inventory; the SOP must identify it")
        await workflow.execute_activity_method(
            RegisterActivities.open_case,
            CaseOpening(report=report, system_known=self._system.known, stage=self._stage.value, opened_at=now),
            summary="Register the case (plan, Appendix A tracking)",
            **QUICK,
        )

        receipt = await workflow.execute_activity_method(
            OutboxActivities.deliver,
            OutboundReport(breach_id=report.breach_id, kind="csirc_pim_initial_report", document=self._csirc_document()),
            summary="Report to HHS CSIRC and PIM (plan: Reporting suspected or confirmed breaches to HHS)",
            **QUICK,
        )
        self._outbox.append(receipt.location)
        self._settle("csirc_report", workflow.now())
        await self._record_clocks()
        await self._audit("reported_to_csirc", {"location": receipt.location, "sha256": receipt.sha256})

        self._enter(Stage.confirm_pii, awaiting="confirm_pii (cms_sop or program_office)")
        await workflow.wait_condition(lambda: self._closed)
        return self._stage.value

    @workflow.query
    def details(self) -> CaseView:
        report = self._report
        return CaseView(
            breach_id=report.breach_id,
            workflow_id=report.workflow_id,
            stage=self._stage,
            status="concluded" if self._closed else "ongoing",
            system=self._system,
            estimated_individuals=report.estimated_individuals,
            contractor_involved=report.contractor_involved,
            hipaa_covered=report.hipaa_covered,
            awaiting=self._awaiting,
            clocks=sorted(self._clocks.values(), key=lambda c: (c.due_at is None, c.due_at, c.clock)),
            findings=list(self._findings),
            outbox=list(self._outbox),
        )

    # -- state changes ---------------------------------------------------------------

    def _enter(self, stage: Stage, awaiting: str | None) -> None:
        self._stage, self._awaiting = stage, awaiting
        self._publish()

    def _check_contractor_report(self) -> None:
        """The contractor's 1-hour report is judged from the intake times alone."""
        if "contractor_report" in self._clocks:
            self._settle("contractor_report", self._report.reported_at, late_kind="contractor_report_late")

    def _settle(self, name: str, at: datetime, late_kind: str | None = None) -> None:
        """Close a clock at ``at``: met when on time, else missed with a finding for the SOP."""
        clock = self._clocks[name]
        state = ClockState.met if clock.due_at is None or at <= clock.due_at else ClockState.missed
        self._clocks[name] = clock.model_copy(update={"state": state, "met_at": at})
        if state is ClockState.missed:
            self._add_finding(late_kind or f"{name}_missed", f"{name} was due {clock.due_at.isoformat()}, done {at.isoformat()} ({span(at - clock.due_at)} late)")

    def _add_finding(self, kind: str, detail: str) -> None:
        self._findings.append(Finding(kind=kind, at=workflow.now(), detail=detail))

    def _publish(self) -> None:
        """Search attributes and current details always show the stage and next deadline."""
        view = self.details()
        nxt = view.next_deadline
        report = self._report
        workflow.upsert_search_attributes(
            [
                search.BREACH_STAGE.value_set(self._stage.value),
                search.SYSTEM_ID.value_set(report.system_id),
                search.AFFECTED_INDIVIDUALS.value_set(report.estimated_individuals),
                search.CONTRACTOR_INVOLVED.value_set(report.contractor_involved),
                search.HIPAA_COVERED.value_set(report.hipaa_covered),
                search.MAJOR_INCIDENT.value_set(False),
                search.NEXT_DEADLINE.value_set(nxt.due_at) if nxt else search.NEXT_DEADLINE.value_unset(),
            ]
        )
        workflow.set_current_details(render_details(view, workflow.now()))

    # -- activities ------------------------------------------------------------------

    async def _record_clocks(self) -> None:
        await workflow.execute_activity_method(
            RegisterActivities.record_clocks,
            ClockUpdate(breach_id=self._report.breach_id, clocks=list(self._clocks.values())),
            summary="Record the clocks in the register",
            **QUICK,
        )

    async def _audit(self, kind: str, detail: dict) -> None:
        breach = self._report.breach_id
        await workflow.execute_activity_method(
            RegisterActivities.audit,
            AuditEntry(event_key=f"{breach}:{kind}", breach_id=breach, at=workflow.now(), kind=kind, actor="workflow", detail=detail),
            summary=f"Audit: {kind}",
            **QUICK,
        )

    def _csirc_document(self) -> dict:
        """The initial report to HHS CSIRC/PIM: sent at once, not contingent on investigation."""
        report = self._report
        return {
            "kind": "initial_breach_report",
            "to": ["HHS CSIRC", "HHS PIM"],
            "breach_id": report.breach_id,
            "report": report.model_dump(mode="json", exclude={"roster_uri"}),
            "system": self._system.model_dump(mode="json") if self._system else None,
            "findings": [f.model_dump(mode="json") for f in self._findings],
            "sent_at": workflow.now().isoformat(),
        }

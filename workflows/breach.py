"""The breach case: one durable workflow per breach, keyed by its breach id.

This class is the shell the Temporal server talks to, and nothing else: the run loop, the
decision update and its validator, the maintenance updates, the progress signal, the
queries, and continue-as-new. What a case *is* lives elsewhere (docs/ARCHITECTURE.md):
its state changes in the case ledger (workflows/ledger.py), each decision is a row of the
decision table (workflows/decision_table.py) whose guard and effect live in the track of
the plan it belongs to (workflows/tracks/), and its activities are called through
workflows/activity_calls.py.

Clocks are data in the state, enforced by one timer loop over a moving deadline:
reminders before expiry, escalation when a human step overruns its service level, and a
finding when a statutory clock is missed. Deterministic code only: time from
``workflow.now()``, all I/O in activities. Every accepted change of state happens
synchronously before the effect's first ``await``, so a second decision validated
meanwhile sees the new state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from models.case import CaseView, TimelineEvent
    from models.case_chain import CaseChain
    from models.case_state import CaseInput, CaseState
    from models.decisions import Decision, DecisionOutcome, DecisionRefused
    from models.notification import PROGRESS_SIGNAL, NotifyProgress
    from models.records import DecisionEntry, refusal_entry
    from workflows import admission
    from workflows.activity_calls import ActivityCalls
    from workflows.case import Case
    from workflows.decision_table import ROLES
    from workflows.details import render_details
    from workflows.ledger import CaseLedger
    from workflows.tracks import intake, notification, operators
    from workflows.view import case_view, export_round, search_values

# A decision with a preparation (the risk assessment's scoring) is prepared before it is
# accepted, so that refused answers refuse it; before this change it was accepted first.
PREPARED_BEFORE_ACCEPTANCE = "prepared-before-acceptance"
# A refused decision goes on record (timeline and audit trail). Before this change the
# validator refused it and left no history; the marker keeps older runs replaying.
REFUSALS_ON_RECORD = "refusals-on-record"
# The finding the reconciliation adds to a case changed behind the project's back.
OUTSIDE_CHANGE = "changed_outside_the_workflow"


@workflow.defn
class BreachResponseWorkflow:
    @workflow.init
    def __init__(self, inp: CaseInput) -> None:
        report = inp.report
        state = inp.carried or CaseState(report=report, config=inp.config, individuals=report.estimated_individuals, data_elements=list(report.data_elements))
        self.ledger = CaseLedger(state, now=workflow.now, roles=ROLES, publish=self._publish, patched=workflow.patched)
        self.case = Case(self.ledger, ActivityCalls())
        self._published: dict[str, object] = {}
        self._fired_at: datetime | None = None  # the due time of the main loop's timer, once it has fired

    @property
    def s(self) -> CaseState:
        return self.ledger.state

    # ------------------------------------------------------------------ main loop

    @workflow.run
    async def run(self, inp: CaseInput) -> str:
        if inp.carried is None:
            await intake.file_report(self.case)
        else:
            self._publish()
        while not self.s.closed:
            self.ledger.tick(self._fired_at)
            self._fired_at = None
            await self.case.flush_notices()
            await notification.work(self.case)
            if self._history_is_long() and workflow.all_handlers_finished() and self.ledger.export is None:
                # No await between the check and the call: a decision arriving meanwhile would be cut off.
                workflow.continue_as_new(CaseInput(report=self.s.report, config=self.s.config, carried=self.s))
            self.ledger.wake = False
            wake_at = self.ledger.next_wake()
            timeout = max(wake_at - workflow.now(), timedelta(0)) if wake_at else None
            try:
                await workflow.wait_condition(self._should_wake, timeout=timeout, timeout_summary=self._wake_summary())
            except TimeoutError:
                self._fired_at = wake_at  # a reminder or deadline is due: the next tick handles it
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.s.main_outcome or "closed"

    def _should_wake(self) -> bool:
        """A change of state, closure, a finished export, or a long history at a quiet moment (to continue as new)."""
        if self.ledger.export is not None and self.ledger.export.done():
            return True
        return self.ledger.wake or self.s.closed or (self._history_is_long() and workflow.all_handlers_finished() and self.ledger.export is None)

    def _history_is_long(self) -> bool:
        info = workflow.info()
        return info.is_continue_as_new_suggested() or info.get_current_history_length() >= self.s.config.continue_as_new_events

    def _wake_summary(self) -> str:
        nxt = self.details().next_deadline
        return f"next deadline: {nxt.clock}" if nxt else "awaiting decisions"

    def _publish(self) -> None:
        """Search attributes (only when changed) and current details: stage, next deadline, findings."""
        view = self.details()
        wanted = search_values(self.s, view)
        updates = [key.value_set(value) if value is not None else key.value_unset() for key, value in wanted.items() if self._published.get(key.name, "unset") != value]
        if updates:
            workflow.upsert_search_attributes(updates)
            self._published.update({key.name: value for key, value in wanted.items()})
        workflow.set_current_details(render_details(view, workflow.now()))

    # ------------------------------------------------------------------ decisions

    @workflow.update(dynamic=True)
    async def decide(self, name: str, args: Sequence[RawValue]) -> DecisionOutcome:
        arrived = workflow.now()
        row, decision = admission.read(name, args, self._decode)
        try:
            if problem := admission.message_problem(self.case, workflow.info().workflow_id, name, decision):
                raise DecisionRefused(problem, recorded=True)  # a rival decision may have won since validation
            payload = admission.authorize(self.case, name, row, decision)
            prepare_first = row.prepare is not None and workflow.patched(PREPARED_BEFORE_ACCEPTANCE)
            prepared = await row.prepare(self.case, decision, payload, False) if prepare_first else payload
        except DecisionRefused as exc:
            await self._refused(name, decision, str(exc), arrived)
            raise ApplicationError(str(exc), type=DecisionRefused.__name__, non_retryable=True) from None
        note = self.ledger.accept(name, decision, arrived)
        if row.prepare is not None and not prepare_first:  # replaying a case from before the patch
            prepared = await row.prepare(self.case, decision, payload, True)
        message = await row.effect(self.case, decision, prepared)
        self.ledger.wake = True
        record = self.case.record_decision(
            DecisionEntry(breach_id=self.s.report.breach_id, decision_id=decision.decision_id, decision=name, role=note.role, decided_by=note.by, decided_at=note.at, rationale=decision.rationale, payload=payload.model_dump(mode="json")),
            summary=f"Record decision {name} by {note.by} ({note.role})",
        )
        await asyncio.gather(record, self.case.sync())  # independent writes: the decision answers when both are done
        return DecisionOutcome(decision=name, decision_id=decision.decision_id, stage=self.s.stage.value, message=message)

    @decide.validator
    def validate(self, name: str, args: Sequence[RawValue]) -> None:
        """Reject, without a trace in history, what cannot be attributed to an operator and
        what the case can take in a moment ("try again")."""
        row, decision = admission.read(name, args, self._decode)
        if problem := admission.message_problem(self.case, workflow.info().workflow_id, name, decision) or admission.busy(self.case, name, row):
            raise ValueError(problem)

    @staticmethod
    def _decode(arg: RawValue) -> Decision:
        return workflow.payload_converter().from_payload(arg.payload, Decision)

    async def _refused(self, name: str, decision: Decision, reason: str, arrived: datetime) -> None:
        """A signed decision the case did not take: on the timeline and in the audit trail."""
        if not workflow.patched(REFUSALS_ON_RECORD):
            return
        self.ledger.refused(name, decision, reason, arrived)
        entry = refusal_entry(
            breach_id=self.s.report.breach_id, decision=name, actor=decision.actor.name, role=decision.actor.role.value, reason=reason,
            decision_id=decision.decision_id, attempt=f"{decision.decision_id}\n{reason}", at=arrived, source="workflow",
        )
        await self.case.audit(entry, f"Audit: refused {name} by {decision.actor.name}")

    # ------------------------------------------------------------------ maintenance

    @workflow.update
    async def refresh_operators(self) -> str:
        """Load the operators file into a case that has none (cases filed before any operator existed)."""
        await operators.load(self.case)
        await self.case.sync()
        return f"{len(self.s.operators.operators)} operator(s) registered"

    @refresh_operators.validator
    def _validate_refresh(self) -> None:
        if self.s.operators.operators:
            raise ValueError("the case already has operators; change them with a signed update_operators decision")

    @workflow.update
    async def retry_notification(self) -> str:
        """Run the failed notification step again once its cause is fixed (template, letterhead, roster)."""
        return await notification.retry(self.case)

    @retry_notification.validator
    def _validate_retry(self) -> None:
        if not self.s.notify_problem:
            raise ValueError("no notification step has failed on this case")

    @workflow.signal(name=PROGRESS_SIGNAL)
    def notify_progress(self, progress: NotifyProgress) -> None:
        """The running export's progress (sent by the export activity), for "notified N of M"."""
        if self.ledger.exporting and progress.round == export_round(self.s):
            self.s.notify_progress = progress
            self._publish()

    # ------------------------------------------------------------------ queries

    @workflow.query
    def details(self) -> CaseView:
        return case_view(self.ledger)

    @workflow.query
    def timeline(self) -> list[TimelineEvent]:
        return list(self.s.timeline)

    @workflow.query
    def audit_chain(self) -> CaseChain:
        """The head of the case's own audit chain, for ``breach audit verify`` (activities/case_chains.py)."""
        return self.s.audit_chain.model_copy()

    @workflow.update
    async def note_outside_change(self, detail: str) -> str:
        """A finding from the reconciliation (worker/reconcile.py): something other than this
        workflow terminated, reset or restarted a run of the case."""
        self.ledger.finding(OUTSIDE_CHANGE, detail)
        self.ledger.wake = True
        return "noted"

    @note_outside_change.validator
    def _validate_outside_change(self, detail: str) -> None:
        if any(f.kind == OUTSIDE_CHANGE and f.detail == detail for f in self.s.findings):
            raise ValueError("already noted")  # the scheduled check finds it again: no second finding, no history

"""Reconciliation: cases changed behind the project's back, and each case's audit chain.

Anyone who can reach Temporal can terminate, reset or restart a run; encrypted-only
payloads (``worker.codec``) keep such a person from steering a case, but the act itself
must be found (issue 14: a case was terminated and restarted under the same id). The
workflow never terminates itself, and its only new runs are its own continue-as-new, so
the register's cases are compared with what Temporal holds for them:

- every run but the last must have ended in continue-as-new; a run terminated, cancelled,
  failed or timed out, or a run that no continue-as-new started, is an outside change;
- the earliest run must be the one the register opened (its start at the case's
  ``opened_at``, or itself continued from an earlier run);
- a register case without any workflow, or a workflow the register does not know, too.

Each change becomes an audit entry (``reconciliation:<kind>``, once per run and kind), a
finding on the case where its current run can take one (``note_outside_change``), and a
line in ``breach audit verify``. The same pass reads each case's audit chain head for the
cross-check (``activities/case_chains.py``). The worker runs it on a schedule
(``reconcile_forever``); ``breach audit verify`` on demand.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import Engine, select
from sqlmodel import Session
from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus, WorkflowHistoryEventFilterType

from activities import audit
from activities.case_chains import RECONCILIATION, CrossCheck, check
from models.case_chain import CaseChain
from models.intake import breach_id_of
from models.records import AuditEntry
from models.register import CaseRecord
from workflows.breach import BreachResponseWorkflow

log = structlog.get_logger("breach.reconcile")

QUERY = "WorkflowType = 'BreachResponseWorkflow'"
# A case reaches the register a moment after its workflow starts (intake's first activity).
REGISTER_GRACE = timedelta(minutes=10)
# The register's opened_at is the first workflow task's time: seconds after the run's start.
OPENING_SLACK = timedelta(minutes=5)
CALL_TIMEOUT = 10.0
# How a run ends when something other than the workflow ended it (the workflow only completes or continues as new).
ENDED_FROM_OUTSIDE = {
    WorkflowExecutionStatus.TERMINATED: "terminated",
    WorkflowExecutionStatus.CANCELED: "cancelled",
    WorkflowExecutionStatus.FAILED: "failed",
    WorkflowExecutionStatus.TIMED_OUT: "timed out",
}


@dataclass(frozen=True)
class OutsideChange:
    breach_id: str
    workflow_id: str
    run_id: str | None
    kind: str  # terminated | not_continued | first_run_replaced | no_workflow | not_in_register
    detail: str

    @property
    def line(self) -> str:
        return f"case {self.breach_id}: {self.detail}"


@dataclass(frozen=True)
class Reconciliation:
    changes: list[OutsideChange]
    chains: CrossCheck

    @property
    def ok(self) -> bool:
        return not self.changes and self.chains.ok


async def _runs(client: Client) -> dict[str, list[WorkflowExecution]]:
    runs: dict[str, list[WorkflowExecution]] = defaultdict(list)
    async for execution in client.list_workflows(QUERY):
        runs[execution.id].append(execution)
    for chain in runs.values():
        chain.sort(key=lambda e: e.start_time)
    return runs


async def _close_event(client: Client, wid: str, run_id: str):
    async for event in client.get_workflow_handle(wid, run_id=run_id).fetch_history_events(event_filter_type=WorkflowHistoryEventFilterType.CLOSE_EVENT):
        return event
    return None


async def _first_event(client: Client, wid: str, run_id: str):
    async for event in client.get_workflow_handle(wid, run_id=run_id).fetch_history_events(page_size=1):
        return event
    return None


async def _run_changes(client: Client, wid: str, chain: list[WorkflowExecution], opened_at: datetime | None) -> list[OutsideChange]:
    breach = breach_id_of(wid)
    changes = []
    for i, run in enumerate(chain):
        if run.status in ENDED_FROM_OUTSIDE:
            detail = f"run {run.run_id} was {ENDED_FROM_OUTSIDE[run.status]} by something other than the workflow"
            if run.status is WorkflowExecutionStatus.TERMINATED and (event := await _close_event(client, wid, run.run_id)):
                attrs = event.workflow_execution_terminated_event_attributes
                detail += f" (identity {attrs.identity or 'unknown'!r}, reason {attrs.reason or 'none'!r})"
            changes.append(OutsideChange(breach, wid, run.run_id, "terminated", detail))
        if i and chain[i - 1].status is not WorkflowExecutionStatus.CONTINUED_AS_NEW:
            changes.append(OutsideChange(breach, wid, run.run_id, "not_continued",
                                         f"run {run.run_id}, started {run.start_time:%Y-%m-%d %H:%M:%S} UTC, was started from outside: no continue-as-new of the case led to it"))
    first = chain[0]
    if opened_at is not None and abs(first.start_time - opened_at) > OPENING_SLACK:
        event = await _first_event(client, wid, first.run_id)
        continued = event is not None and event.workflow_execution_started_event_attributes.continued_execution_run_id
        if not continued:
            changes.append(OutsideChange(breach, wid, first.run_id, "first_run_replaced",
                                         f"its earliest run {first.run_id} started {first.start_time:%Y-%m-%d %H:%M:%S} UTC, but the register opened the case {opened_at:%Y-%m-%d %H:%M:%S} UTC: the run the register opened is gone"))
    return changes


async def _head(client: Client, wid: str) -> CaseChain | str:
    try:
        return await asyncio.wait_for(client.get_workflow_handle(wid).query(BreachResponseWorkflow.audit_chain), CALL_TIMEOUT)
    except Exception as exc:  # noqa: BLE001 - any failure to read is reported, not raised
        return str(exc) or exc.__class__.__name__


async def reconcile(client: Client, engine: Engine, *, now: datetime | None = None) -> Reconciliation:
    """Compare the register's cases with Temporal, and each case's audit chain with its workflow. Reads only."""
    now = now or datetime.now(UTC)
    with Session(engine) as session:
        opened = {r.workflow_id: (r.breach_id, r.opened_at) for r in session.exec(select(CaseRecord.workflow_id, CaseRecord.breach_id, CaseRecord.opened_at)).all()}
    runs = await _runs(client)
    changes: list[OutsideChange] = []
    for wid, (breach, _) in sorted(opened.items()):
        if wid not in runs:
            changes.append(OutsideChange(breach, wid, None, "no_workflow", "the register holds the case, Temporal has no workflow for it: it was deleted"))
    for wid, chain in sorted(runs.items()):
        if wid in opened:
            changes += await _run_changes(client, wid, chain, opened[wid][1])
        elif now - chain[0].start_time > REGISTER_GRACE:
            changes.append(OutsideChange(breach_id_of(wid), wid, chain[-1].run_id, "not_in_register",
                                         f"Temporal holds workflow {wid} (since {chain[0].start_time:%Y-%m-%d %H:%M:%S} UTC), the register has no such case: started outside intake"))
    heads = dict(zip([breach_id_of(w) for w in runs], await asyncio.gather(*(_head(client, w) for w in runs)), strict=True))
    return Reconciliation(changes, check(engine, heads))


async def record(client: Client, engine: Engine, changes: list[OutsideChange]) -> int:
    """Put each change on record: an audit entry (once per run and kind) and a finding on the
    case where its current run can take one. Returns the findings added."""
    with Session(engine) as session:
        for c in changes:
            audit.append(session, AuditEntry(event_key=f"{c.breach_id}:reconciliation:{c.kind}:{c.run_id}", breach_id=c.breach_id, at=datetime.now(UTC),
                                             kind=f"{RECONCILIATION}{c.kind}", actor="reconciliation", detail={"workflow_id": c.workflow_id, "run_id": c.run_id, "detail": c.detail}))
        session.commit()
    added = 0
    for c in changes:
        if c.kind == "no_workflow":
            continue
        try:
            await asyncio.wait_for(client.get_workflow_handle(c.workflow_id).execute_update(BreachResponseWorkflow.note_outside_change, c.detail), CALL_TIMEOUT)
            added += 1
        except Exception as exc:  # noqa: BLE001 - already noted, or the current run cannot take it (e.g. a plaintext run)
            log.info("outside change not noted on the case", breach_id=c.breach_id, kind=c.kind, why=str(exc)[:200])
    return added


async def reconcile_forever(client: Client, engine: Engine, every: timedelta, stop: asyncio.Event) -> None:
    """The worker's scheduled check: reconcile, record what changed, log problems; until ``stop``."""
    while not stop.is_set():
        try:
            result = await reconcile(client, engine)
            await record(client, engine, result.changes)
            for line in [c.line for c in result.changes] + result.chains.problems:
                log.error("reconciliation", problem=line)
            log.info("reconciliation done", cases=result.chains.cases, changes=len(result.changes), chain_problems=len(result.chains.problems))
        except Exception as exc:  # noqa: BLE001 - the next round tries again; the worker keeps running
            log.error("reconciliation failed", error=str(exc)[:500])
        try:
            await asyncio.wait_for(stop.wait(), every.total_seconds())
        except TimeoutError:
            pass

"""The case ledger: every change to a case's state, in plain deterministic Python.

The ledger owns the ``CaseState``: its timeline, findings and notices, the clock
transitions (start, pause, settle, not applicable, the hold's end), stage entry, the
accepted-decision notes and the final closing of the case. It never awaits and never
touches Temporal: time comes from the injected ``now`` and "show the change" from the
injected ``publish``, so the unit suite (tests/test_ledger.py) drives it with a fake
clock, and the workflow (workflows/breach.py) drives it with ``workflow.now()``.

The clocks themselves are computed by ``workflows/clocks.py``; this module decides when
they change state. The one timer loop of the workflow sleeps until ``next_wake`` and then
calls ``tick``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import datetime

from models.case import Clock, ClockKind, ClockState, Finding, Stage, TimelineEvent
from models.case_chain import CaseAnchor, content_digest, link
from models.case_state import CaseState, DecisionNote
from models.decisions import Decision
from models.notification import NotifyResult
from models.records import AuditEntry
from models.roles import Role
from workflows import clocks as rules
from workflows.details import span

# The service-level clock a stage starts when it is entered: the human step it waits for.
ENTRY_SLA: dict[Stage, str] = {
    Stage.confirm_pii: "confirm_pii",
    Stage.contractor_review: "co_acknowledge",
    Stage.risk_assessment: "submit_risk_assessment",
    Stage.cms_approval: "approve_response_plan",
    Stage.hhs_approval: "approve_notification",
    Stage.notify: "record_notification_sent",
    Stage.pim_review: "pim_approve_closure",
}

ESCALATE_TO = "cms_sop (BRT chair)"

# Clock rules corrected under running cases (``workflow.patched``; asked only where the
# corrected rule and the old one differ): the HIPAA clocks retired by a count come back
# when the count does, the OCR notice goes only while its clock is open, and a hold ended
# by a timer that fired late in its task ends at its due time.
CLOCK_FIXES = "clock-fixes-1"
# Audit entries carry their place in the case's own chain (models/case_chain.py). A run
# that began before this replays without it and counts its entries as ``legacy``.
CASE_CHAIN_ANCHORED = "case-chain-anchored"


class CaseLedger:
    """The state of one case and the only code that changes it.

    ``roles`` names, for each decision, the roles that may make it: a service-level clock
    records whom it waits for. ``wake`` tells the workflow's loop that something changed
    and its deadlines must be looked at again. ``export`` is the running mail-house
    export's task (not part of the carried state: an export never outlives a run, see
    continue-as-new in workflows/breach.py). ``patched``
    is ``workflow.patched`` in the workflow: a corrected rule asks it whether this case
    runs the correction (a case that began before it replays the old rule).
    """

    def __init__(self, state: CaseState, *, now: Callable[[], datetime], roles: Mapping[str, frozenset[Role]], publish: Callable[[], None] = lambda: None,
                 patched: Callable[[str], bool] = lambda _patch: True) -> None:
        self.state = state
        self.now = now
        self.patched = patched
        self.roles = roles
        self.publish = publish
        self.wake = False
        self.export: asyncio.Task[NotifyResult] | None = None
        self.notices: list[tuple[str, dict]] = []  # reminders and escalations not yet delivered

    @property
    def exporting(self) -> bool:
        return self.export is not None

    def anchor(self, entry: AuditEntry) -> CaseAnchor | None:
        """Place ``entry`` next in the case's audit chain and move the head (kept in this state,
        so in Temporal's store); None for a run from before the chain, which only counts it."""
        chain = self.state.audit_chain
        if not self.patched(CASE_CHAIN_ANCHORED):
            chain.legacy += 1
            return None
        digest = content_digest(event_key=entry.event_key, breach_id=entry.breach_id, at=entry.at, kind=entry.kind, actor=entry.actor, role=entry.role, detail=entry.detail)
        chain.seq, chain.hash = chain.seq + 1, link(chain.hash, digest)
        return CaseAnchor(seq=chain.seq, hash=chain.hash)

    # ------------------------------------------------------------------ records

    def event(self, kind: str, *, at: datetime | None = None, **fields) -> None:
        self.state.timeline.append(TimelineEvent(at=at or self.now(), kind=kind, **fields))

    def finding(self, kind: str, detail: str) -> None:
        self.state.findings.append(Finding(kind=kind, at=self.now(), detail=detail))
        self.event("finding", detail=f"{kind}: {detail}")

    def notice(self, kind: str, to: str, text: str) -> None:
        """Queue a reminder or escalation; the workflow's loop delivers the queue in order."""
        self.notices.append((kind, {"kind": kind, "to": to, "breach_id": self.state.report.breach_id, "text": text, "at": self.now().isoformat()}))

    def accept(self, name: str, decision: Decision, at: datetime) -> DecisionNote:
        """Put an accepted decision on record, at the time it arrived."""
        note = DecisionNote(decision_id=decision.decision_id, decision=name, role=decision.actor.role.value, by=decision.actor.name, at=at, rationale=decision.rationale)
        self.state.decisions.append(note)
        self.event("decision_accepted", at=at, decision=name, role=note.role, by=note.by, detail=decision.rationale)
        return note

    def refused(self, name: str, decision: Decision, reason: str, at: datetime) -> None:
        """A signed decision of a registered operator that the case did not take."""
        self.event("decision_refused", at=at, decision=name, role=decision.actor.role.value, by=decision.actor.name, detail=reason)

    # ------------------------------------------------------------------ stages

    def need_stage(self, *stages: Stage) -> str | None:
        """The reason a decision is refused when the case is in none of ``stages``."""
        if self.state.stage not in stages:
            return f"the case is in stage {self.state.stage.value}, not {' or '.join(st.value for st in stages)}"
        return None

    def still_reporting(self) -> str | None:
        """The reason a decision is refused before the initial report is filed."""
        return "the case is still being reported" if self.state.stage is Stage.report else None

    def enter(self, stage: Stage) -> None:
        self.state.stage = stage
        self.event("stage_entered", stage=stage.value)
        if stage in ENTRY_SLA:
            self.start_sla(ENTRY_SLA[stage])
        self.wake = True
        self.publish()

    def conclude(self, outcome: str) -> None:
        """Close the case: every open clock becomes not applicable and the stage is closed."""
        s = self.state
        for name in sorted(s.clocks):
            if self.pending(name):
                self.not_applicable(name, f"case closed ({outcome})")
        s.stage, s.closed = Stage.closed, True
        self.event("closed", stage=Stage.closed.value, detail=outcome)
        self.wake = True
        self.publish()

    def export_due(self) -> bool:
        """The mail-house export may start: in notify with a roster, nothing holding it back."""
        s = self.state
        return (s.stage is Stage.notify and bool(s.report.roster_uri) and s.hold is None and not s.notify_problem
                and not s.preparing_letters and not self.exporting and not s.main_outcome and not s.closed)

    # ------------------------------------------------------------------ clocks

    def start(self, clock: Clock) -> None:
        self.state.clocks[clock.clock] = clock
        self.event("deadline_set", clock=clock.clock, due_at=clock.due_at, detail=clock.source)
        if self.state.hold and clock.clock in rules.NOTIFICATION_CLOCKS:
            self.pause(clock.clock, since=max(clock.started_at, self.state.hold.started_at))  # held since the hold or its own start
        self.wake = True

    def start_sla(self, name: str) -> None:
        awaiting = sorted(r.value for r in self.roles.get(name, ()))
        self.start(rules.service_level(name, self.now(), self.state.config, awaiting))

    def pause(self, name: str, since: datetime | None = None) -> None:
        c = self.state.clocks[name]
        remaining = c.due_at - (since or self.now())
        self.state.clocks[name] = c.model_copy(update={"state": ClockState.paused, "paused_remaining": remaining})
        self.event("deadline_paused", clock=name, detail=f"{span(remaining)} remaining")

    def pending(self, name: str) -> bool:
        c = self.state.clocks.get(name)
        return c is not None and c.state in (ClockState.pending, ClockState.paused)

    def settle(self, name: str, at: datetime | None = None, late_kind: str | None = None) -> None:
        """Close a clock at ``at`` (now by default): met when on time; a clock already missed keeps its state."""
        at = at or self.now()
        c = self.state.clocks.get(name)
        if c is None or c.state in (ClockState.met, ClockState.not_applicable) or (c.state is ClockState.missed and c.met_at):
            return
        if c.state is ClockState.missed:
            self.state.clocks[name] = c.model_copy(update={"met_at": at})
            self.event("deadline_met_late", clock=name, due_at=c.due_at, detail=f"done {span(at - c.due_at)} after the deadline")
            return
        on_time = c.due_at is None or at <= c.due_at
        self.state.clocks[name] = c.model_copy(update={"state": ClockState.met if on_time else ClockState.missed, "met_at": at})
        if on_time:
            self.event("deadline_met", clock=name)
        else:
            self.event("deadline_missed", clock=name, due_at=c.due_at, detail=f"done {span(at - c.due_at)} late")
            self.finding(late_kind or f"{name}_missed", f"{name} done {span(at - c.due_at)} after its deadline ({c.source})")
        self.wake = True

    def not_applicable(self, name: str, why: str) -> None:
        c = self.state.clocks[name]
        self.state.clocks[name] = c.model_copy(update={"state": ClockState.not_applicable, "paused_remaining": None})
        self.event("deadline_not_applicable", clock=name, detail=why)

    def supersede(self, names: tuple[str, ...], why: str) -> None:
        for name in names:
            if self.pending(name):
                self.not_applicable(name, why)

    def lift_hold(self, why: str, at: datetime | None = None) -> None:
        """End the law-enforcement hold (now, or at ``at``); the notification clocks resume with what remained."""
        s, now = self.state, at or self.now()
        s.hold = None
        hold = s.clocks["law_enforcement_hold"]
        s.clocks["law_enforcement_hold"] = hold.model_copy(update={"state": ClockState.met, "met_at": min(now, hold.due_at)})
        for name in sorted(rules.NOTIFICATION_CLOCKS):
            c = s.clocks.get(name)
            if c and c.state is ClockState.paused:
                due = now + c.paused_remaining
                s.clocks[name] = c.model_copy(update={"state": ClockState.pending, "due_at": due, "paused_remaining": None, "reminder_at": rules.reminder_at(now, due, s.config) if not c.reminded else c.reminder_at})
                self.event("deadline_resumed", clock=name, due_at=due, detail=f"{span(c.paused_remaining)} remained when the hold began")
        self.event("hold_lifted", clock="law_enforcement_hold", detail=why)

    def tick(self, fired_at: datetime | None = None) -> None:
        """Fire every reminder, escalation and missed deadline whose time has come.

        ``fired_at`` is the due time of the workflow's timer when it fired. Its moment has
        come even when the task's clock says otherwise: under an overloaded worker the SDK
        (temporalio 1.35) was seen to give a task the previous task's ``workflow.now()``.
        The task then skipped the clock and set a new timer, and replaying it later (with
        the right time) fired the clock: a nondeterminism error. Taking the later of the
        two makes both runs fire it.
        """
        s, now = self.state, self.now()
        if fired_at is not None:
            now = max(now, fired_at)
        for name in sorted(s.clocks):
            c = s.clocks[name]
            if c.state is not ClockState.pending or c.due_at is None:
                continue
            if name == "law_enforcement_hold":
                if c.due_at <= now:
                    lapsed = s.hold is not None and not s.hold.written and s.hold.until > c.due_at
                    late_task = now != self.now() and self.patched(CLOCK_FIXES)  # the timer's time, not the stale task's
                    self.lift_hold("oral instruction lapsed after 30 days" if lapsed else "hold reached its end date", at=now if late_task else None)
                continue
            if c.reminder_at and not c.reminded and c.reminder_at <= now < c.due_at:
                s.clocks[name] = c = c.model_copy(update={"reminded": True})
                to = ", ".join(c.awaiting) or "cms_sop"
                self.event("reminder", clock=name, due_at=c.due_at, detail=f"to {to}: {span(c.due_at - now)} left")
                self.notice(f"reminder-{name}", to, f"{name} is due {c.due_at.isoformat()}")
            if c.due_at <= now:
                s.clocks[name] = c.model_copy(update={"state": ClockState.missed, "reminded": True})
                if c.kind is ClockKind.service_level:
                    self.event("escalation", clock=name, due_at=c.due_at, detail=f"{name} overran its service level; escalated to the BRT chair (CMS SOP)")
                    self.finding("escalated", f"{name} awaited from {', '.join(c.awaiting)} overran its service level of {span(c.due_at - c.started_at)}")
                    self.notice(f"escalation-{name}", ESCALATE_TO, f"{name} overran its service level")
                else:
                    self.event("deadline_missed", clock=name, due_at=c.due_at)
                    self.finding(f"{name}_missed", f"{name} reached its deadline and is not done ({c.source})")
                    self.notice(f"missed-{name}", ESCALATE_TO, f"statutory clock {name} missed")
        self.publish()

    def next_wake(self) -> datetime | None:
        """The earliest reminder or deadline still to come."""
        times = []
        for c in self.state.clocks.values():
            if c.state is not ClockState.pending or c.due_at is None:
                continue
            times.append(c.due_at)
            if c.reminder_at and not c.reminded:
                times.append(c.reminder_at)
        return min(times, default=None)

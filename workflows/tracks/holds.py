"""Law-enforcement and national-security holds on notification (plan: "Timeliness";
45 CFR 164.412): the HHS SAOP delays notification on an agency's instruction.

A hold pauses every notification clock with the time it had left and stops a running
export at its checkpoint; an oral instruction lapses after 30 days unless a written one
follows. Lifting (by decision, or when the hold's clock runs out in the ledger's tick)
resumes the clocks with what remained.
"""

from __future__ import annotations

from models.case import ClockState
from models.case_state import Hold
from models.decisions import Decision, DelayNotification, OptionalComments
from workflows import clocks as rules
from workflows.case import Case
from workflows.details import span


def can_delay(case: Case, d: Decision, p: DelayNotification) -> str | None:
    if reason := case.ledger.still_reporting():
        return reason
    if p.until <= case.now():
        return f"until is {span(case.now() - p.until)} in the past"
    return None


async def delay(case: Case, d: Decision, p: DelayNotification) -> str:
    s, ledger, now = case.s, case.ledger, case.now()
    s.hold = Hold(authority=p.authority, written=p.written, until=p.until, started_at=now)
    if ledger.export is not None:
        ledger.export.cancel()  # no letter goes out under a hold; the round resumes from its checkpoint after it
    clock = rules.hold(now, p.until, p.written, s.config)
    ledger.start(clock)
    for name in sorted(rules.NOTIFICATION_CLOCKS):
        if name in s.clocks and s.clocks[name].state is ClockState.pending:
            ledger.pause(name)
    kind = "written" if p.written else "oral"
    ledger.event("hold_started", clock="law_enforcement_hold", due_at=clock.due_at, detail=f"{kind} instruction from {p.authority}")
    return f"notification held for {span(clock.due_at - now)} ({kind} instruction)"


def can_lift(case: Case, d: Decision, p: OptionalComments) -> str | None:
    return None if case.s.hold else "no hold is in effect"


async def lift(case: Case, d: Decision, p: OptionalComments) -> str:
    case.ledger.lift_hold("lifted by the HHS SAOP")
    return "hold lifted: notification clocks resume"

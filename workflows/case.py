"""One case as the tracks see it: its ledger, its effects, and the few steps every track takes.

A track's guard reads ``case.s`` (the state) and a track's effect changes it through
``case.ledger`` and reaches the world through ``case.fx``; ``send``, ``audit`` and ``sync``
are the records every track keeps the same way (an outbound document always lands in the
outbox, the timeline and the audit trail together).
"""

from __future__ import annotations

from datetime import datetime

from models.case_state import CaseState
from models.records import AuditEntry, DecisionEntry, OutboundReport, RoundEntry, decision_audit, round_audit, with_case_chain
from workflows.effects import Effects
from workflows.ledger import CaseLedger
from workflows.view import case_sync


class Case:
    def __init__(self, ledger: CaseLedger, fx: Effects) -> None:
        self.ledger = ledger
        self.fx = fx

    @property
    def s(self) -> CaseState:
        return self.ledger.state

    def now(self) -> datetime:
        return self.ledger.now()

    def audit_entry(self, kind: str, detail: dict) -> AuditEntry:
        breach = self.s.report.breach_id
        return AuditEntry(event_key=f"{breach}:{kind}", breach_id=breach, at=self.now(), kind=kind, actor="workflow", detail=detail)

    async def send(self, kind: str, document: dict, summary: str) -> str:
        """Deliver a document to an outside office; returns where it landed."""
        receipt = await self.fx.deliver(OutboundReport(breach_id=self.s.report.breach_id, kind=kind, document=document), summary)
        self.s.outbox.append(receipt.location)
        self.ledger.event("report_sent", detail=f"{kind} -> {receipt.location}")
        await self.audit(self.audit_entry(f"sent:{kind}", {"location": receipt.location, "sha256": receipt.sha256}), f"Audit: sent {kind}")
        return receipt.location

    # Every audit entry of the case goes through one of these three: each takes its place in
    # the case's own chain (``ledger.anchor``) before it is written.

    async def audit(self, entry: AuditEntry, summary: str) -> None:
        await self.fx.audit(with_case_chain(entry, self.ledger.anchor(entry)), summary)

    async def record_decision(self, entry: DecisionEntry, summary: str) -> None:
        await self.fx.record_decision(entry.model_copy(update={"case_chain": self.ledger.anchor(decision_audit(entry))}), summary)

    async def record_round(self, entry: RoundEntry, summary: str) -> None:
        await self.fx.record_round(entry.model_copy(update={"case_chain": self.ledger.anchor(round_audit(entry))}), summary)

    async def sync(self) -> None:
        """Bring the register's case row and clocks up to this state."""
        await self.fx.sync(case_sync(self.s, self.now()))

    async def flush_notices(self) -> None:
        """Deliver the queued reminders and escalations, in order, then update the register."""
        if not self.ledger.notices:
            return
        while self.ledger.notices:
            kind, document = self.ledger.notices.pop(0)
            self.s.notices_sent += 1
            await self.send(f"notice-{self.s.notices_sent:03d}-{kind}", document, summary=f"Notice: {kind.replace('-', ' ')}")
        await self.sync()

"""Driving one benchmark case from intake to closure, as operators would.

The cases are mixed like real life (``mix``): the three sample reports as templates
(``report_text``: a distinct external id, reported now, discovered as long before as in
the sample). Every decision is signed with a key of this run (``Operators``, whose
operators file the worker reads) and sent through ``starter.decisions.submit``, the CLI's
code path; a refusal that only means "not yet" is retried and counted. ``Stats`` keeps the
round trip of every accepted decision for the figures ``bench.lifecycle`` prints.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from temporalio.client import Client, WorkflowHandle

from models.decisions import Actor, Decision, DecisionRefused, Role
from models.operators import Operator, OperatorRoster
from starter.decisions import submit
from starter.intake.filing import file_report, parse_report
from starter.signing import public_key_b64, sign, write_roster
from tests.support import REPORTS
from workflows.breach import BreachResponseWorkflow

NOTIFICATION = {"method": ["first_class_mail"], "notifying_official": "CMS Administrator", "services": ["credit_monitoring"], "languages": ["en"]}
# Refusals that only mean "not yet": the case is still working on its previous step.
TRANSIENT = ("try again in a moment", "is still being drafted", "is still being reported")


class Operators:
    """One person per role ("Bench <role>") with a key made for this run; the operators file lists them."""

    def __init__(self, path: Path) -> None:
        self.keys = {role: Ed25519PrivateKey.generate() for role in Role}
        write_roster(path, OperatorRoster(operators=[Operator(name=self.name(r), roles=[r], public_key=public_key_b64(k)) for r, k in self.keys.items()]))

    @staticmethod
    def name(role: Role) -> str:
        return f"Bench {role.value}"

    def decision(self, case: str, name: str, role: Role, payload: dict) -> Decision:
        d = Decision(decision_id=f"{name}-{uuid.uuid4().hex[:12]}", actor=Actor(name=self.name(role), role=role), payload=payload)
        return sign(d, case=case, decision_name=name, key=self.keys[role])


ROSTER = "bench-roster.csv"  # generated into the run's notification folder (make_roster.py)
ROSTER_ROWS = 1000
TEMPLATES = {
    "low": ("qecp-public-pdfs.json", {"recipient": "hhs_internal"}),
    "notify": ("qecp-public-pdfs.json", {"roster_uri": f"file:{ROSTER}"}),
    "contractor": ("recon-misdirected-email.json", {}),
    "major": ("laptop-claims-major.json", {"roster_uri": f"file:{ROSTER}"}),
}


def report_text(kind: str, run: str, i: int) -> str:
    """A sample report with a distinct external id, reported now, discovered as long before as in the sample."""
    name, changes = TEMPLATES[kind]
    doc = json.loads((REPORTS / name).read_text()) | changes
    reported = datetime.fromisoformat(doc["reported_at"])
    shift = datetime.now(UTC).astimezone(reported.tzinfo) - reported
    for key in ("discovered_at", "reported_at", "occurred_from", "occurred_to"):
        if doc.get(key):
            doc[key] = (datetime.fromisoformat(doc[key]) + shift).isoformat()
    doc["external_id"] = f"BENCH-{run}-{kind}-{i:05d}"
    return json.dumps(doc)


def mix(n: int) -> list[str]:
    """Mostly low risk, about a fifth on the notification path, about one in eleven a contractor loop, one major incident."""
    contractor = max(1, n // 11)
    notify = max(1, n // 5)
    kinds = ["major"] + ["contractor"] * contractor + ["notify"] * notify
    kinds += ["low"] * (n - len(kinds))
    # Interleave so that every kind runs throughout, not in blocks.
    return sorted(kinds[:n], key=lambda k, c=Counter(): (c.update([k]) or c[k]) / kinds.count(k))


# ---------------------------------------------------------------------------- driving one case


@dataclass
class Stats:
    round_trips: list[float] = field(default_factory=list)  # seconds, accepted decisions
    by_name: dict[str, list[float]] = field(default_factory=dict)
    decisions: int = 0
    retried: int = 0  # refusals meaning "not yet" (TRANSIENT), retried after 20 ms
    polls: int = 0  # queries while waiting for intake to finish
    workflow_ids: list[str] = field(default_factory=list)


R = Role


async def decide(handle: WorkflowHandle, ops: Operators, stats: Stats, name: str, role: Role, payload: dict | None = None) -> str:
    """Send one signed decision; returns the stage the case is in afterwards."""
    for _ in range(200):
        decision = ops.decision(handle.id, name, role, payload or {})
        started = time.perf_counter()
        try:
            outcome = await submit(handle, name, decision)
        except DecisionRefused as exc:
            if any(w in str(exc) for w in TRANSIENT):
                stats.retried += 1
                await asyncio.sleep(0.02)
                continue
            raise RuntimeError(f"{handle.id}: {name} refused: {exc}") from None
        elapsed = time.perf_counter() - started
        stats.round_trips.append(elapsed)
        stats.by_name.setdefault(name, []).append(elapsed)
        stats.decisions += 1
        return outcome.stage
    raise RuntimeError(f"{handle.id}: {name} still refused after 200 tries")


async def run_case(client: Client, settings, inventory, ops: Operators, stats: Stats, kind: str, run: str, i: int) -> None:
    filed = await file_report(client, settings, parse_report(report_text(kind, run, i)), inventory)
    assert filed.created, filed
    handle = client.get_workflow_handle(filed.workflow_id)
    stats.workflow_ids.append(filed.workflow_id)
    await asyncio.sleep(0.2)  # intake runs six activities; then look every 50 ms
    while (await handle.query(BreachResponseWorkflow.details)).stage.value == "report":
        stats.polls += 1
        await asyncio.sleep(0.05)

    def d(name: str, role: Role, payload: dict | None = None):
        return decide(handle, ops, stats, name, role, payload)

    if kind == "major":
        await d("approve_outbound_report", R.hhs_brt, {"kind": "cisa_omb"})
    stage = await d("confirm_pii", R.cms_sop, {"is_pii": True, "federal_data": True})
    if stage == "contractor_review":
        await d("co_acknowledge", R.contracting_officer)
        if kind == "contractor":
            await d("co_request_information", R.contracting_officer, {"request": "mail gateway logs and the recipient's deletion attestation"})
            await d("co_record_contractor_response", R.contracting_officer, {"summary": "logs and attestation received", "artifacts": ["INC-55120"]})
        stage = await d("co_complete_review", R.contracting_officer, {"contractor_cooperated": True, "obligations": "FAR 52.224-3 breach clause"})
    stage = await d("submit_risk_assessment", R.cms_sop, {"answers": {}})
    if kind == "major":
        await d("approve_outbound_report", R.hhs_brt, {"kind": "congress_oig"})
        await d("approve_outbound_report", R.hhs_asl, {"kind": "congress_oig"})
    if stage == "pim_review":
        stage = await d("pim_approve_closure", R.hhs_pim)
    else:
        await d("approve_response_plan", R.cms_brt)
        await d("approve_notification", R.hhs_saop, NOTIFICATION)
        stage = await exported(handle, stats)
    if kind == "major":
        await d("approve_outbound_report", R.hhs_brt, {"kind": "supplemental_30d"})
        stage = await d("approve_outbound_report", R.hhs_asl, {"kind": "supplemental_30d"})
    if stage != "closed":
        raise RuntimeError(f"{handle.id} ({kind}) ended in stage {stage}, not closed")
    result = await handle.result()
    if result not in ("closed_low_risk", "notified"):
        raise RuntimeError(f"{handle.id} ({kind}) closed as {result}")


async def exported(handle: WorkflowHandle, stats: Stats) -> str:
    """Wait while the case exports its roster (the worker's work, no decision); returns the stage after."""
    while True:
        view = await handle.query(BreachResponseWorkflow.details)
        if view.individuals_notified or view.stage.value == "closed":
            return view.stage.value
        if any(f.kind == "notification_export_failed" for f in view.findings):
            raise RuntimeError(f"{handle.id}: the export failed: {view.findings[-1].detail}")
        stats.polls += 1
        await asyncio.sleep(0.05)

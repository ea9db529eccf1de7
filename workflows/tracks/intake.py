"""The report stage: the clocks a report starts, the system's identification, the case's
registration and the initial report to HHS CSIRC and PIM.

Plan: "Reporting suspected or confirmed breaches to HHS": the report goes at once, not
contingent on the investigation (HHS practice: within one hour of awareness).
"""

from __future__ import annotations

from models.case import MAJOR_INCIDENT_INDIVIDUALS, Stage
from models.records import CaseOpening
from workflows import clocks as rules
from workflows.case import Case
from workflows.tracks import hipaa, operators
from workflows.tracks.major import start_major


def start_report_clocks(case: Case) -> None:
    s, ledger, report = case.s, case.ledger, case.s.report
    ledger.event("stage_entered", stage=Stage.report.value)
    ledger.start(rules.statutory("csirc_report", report.reported_at, s.config, s.config.csirc_report_limit))
    if report.contractor_involved:
        ledger.start(rules.statutory("contractor_report", report.discovered_at, s.config))
        ledger.settle("contractor_report", report.reported_at, late_kind="contractor_report_late")
    if report.hipaa_covered:
        ledger.start(rules.statutory("hipaa_individuals", report.discovered_at, s.config))
        hipaa.count_clocks(case)
        if report.contractor_involved:
            ledger.start(rules.statutory("business_associate", report.discovered_at, s.config))
            ledger.settle("business_associate", report.reported_at)
    ledger.publish()


async def file_report(case: Case) -> None:
    s, ledger, report = case.s, case.ledger, case.s.report
    opened_at = case.now()
    start_report_clocks(case)
    s.system = await case.fx.lookup_system(report.system_id)
    if not s.system.known:
        ledger.finding("unknown_system", f"system {report.system_id!r} is not in the system inventory; the SOP must identify it and its compliance documents")
    await operators.load(case)
    await case.fx.open_case(CaseOpening(report=report, system_known=s.system.known, stage=s.stage.value, opened_at=opened_at))
    await case.send("csirc_pim_initial_report", csirc_document(case), summary="Report to HHS CSIRC and PIM (plan: Reporting suspected or confirmed breaches to HHS)")
    ledger.settle("csirc_report")
    ledger.enter(Stage.confirm_pii)
    if s.individuals >= MAJOR_INCIDENT_INDIVIDUALS:
        await start_major(case, automatic=True, rationale=f"{s.individuals} individuals: 100,000 or more (OMB)")
    await case.sync()


def csirc_document(case: Case) -> dict:
    """The initial report to HHS CSIRC/PIM: sent at once, not contingent on investigation."""
    s = case.s
    return {
        "kind": "initial_breach_report",
        "to": ["HHS CSIRC", "HHS PIM"],
        "breach_id": s.report.breach_id,
        "report": s.report.model_dump(mode="json", exclude={"roster_uri"}),
        "system": s.system.model_dump(mode="json") if s.system else None,
        "findings": [f.model_dump(mode="json") for f in s.findings],
        "sent_at": case.now().isoformat(),
    }

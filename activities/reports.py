"""Drafting outbound documents: the major-incident reports and the results sent to PIM.

Contents follow the plan's lists ("Initial notification to CISA and OMB", "Notification
to Congress and HHS OIG", "Supplemental reporting to Congress"). Drafts hold case facts
and counts, never data about individuals.
"""

from __future__ import annotations

from typing import Any

from temporalio import activity

from models.records import DraftRequest
from models.risk import RiskAssessment

RECIPIENTS = {
    "cisa_omb": ["CISA", "OMB Office of the Federal CIO"],
    "congress_oig": ["Congress", "HHS Office of the Inspector General"],
    "supplemental_30d": ["Congress"],
}


def _risk(assessment: RiskAssessment | None) -> dict[str, Any]:
    if assessment is None:
        return {"status": "risk assessment not yet completed"}
    return {
        "level": assessment.level.value,
        "notify": assessment.notify,
        "services_offered": assessment.services_offered,
        "policy_version": assessment.policy_version,
        "assessed_at": assessment.assessed_at.isoformat(),
    }


def draft_document(req: DraftRequest) -> dict[str, Any]:
    """The report's content as the plan lists it; sections still to be written say so."""
    doc: dict[str, Any] = {
        "kind": req.kind,
        "to": RECIPIENTS[req.kind],
        "breach_id": req.breach_id,
        "status": "draft: for HHS Breach Response Team approval",
        "drafted_at": req.drafted_at.isoformat(),
        "major_incident_determined_at": req.determined_at.isoformat() if req.determined_at else None,
        "system": {"id": req.system_id, "name": req.system_name},
        "discovered_at": req.discovered_at.isoformat(),
    }
    if req.kind == "cisa_omb":
        doc["summary"] = {
            "what_is_known": f"breach of PII in {req.system_id} via {req.media}; intent {req.intent}",
            "individuals_estimate": req.individuals,
            "data_elements": req.data_elements,
        }
        doc["next"] = "OMB will set up a briefing of OMB OFCIO; the HHS and CMS BRTs ensure the necessary people attend."
        return doc
    doc["known_at_time_of_report"] = {"individuals_estimate": req.individuals, "data_elements": req.data_elements, "media": req.media, "intent": req.intent}
    doc["sensitivity_and_classification"] = "to be reviewed by the HHS BRT before submission"
    if req.kind == "supplemental_30d":
        doc["sections"] = {
            "threats_threat_actors_vulnerabilities_impacts": "to be completed by the CMS BRT",
            "risk_assessments_before_incident": "to be completed by the CMS BRT",
            "compliance_status_of_affected_systems": "to be completed by the CMS BRT",
            "detection_response_remediation": "to be completed by the CMS BRT",
            "how_the_breach_occurred": f"{req.media} breach; intent {req.intent}",
            "individuals_affected_and_risk_of_harm": {"estimate": req.individuals, "risk": _risk(req.assessment)},
            "circumstances_delaying_notice": req.hold or "none",
            "whether_and_when_notice": req.notice_status,
        }
    return doc


class ReportActivities:
    @activity.defn(name="reports.draft")
    def draft(self, req: DraftRequest) -> dict[str, Any]:
        return draft_document(req)

"""The decision table without Temporal: for every row, its guard allows it where the plan
does and refuses it (with the reason) where it must not be made, and its effect changes
state and clocks as the plan says. Then the common admission checks (workflows/admission.py).

Cases are the sample reports walked through the plan with the real tracks over the
recording fake of tests/fake_case.py; time moves only by hand.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

import pytest

from models.case import ClockKind, ClockState, Stage
from models.decisions import Actor, Decision, DecisionRefused
from models.operators import Operator, OperatorRoster
from models.risk import FactorAnswer, FactorName, Rating, RiskAnswers
from models.roles import Role
from starter.signing import public_key_b64
from tests.fake_case import NOTIFICATION, OPERATORS, QECP_ANSWERS, RECON_ANSWERS, World, at_stage, notify_result, sample
from workflows import admission
from workflows import clocks as rules
from workflows.decision_table import DECISIONS, ROLES
from workflows.ledger import CLOCK_FIXES, ESCALATE_TO
from workflows.tracks import hipaa

R = Role
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
QECP_ID = "web_form-QECP-SUPPORT-5531"


# ---------------------------------------------------------------------------- helpers


def sla(w: World, name: str, started) -> None:
    """``name`` is a pending service-level clock started at ``started``, awaiting the roles of its decision."""
    c = w.s.clocks[name]
    want = rules.service_level(name, started, w.s.config, sorted(r.value for r in ROLES[name]))
    assert (c.state, c.kind, c.started_at, c.due_at, c.awaiting, c.reminder_at) == (ClockState.pending, ClockKind.service_level, want.started_at, want.due_at, want.awaiting, want.reminder_at)


def met(w: World, name: str, at) -> None:
    c = w.s.clocks[name]
    assert (c.state, c.met_at) == (ClockState.met, at), (name, c)


def kinds(w: World) -> list[str]:
    return [e.kind for e in w.s.timeline]


def pending(w: World) -> list[str]:
    return sorted(n for n, c in w.s.clocks.items() if c.state in (ClockState.pending, ClockState.paused))


async def assessed(report: str = "qecp") -> World:
    """A case whose assessment put it in CMS approval, its letters not yet checked."""
    w = await at_stage("risk_assessment", report)
    await w.decide("submit_risk_assessment", {"answers": QECP_ANSWERS.model_dump(mode="json")}, role=R.cms_brt)
    return w


async def with_hold(stage: str = "notify", days: int = 10, written: bool = True, report=None) -> World:
    w = await at_stage(stage, report)
    await w.decide("delay_notification", {"until": (w.clock() + days * DAY).isoformat(), "authority": "FBI field office", "written": written}, role=R.hhs_saop)
    return w


async def acknowledged() -> World:
    w = await at_stage("contractor_review")
    await w.decide("co_acknowledge")
    return w


async def requested() -> World:
    w = await acknowledged()
    await w.decide("co_request_information", {"request": "send the mail server's logs"})
    return w


async def proposed() -> World:
    w = await at_stage("confirm_pii")
    await w.decide("determine_major_incident", {"is_major": True, "rationale": "harm to public confidence"}, role=R.cms_sop)
    return w


async def pim_asked() -> World:
    w = await at_stage("pim_review")
    await w.decide("pim_request_more_info", {"request": "attach the recipient's deletion confirmation"}, role=R.hhs_pim)
    return w


# ---------------------------------------------------------------------------- one spec per row


class Spec:
    """How one decision is tested: who makes it with what payload, a case where the plan
    allows it, a case where it must not be made (with the guard's reason and optionally
    another payload), and what its effect must do (``check``, with the effect's message)."""

    all: ClassVar[dict[str, Spec]] = {}
    name: ClassVar[str]
    role: ClassVar[Role]

    def __init_subclass__(cls) -> None:
        Spec.all[cls.name] = cls()

    def payload(self, w: World) -> dict[str, Any]:
        return {}

    async def allowed(self) -> World:
        raise NotImplementedError

    async def refused(self) -> tuple[World, str, dict[str, Any] | None]:
        raise NotImplementedError

    def check(self, w: World, message: str) -> None:
        raise NotImplementedError


class ConfirmPii(Spec):
    name, role = "confirm_pii", R.program_office

    def payload(self, w):
        return {"is_pii": True, "federal_data": True}

    async def allowed(self):
        return await at_stage("confirm_pii")

    async def refused(self):
        return await at_stage("risk_assessment"), "the case is in stage risk_assessment, not confirm_pii", None

    def check(self, w, message):
        now = w.clock()
        assert message == "PII confirmed: risk assessment"
        assert w.s.stage is Stage.risk_assessment and w.s.pii.is_pii and w.s.pii.federal_data
        met(w, "confirm_pii", now)
        sla(w, "submit_risk_assessment", now)
        assert w.s.policy.version == w.fx.policy.version and w.s.policy.sha256 == w.fx.policy.sha256
        assert w.fx.names()[-1] == "load_policy"


class CoAcknowledge(Spec):
    name, role = "co_acknowledge", R.contracting_officer

    async def allowed(self):
        return await at_stage("contractor_review")

    async def refused(self):
        return await acknowledged(), "the CO already acknowledged", None

    def check(self, w, message):
        assert message == "CO engaged" and w.s.co_acknowledged
        met(w, "co_acknowledge", w.clock())
        sla(w, "co_complete_review", w.clock())
        assert w.s.clocks["co_complete_review"].due_at == w.clock() + 10 * DAY


class CoRequestInformation(Spec):
    name, role = "co_request_information", R.contracting_officer

    def payload(self, w):
        return {"request": "send the mail server's logs"}

    async def allowed(self):
        return await acknowledged()

    async def refused(self):
        return await at_stage("contractor_review"), "the CO must acknowledge first", None

    def check(self, w, message):
        assert message == "information request 1 sent to the contractor through the CO"
        assert (w.s.co_open_request, w.s.co_requests) == ("send the mail server's logs", 1)
        sla(w, "co_record_contractor_response", w.clock())
        assert w.s.clocks["co_record_contractor_response"].due_at == w.clock() + 5 * DAY


class CoRecordContractorResponse(Spec):
    name, role = "co_record_contractor_response", R.contracting_officer

    def payload(self, w):
        return {"summary": "logs supplied", "artifacts": ["smtp-2026-11-17.log", "TICKET-4411"]}

    async def allowed(self):
        w = await requested()
        w.clock.advance(2 * DAY)
        return w

    async def refused(self):
        return await acknowledged(), "no information request is open", None

    def check(self, w, message):
        assert message == "contractor response recorded (2 artifact reference(s))"
        assert w.s.co_open_request is None and w.s.co_requests == 1
        met(w, "co_record_contractor_response", w.clock())


class CoCompleteReview(Spec):
    name, role = "co_complete_review", R.contracting_officer

    def payload(self, w):
        return {"contractor_cooperated": False, "obligations": "clause H.12: report within one hour"}

    async def allowed(self):
        return await acknowledged()

    async def refused(self):
        return await requested(), "an information request is still open", None

    def check(self, w, message):
        now = w.clock()
        assert message == "CO review complete: risk assessment"
        assert w.s.co_review.contractor_cooperated is False
        met(w, "co_complete_review", now)
        finding = w.s.findings[-1]
        assert finding.kind == "contractor_did_not_cooperate" and "clause H.12" in finding.detail
        assert w.s.stage is Stage.risk_assessment and w.s.policy is not None
        sla(w, "submit_risk_assessment", now)


class SubmitRiskAssessment(Spec):
    name, role = "submit_risk_assessment", R.cms_brt

    def payload(self, w):
        return {"answers": QECP_ANSWERS.model_dump(mode="json")}

    async def allowed(self):
        w = await at_stage("risk_assessment")
        w.clock.advance(DAY)
        return w

    async def refused(self):
        return await at_stage("confirm_pii"), "the case is in stage confirm_pii, not risk_assessment", None

    def check(self, w, message):
        now = w.clock()
        assert message == "risk moderate: notification path, CMS approval of the response plan"
        [request] = w.fx.args("assess")
        assert (request.sequence, request.policy_version, request.assessed_by, request.assessed_at, request.facts.individuals) == (1, w.s.policy.version, "Test cms_brt (cms_brt)", now, 37)
        [a] = w.s.assessments
        assert (a.level, a.notify, a.major_incident) == (Rating.moderate, True, False)
        assert not w.s.assessing and w.s.letters_stale
        met(w, "submit_risk_assessment", now)
        assert w.s.stage is Stage.cms_approval
        sla(w, "approve_response_plan", now)
        assert "risk_assessed" in kinds(w)


class DetermineMajorIncident(Spec):
    name, role = "determine_major_incident", R.cms_sop

    def payload(self, w):
        return {"is_major": True, "rationale": "harm to public confidence"}

    async def allowed(self):
        return await at_stage("confirm_pii")

    async def refused(self):
        return await World.filed("laptop"), "the case is already a major incident", None

    def check(self, w, message):
        assert message == "major incident proposed; awaiting HHS SAOP approval"
        assert (w.s.major.status, w.s.major.rationale) == ("proposed", "harm to public confidence")
        sla(w, "approve_major_incident", w.clock())
        assert "cisa_omb" not in w.s.clocks and not w.fx.args("draft")


class ApproveMajorIncident(Spec):
    name, role = "approve_major_incident", R.hhs_saop

    async def allowed(self):
        w = await proposed()
        w.clock.advance(3 * HOUR)
        return w

    async def refused(self):
        return await at_stage("confirm_pii"), "no major-incident proposal awaits approval", None

    def check(self, w, message):
        now, s = w.clock(), w.s
        assert message == "major incident determined: CISA/OMB within 1 hour, Congress/OIG within 7 days"
        assert (s.major.status, s.major.automatic, s.major.determined_at, s.major.rationale) == ("determined", False, now, "harm to public confidence")
        met(w, "approve_major_incident", now)
        assert s.clocks["cisa_omb"].due_at == rules.statutory("cisa_omb", now, s.config).due_at == now + HOUR
        assert s.clocks["congress_oig"].due_at == now + 7 * DAY
        assert s.clocks["supplemental_30d"].due_at == s.report.discovered_at + 30 * DAY  # from discovery, the stricter reading
        assert sorted(s.major.drafts) == ["cisa_omb", "congress_oig", "supplemental_30d"]
        assert [r.kind for r in w.fx.args("draft")] == ["cisa_omb", "congress_oig", "supplemental_30d"]


class RejectMajorIncident(Spec):
    name, role = "reject_major_incident", R.hhs_saop

    def payload(self, w):
        return {"comments": "no demonstrable harm to national security"}

    async def allowed(self):
        return await proposed()

    async def refused(self):
        return await at_stage("confirm_pii"), "no major-incident proposal awaits approval", None

    def check(self, w, message):
        assert message == "major-incident proposal rejected by the HHS SAOP"
        assert w.s.major.status == "none" and not w.s.major.determined
        met(w, "approve_major_incident", w.clock())
        assert "cisa_omb" not in w.s.clocks and not w.fx.args("draft")


class ApproveResponsePlan(Spec):
    name, role = "approve_response_plan", R.cms_sop

    async def allowed(self):
        return await at_stage("cms_approval")

    async def refused(self):
        w = await at_stage("cms_approval")
        w.s.notify_problem = "TemplateRefused: en/adult.txt.j2 renders empty"
        return w, f"the letters cannot go to CMS approval: TemplateRefused: en/adult.txt.j2 renders empty. Fix it, then run `breach notify-retry {w.s.report.breach_id}`", None

    def check(self, w, message):
        assert message == "CMS approved the response plan and letters: HHS approval"
        assert w.s.stage is Stage.hhs_approval
        met(w, "approve_response_plan", w.clock())
        sla(w, "approve_notification", w.clock())


class RejectResponsePlan(Spec):
    name, role = "reject_response_plan", R.cms_brt

    def payload(self, w):
        return {"comments": "say what the agency is doing"}

    async def allowed(self):
        w = await at_stage("cms_approval")
        w.clock.advance(HOUR)
        return w

    async def refused(self):
        return await at_stage("hhs_approval"), "the case is in stage hhs_approval, not cms_approval", None

    def check(self, w, message):
        now = w.clock()
        assert message == "returned to drafting with comments (CMS rejection 1)"
        assert w.s.cms_rejections == 1 and w.s.stage is Stage.cms_approval and w.s.letters_stale
        sla(w, "approve_response_plan", now)  # started again, from now
        assert [e.detail for e in w.s.timeline if e.kind == "returned_to_drafting"] == ["say what the agency is doing"]
        assert [e.clock for e in w.s.timeline if e.kind == "deadline_met"][-1] == "approve_response_plan"


class ApproveNotification(Spec):
    name, role = "approve_notification", R.hhs_brt

    def payload(self, w):
        return NOTIFICATION

    async def allowed(self):
        return await at_stage("hhs_approval")

    async def refused(self):
        return await at_stage("cms_approval"), "the case is in stage cms_approval, not hhs_approval", None

    def check(self, w, message):
        assert message == "HHS approved notification by first_class_mail; Notifying Official CMS Administrator"
        assert w.s.notification.notifying_official == "CMS Administrator" and w.s.stage is Stage.notify
        met(w, "approve_notification", w.clock())
        sla(w, "record_notification_sent", w.clock())
        assert w.s.clocks["record_notification_sent"].awaiting == ["notifying_official"]


class RejectNotification(Spec):
    name, role = "reject_notification", R.hhs_saop

    def payload(self, w):
        return {"comments": "offer identity monitoring too"}

    async def allowed(self):
        w = await at_stage("hhs_approval")
        w.clock.advance(HOUR)
        return w

    async def refused(self):
        return await at_stage("cms_approval"), "the case is in stage cms_approval, not hhs_approval", None

    def check(self, w, message):
        assert message == "HHS rejected: back to CMS approval"
        assert w.s.hhs_rejections == 1 and w.s.stage is Stage.cms_approval and w.s.letters_stale
        met(w, "approve_notification", w.clock())
        sla(w, "approve_response_plan", w.clock())
        assert "returned_to_cms" in kinds(w)


class ApproveOutboundReport(Spec):
    name, role = "approve_outbound_report", R.hhs_brt

    def payload(self, w):
        return {"kind": "cisa_omb"}

    async def allowed(self):
        w = await World.filed("laptop")  # 152,000 people: a major incident at intake, its reports drafted
        w.clock.advance(timedelta(minutes=20))
        return w

    async def refused(self):
        return await at_stage("confirm_pii"), "the case is not a major incident", None

    def check(self, w, message):
        assert message == "cisa_omb report sent"
        assert w.fx.sent()[-1] == "cisa_omb"
        doc = w.fx.document("cisa_omb")
        assert (doc["status"], doc["approved_by"], doc["kind"], doc["sent_at"]) == ("approved by the HHS Breach Response Team", ["hhs_brt"], "cisa_omb", w.clock().isoformat())
        assert w.s.major.sent == {"cisa_omb": w.s.outbox[-1]}
        met(w, "cisa_omb", w.clock())
        assert "sent:cisa_omb" in w.fx.audited()


class DelayNotification(Spec):
    name, role = "delay_notification", R.hhs_saop

    def payload(self, w):
        return {"until": (w.clock() + 10 * DAY).isoformat(), "authority": "FBI field office", "written": True}

    async def allowed(self):
        w = await at_stage("notify")
        w.clock.advance(2 * DAY)
        return w

    async def refused(self):
        w = await at_stage("notify")
        return w, "until is 1d in the past", {"until": (w.clock() - DAY).isoformat(), "authority": "FBI field office", "written": True}

    def check(self, w, message):
        now = w.clock()
        assert message == "notification held for 10d (written instruction)"
        assert (w.s.hold.authority, w.s.hold.written, w.s.hold.until, w.s.hold.started_at) == ("FBI field office", True, now + 10 * DAY, now)
        hold = w.s.clocks["law_enforcement_hold"]
        assert (hold.state, hold.started_at, hold.due_at) == (ClockState.pending, now, now + 10 * DAY)
        sent = w.s.clocks["record_notification_sent"]
        assert (sent.state, sent.paused_remaining) == (ClockState.paused, 28 * DAY)  # 30 days, 2 gone
        assert "hold_started" in kinds(w) and "deadline_paused" in kinds(w)


class LiftDelay(Spec):
    name, role = "lift_delay", R.hhs_saop

    async def allowed(self):
        w = await with_hold()
        w.clock.advance(4 * DAY)
        return w

    async def refused(self):
        return await at_stage("notify"), "no hold is in effect", None

    def check(self, w, message):
        now = w.clock()
        assert message == "hold lifted: notification clocks resume"
        assert w.s.hold is None
        met(w, "law_enforcement_hold", now)
        sent = w.s.clocks["record_notification_sent"]
        assert (sent.state, sent.due_at, sent.paused_remaining) == (ClockState.pending, now + 30 * DAY, None)  # all 30 days remained
        assert sent.reminder_at == rules.reminder_at(now, now + 30 * DAY, w.s.config)
        assert kinds(w)[-2:] == ["deadline_resumed", "hold_lifted"]


class PimApproveClosure(Spec):
    name, role = "pim_approve_closure", R.hhs_pim

    async def allowed(self):
        w = await at_stage("pim_review")
        w.clock.advance(DAY)
        return w

    async def refused(self):
        return await pim_asked(), "the agency has not yet answered PIM's request", None

    def check(self, w, message):
        assert message == "PIM approved closure"
        assert (w.s.closed, w.s.main_outcome, w.s.stage) == (True, "closed_low_risk", Stage.closed)
        met(w, "pim_approve_closure", w.clock())
        assert pending(w) == []
        assert w.fx.audited()[-1] == "closed" and kinds(w)[-1] == "closed"


class PimRequestMoreInfo(Spec):
    name, role = "pim_request_more_info", R.hhs_pim

    def payload(self, w):
        return {"request": "attach the recipient's deletion confirmation"}

    async def allowed(self):
        return await at_stage("pim_review")

    async def refused(self):
        return await pim_asked(), "the agency has not yet answered PIM's request", None

    def check(self, w, message):
        assert message == "PIM request 1 sent back to the agency"
        assert (w.s.pim_open_request, w.s.pim_requests) == ("attach the recipient's deletion confirmation", 1)
        met(w, "pim_approve_closure", w.clock())
        sla(w, "respond_to_pim", w.clock())


class RespondToPim(Spec):
    name, role = "respond_to_pim", R.cms_sop

    def payload(self, w):
        return {"response": "the confirmation is attached"}

    async def allowed(self):
        w = await pim_asked()
        w.clock.advance(3 * DAY)
        return w

    async def refused(self):
        return await at_stage("pim_review"), "PIM has no open request", None

    def check(self, w, message):
        assert message == "answer sent to PIM"
        assert w.s.pim_open_request is None
        met(w, "respond_to_pim", w.clock())
        sla(w, "pim_approve_closure", w.clock())
        assert w.fx.sent()[-1] == "pim_response_1"
        doc = w.fx.document("pim_response_1")
        assert (doc["response"], doc["risk_level"], doc["to"]) == ("the confirmation is attached", "low", ["HHS PIM"])
        assert w.fx.audited()[-1] == "sent:pim_response_1"


class NewInformation(Spec):
    name, role = "new_information", R.cms_sop

    def payload(self, w):
        return {"individuals_delta": 100, "data_elements_added": ["ssn"], "misuse_evidence": True}

    async def allowed(self):
        w = await at_stage("cms_approval")
        w.clock.advance(DAY)
        return w

    async def refused(self):
        return await at_stage("confirm_pii"), "nothing new: give data_elements_added, individuals_delta or misuse_evidence", {}

    def check(self, w, message):
        now = w.clock()
        assert message == "risk assessment reopened"
        assert (w.s.individuals, w.s.data_elements[-1].value, w.s.misuse_reported) == (137, "ssn", True)
        assert w.s.stage is Stage.risk_assessment
        assert w.s.clocks["approve_response_plan"].state is ClockState.not_applicable
        sla(w, "submit_risk_assessment", now)
        assert w.s.follow_up_reason is None  # nobody notified yet
        assert not w.s.major.determined


class RecordNotificationSent(Spec):
    name, role = "record_notification_sent", R.notifying_official

    def payload(self, w):
        return {"individuals_notified": 37}

    async def allowed(self):
        w = await at_stage("notify")
        w.clock.advance(5 * DAY)
        return w

    async def refused(self):
        return await with_hold(), "notification is held for another 10d (FBI field office)", None

    def check(self, w, message):
        assert message == "notification round 1 recorded"
        assert (w.s.notice_rounds, w.s.individuals_notified) == (1, 37)
        met(w, "record_notification_sent", w.clock())
        assert (w.s.closed, w.s.main_outcome) == (True, "notified")
        assert "hipaa_ocr_notice" not in w.fx.sent()  # not a HIPAA case
        assert w.fx.audited()[-1] == "closed"


NEW_PERSON = OperatorRoster(operators=[Operator(name="Sam Ortiz", roles=[R.cms_sop], public_key=public_key_b64(OPERATORS.keys["Sam Ortiz"])), Operator(name="Dana New", roles=[R.cms_brt], public_key=public_key_b64(OPERATORS.keys["Test cms_brt"]))])


class UpdateOperators(Spec):
    name, role = "update_operators", R.cms_sop

    def payload(self, w):
        return NEW_PERSON.model_dump(mode="json")

    async def allowed(self):
        return await at_stage("confirm_pii")

    async def refused(self):
        w = await at_stage("confirm_pii")
        only_brt = OperatorRoster(operators=NEW_PERSON.operators[1:])
        return w, "the new operators must include at least one cms_sop, or nobody could change them again", only_brt.model_dump(mode="json")

    def check(self, w, message):
        assert message == "2 operator(s) registered"
        assert [o.name for o in w.s.operators.operators] == ["Sam Ortiz", "Dana New"]
        [changed] = [e for e in w.s.timeline if e.kind == "operators_changed"]
        assert changed.detail.startswith("added ['Dana New']; removed ['Test cms_brt'")
        d = w.decision("confirm_pii", {"is_pii": True}, role=R.cms_sop)  # "Test cms_sop" is no longer an operator
        assert admission.message_problem(w.case, w.workflow_id, "confirm_pii", d) == "Test cms_sop is not an operator of this case"


# ---------------------------------------------------------------------------- every row


def test_every_decision_of_the_table_has_a_spec():
    assert set(Spec.all) == set(DECISIONS)
    for name, spec in Spec.all.items():
        assert spec.role in DECISIONS[name].roles, name


@pytest.mark.parametrize("name", sorted(DECISIONS))
async def test_guard_allows_the_decision_where_the_plan_does(name):
    spec, row = Spec.all[name], DECISIONS[name]
    w = await spec.allowed()
    d = w.decision(name, spec.payload(w), role=spec.role)
    payload = row.payload.model_validate(d.payload)
    assert row.guard(w.case, d, payload) is None
    assert admission.message_problem(w.case, w.workflow_id, name, d) is None
    assert admission.authorize(w.case, name, row, d) == payload


@pytest.mark.parametrize("name", sorted(DECISIONS))
async def test_guard_refuses_the_decision_where_it_must_not_be_made(name):
    spec, row = Spec.all[name], DECISIONS[name]
    w, reason, other = await spec.refused()
    d = w.decision(name, spec.payload(w) if other is None else other, role=spec.role)
    assert row.guard(w.case, d, row.payload.model_validate(d.payload)) == reason
    before = w.s.model_dump()
    with pytest.raises(DecisionRefused) as refused:
        admission.authorize(w.case, name, row, d)
    assert (str(refused.value), refused.value.recorded) == (f"{name}: {reason}", True)
    assert w.s.model_dump() == before  # a refused decision changes nothing


@pytest.mark.parametrize("name", sorted(DECISIONS))
async def test_effect_changes_state_and_clocks_as_the_plan_says(name):
    spec = Spec.all[name]
    w = await spec.allowed()
    decisions = len(w.s.decisions)
    message = await w.decide(name, spec.payload(w), role=spec.role)
    assert [n.decision for n in w.s.decisions[decisions:]] == [name]
    spec.check(w, message)


# ---------------------------------------------------------------------------- other branches


async def test_not_pii_closes_the_case_as_documented():
    w = await at_stage("confirm_pii")
    message = await w.decide("confirm_pii", {"is_pii": False}, role=R.cms_sop)
    assert message == "not PII: closed as not a breach of PII (documented)"
    assert (w.s.closed, w.s.main_outcome, w.s.stage) == (True, "no_pii", Stage.closed)
    assert pending(w) == [] and w.s.clocks["csirc_report"].state is ClockState.met
    assert w.fx.audited()[-1] == "closed"


async def test_pii_with_a_contractor_goes_to_the_contracting_officer_with_the_reported_elements_replaced():
    w = await World.filed("recon")
    message = await w.decide("confirm_pii", {"is_pii": True, "data_elements": ["name", "email"]}, role=R.cms_sop)
    assert message == "PII confirmed; contractor involved: the Contracting Officer's review starts"
    assert w.s.stage is Stage.contractor_review and [e.value for e in w.s.data_elements] == ["name", "email"]
    sla(w, "co_acknowledge", w.clock())
    assert w.s.clocks["co_acknowledge"].awaiting == ["contracting_officer"]


async def test_a_second_information_request_waits_for_the_answer_to_the_first():
    w = await requested()
    assert await w.refused("co_request_information", {"request": "more"}) == "co_request_information: an information request is already open"
    await w.decide("co_record_contractor_response", {"summary": "logs"})
    assert await w.decide("co_request_information", {"request": "more"}) == "information request 2 sent to the contractor through the CO"


async def test_a_low_risk_assessment_sends_the_results_to_pim():
    w = await at_stage("risk_assessment", "recon")
    message = await w.decide("submit_risk_assessment", {"answers": RECON_ANSWERS.model_dump(mode="json")}, role=R.cms_sop)
    assert message == "risk low: results sent to PIM for closure"
    assert w.s.stage is Stage.pim_review and w.s.assessment.notify is False
    assert w.fx.sent()[-1] == "pim_results" and w.fx.document("pim_results")["risk_level"] == "low"
    sla(w, "pim_approve_closure", w.clock())


async def test_refused_answers_refuse_the_submission_on_record_and_leave_the_case_ready_for_another():
    w = await at_stage("risk_assessment")
    bare = RiskAnswers(factors={FactorName.security_safeguards: FactorAnswer(rating=Rating.low, rationale="  ", by="Sam")})  # an override without a rationale
    row, d, payload = w.authorize("submit_risk_assessment", {"answers": bare.model_dump(mode="json")}, role=R.cms_brt)
    with pytest.raises(DecisionRefused) as refused:
        await row.prepare(w.case, d, payload)
    assert refused.value.recorded and str(refused.value).startswith("submit_risk_assessment: ")
    assert "security_safeguards" in str(refused.value) and "rationale" in str(refused.value)
    assert (w.s.assessing, w.s.assessments, w.s.stage) == (False, [], Stage.risk_assessment)
    assert w.s.clocks["submit_risk_assessment"].state is ClockState.pending
    assert await w.decide("submit_risk_assessment", {"answers": QECP_ANSWERS.model_dump(mode="json")}, role=R.cms_brt) == "risk moderate: notification path, CMS approval of the response plan"


async def test_scoring_marks_the_case_assessing_until_the_effect_applies_it():
    w = await at_stage("risk_assessment")
    row, d, payload = w.authorize("submit_risk_assessment", {"answers": QECP_ANSWERS.model_dump(mode="json")}, role=R.cms_brt)
    scored = await row.prepare(w.case, d, payload)
    assert w.s.assessing and scored.submitted_at == w.clock()
    rival = w.decision("submit_risk_assessment", {"answers": QECP_ANSWERS.model_dump(mode="json")}, role=R.cms_sop)
    assert row.guard(w.case, rival, payload) is None  # the stage allows it; the case is busy, not refusing
    assert admission.busy(w.case, "submit_risk_assessment", row) == "submit_risk_assessment: the assessment is being prepared or scored; try again in a moment"
    w.clock.advance(HOUR)
    await row.effect(w.case, d, scored)
    assert not w.s.assessing and w.s.clocks["submit_risk_assessment"].met_at == scored.submitted_at


async def test_determine_not_major_is_recorded_and_a_proposal_cannot_be_made_twice():
    w = await at_stage("confirm_pii")
    assert await w.decide("determine_major_incident", {"is_major": False, "rationale": "37 officers"}, role=R.cms_sop) == "recorded: the CMS BRT does not consider this a major incident"
    assert w.s.major.status == "none" and kinds(w)[-1] == "major_incident_not_proposed"
    await w.decide("determine_major_incident", {"is_major": True, "rationale": "public confidence"}, role=R.cms_sop)
    assert await w.refused("determine_major_incident", {"is_major": True, "rationale": "again"}, role=R.cms_sop) == "determine_major_incident: a proposal already awaits HHS SAOP approval"


async def test_nothing_but_maintenance_is_decided_while_the_case_is_still_being_reported():
    w = World.new("qecp")
    w.s.operators = OPERATORS.roster()
    for name, payload in (("determine_major_incident", {"is_major": True, "rationale": "x"}), ("new_information", {"individuals_delta": 1}),
                          ("delay_notification", {"until": (w.clock() + DAY).isoformat(), "authority": "FBI", "written": True})):
        assert await w.refused(name, payload) == f"{name}: the case is still being reported"


async def test_letters_refused_keep_the_plan_from_cms_approval_until_retried():
    w = await assessed()
    w.fx.letters_refusal = "TemplateRefused: element 6 (what_we_are_doing) is missing"
    await w.work()
    assert w.s.notify_problem == "TemplateRefused: element 6 (what_we_are_doing) is missing"
    assert w.s.findings[-1].kind == "letters_refused"
    assert await w.refused("approve_response_plan", role=R.cms_sop) == (
        f"approve_response_plan: the letters cannot go to CMS approval: TemplateRefused: element 6 (what_we_are_doing) is missing. Fix it, then run `breach notify-retry {QECP_ID}`"
    )


async def test_outbound_reports_need_every_approver_and_the_last_one_closes_a_case_whose_outcome_is_recorded():
    w = await World.filed("laptop")
    await w.decide("confirm_pii", {"is_pii": False}, role=R.cms_sop)  # outcome recorded; the major-incident reports keep it open
    assert (w.s.main_outcome, w.s.closed) == ("no_pii", False)
    assert await w.refused("approve_outbound_report", {"kind": "cisa_omb"}, role=R.hhs_asl) == "approve_outbound_report: the cisa_omb report is approved by hhs_brt"
    assert await w.decide("approve_outbound_report", {"kind": "cisa_omb"}, role=R.hhs_brt) == "cisa_omb report sent"
    assert await w.refused("approve_outbound_report", {"kind": "cisa_omb"}, role=R.hhs_brt) == "approve_outbound_report: the cisa_omb report was already sent"
    assert await w.decide("approve_outbound_report", {"kind": "congress_oig"}, role=R.hhs_brt) == "congress_oig approved by hhs_brt; still needs hhs_asl"
    assert "congress_oig" not in w.fx.sent() and w.s.clocks["congress_oig"].state is ClockState.pending
    assert await w.refused("approve_outbound_report", {"kind": "congress_oig"}, role=R.hhs_brt) == "approve_outbound_report: hhs_brt already approved the congress_oig report"
    assert await w.decide("approve_outbound_report", {"kind": "congress_oig"}, role=R.hhs_asl) == "congress_oig report sent"
    assert w.fx.document("congress_oig")["approved_by"] == ["hhs_brt", "hhs_asl"]
    await w.decide("approve_outbound_report", {"kind": "supplemental_30d"}, role=R.hhs_brt)
    assert not w.s.closed
    await w.decide("approve_outbound_report", {"kind": "supplemental_30d"}, role=R.hhs_asl)
    assert (w.s.closed, w.s.main_outcome, w.s.stage) == (True, "no_pii", Stage.closed)
    assert [w.s.clocks[k].state for k in ("cisa_omb", "congress_oig", "supplemental_30d")] == [ClockState.met] * 3
    assert pending(w) == []


async def test_an_oral_hold_lasts_at_most_thirty_days():
    w = await with_hold(days=60, written=False)
    hold = w.s.clocks["law_enforcement_hold"]
    assert hold.due_at == rules.hold(w.clock(), w.clock() + 60 * DAY, False, w.s.config).due_at == w.clock() + 30 * DAY
    assert w.s.timeline[-1].detail == "oral instruction from FBI field office"


async def test_a_hold_stops_a_running_export_which_resumes_the_same_round_when_lifted():
    w = await at_stage("notify", sample("qecp", roster_uri="file:roster-qecp.csv"))
    assert await w.refused("record_notification_sent", {"individuals_notified": 37}) == (
        "record_notification_sent: the case exports its roster (file:roster-qecp.csv) to the mail house and records the mailing itself"
    )
    await w.work()
    [export] = w.fx.exports
    [request] = w.fx.args("start_export")
    assert (request.round, request.roster_uri, w.ledger.exporting) == (1, "file:roster-qecp.csv", True)
    assert w.ledger.export is export
    await w.decide("delay_notification", {"until": (w.clock() + 5 * DAY).isoformat(), "authority": "FBI field office", "written": True}, role=R.hhs_saop)
    assert export.cancelled()
    await w.work()
    assert (w.ledger.exporting, w.ledger.export, kinds(w)[-1]) == (False, None, "notification_export_paused")
    assert len(w.fx.exports) == 1  # no export under a hold
    w.clock.advance(DAY)
    await w.decide("lift_delay", role=R.hhs_saop)
    await w.work()
    assert len(w.fx.exports) == 2 and w.fx.args("start_export")[1] is request  # the same round's request, resumed from its checkpoint
    w.fx.exports[1].set_result(notify_result(request, 37))
    await w.work()
    assert (w.s.notice_rounds, w.s.individuals_notified, w.s.closed, w.s.main_outcome) == (1, 37, True, "notified")
    [entry] = w.fx.args("record_round")
    assert entry.result.counts.recipients == 37 and entry.completed_at == w.clock()
    met(w, "record_notification_sent", w.clock())


async def test_new_information_to_100000_people_makes_a_major_incident_and_after_a_round_asks_for_a_follow_up():
    w = await at_stage("confirm_pii")
    assert await w.decide("new_information", {"individuals_delta": 100_000 - 37}) == "facts updated"
    assert (w.s.major.status, w.s.major.automatic, w.s.stage) == ("determined", True, Stage.confirm_pii)
    assert w.s.clocks["cisa_omb"].due_at == w.clock() + HOUR
    w = await at_stage("notify")
    w.s.notice_rounds = 1  # a round went out
    await w.decide("new_information", {"data_elements_added": ["ssn"]})
    assert w.s.follow_up_reason == "Since our first letter we have learned that the information involved also included: social security number."
    assert await w.refused("new_information", {"individuals_delta": -1000}) == "new_information: individuals_delta -1000 would make the count negative (-963)"


async def test_notification_of_a_hipaa_case_settles_its_clocks_and_tells_ocr():
    w = await at_stage("notify", sample("qecp", hipaa_covered=True, estimated_individuals=600))
    assert {"hipaa_individuals", "hipaa_ocr", "hipaa_media"} <= set(pending(w))
    w.clock.advance(DAY)
    await w.decide("record_notification_sent", {"individuals_notified": 600, "media_notice": True})
    for name in ("hipaa_individuals", "hipaa_ocr", "hipaa_media", "record_notification_sent"):
        met(w, name, w.clock())
    assert w.fx.sent()[-1] == "hipaa_ocr_notice" and w.fx.document("hipaa_ocr_notice")["individuals_notified"] == 600
    assert w.s.closed


async def test_the_notices_the_ledger_queues_are_delivered_in_order():
    w = await at_stage("confirm_pii")
    w.clock.advance(DAY)
    w.ledger.tick()
    await w.case.flush_notices()
    assert w.fx.sent()[-1] == "notice-001-escalation-confirm_pii"
    assert w.fx.document("notice-001-escalation-confirm_pii")["to"] == ESCALATE_TO
    assert w.s.notices_sent == 1 and w.ledger.notices == [] and w.fx.names()[-1] == "sync"


# ---------------------------------------------------------------------------- admission


async def test_authorize_refuses_a_role_the_row_does_not_name():
    w = await at_stage("confirm_pii")
    assert await w.refused("confirm_pii", {"is_pii": True}, role=R.hhs_pim) == "confirm_pii may be made by cms_sop, program_office, not by role hhs_pim"


async def test_authorize_refuses_a_role_the_operator_does_not_hold():
    w = await at_stage("confirm_pii")
    assert await w.refused("confirm_pii", {"is_pii": True}, role=R.program_office, by="Sam Ortiz") == "Sam Ortiz does not hold role program_office in this case (holds cms_sop)"


async def test_authorize_refuses_any_decision_on_a_closed_case():
    w = await at_stage("confirm_pii")
    await w.decide("confirm_pii", {"is_pii": False}, role=R.cms_sop)
    assert await w.refused("new_information", {"individuals_delta": 5}) == "the case is closed (no_pii); no further decisions"


async def test_authorize_refuses_all_but_after_outcome_rows_once_the_outcome_is_recorded():
    w = await World.filed("laptop")
    await w.decide("confirm_pii", {"is_pii": False}, role=R.cms_sop)
    assert await w.refused("determine_major_incident", {"is_major": True, "rationale": "x"}, role=R.cms_sop) == (
        "the case's outcome (no_pii) is recorded; it closes once every major-incident report is sent"
    )
    after = {name for name, row in DECISIONS.items() if row.after_outcome}
    assert after == {"approve_outbound_report", "new_information"}
    _, _, payload = w.authorize("new_information", {"individuals_delta": 5})
    assert payload.individuals_delta == 5


async def test_authorize_refuses_a_malformed_payload_naming_the_field():
    w = await at_stage("confirm_pii")
    assert await w.refused("confirm_pii", {"is_pii": "perhaps"}, role=R.cms_sop) == "confirm_pii: malformed decision: is_pii: Input should be a valid boolean, unable to interpret input"
    assert await w.refused("confirm_pii", {"is_pii": True, "is_phi": True}, role=R.cms_sop) == "confirm_pii: malformed decision: is_phi: Extra inputs are not permitted"


async def test_authorize_refuses_what_the_guard_refuses_with_the_decision_named():
    w = await at_stage("confirm_pii")
    assert await w.refused("approve_response_plan", role=R.cms_sop) == "approve_response_plan: the case is in stage confirm_pii, not cms_approval"


async def test_message_problem_turns_away_what_cannot_be_attributed():
    w = await at_stage("confirm_pii")
    name, wid = "confirm_pii", w.workflow_id

    def problem(d: Decision) -> str | None:
        return admission.message_problem(w.case, wid, name, d)

    good = w.decision(name, {"is_pii": True}, role=R.cms_sop)
    assert problem(good) is None
    unsigned = Decision(decision_id="u-1", actor=Actor(name="Test cms_sop", role=R.cms_sop), payload={"is_pii": True})
    assert problem(unsigned) == "unsigned decision: every decision must be signed with the operator's key (the breach CLI signs)"
    stranger = good.model_copy(update={"actor": Actor(name="Mallory", role=R.cms_sop)})
    assert problem(stranger) == "Mallory is not an operator of this case"
    altered = good.model_copy(update={"payload": {"is_pii": False}})
    assert problem(altered) == "the signature does not match Test cms_sop's key: the decision was forged or altered"
    other_case = OPERATORS.sign(unsigned, case="breach-elsewhere", decision_name=name, at=w.clock())
    assert problem(other_case) == "the signature does not match Test cms_sop's key: the decision was forged or altered"
    stale = w.decision(name, {"is_pii": True}, role=R.cms_sop, signed_at=w.clock() - timedelta(minutes=20))
    assert problem(stale) == "the decision was signed 20m away from the case's clock (more than 15m); sign it again"
    ahead = w.decision(name, {"is_pii": True}, role=R.cms_sop, signed_at=w.clock() + timedelta(minutes=14))
    assert problem(ahead) is None
    await w.decide(name, {"is_pii": True}, role=R.cms_sop, decision_id="once")
    w.clock.advance(timedelta(minutes=5))
    again = w.decision(name, {"is_pii": True}, role=R.cms_sop, decision_id="once")
    assert problem(again) == "decision id once was already applied (confirm_pii by Test cms_sop, 5m ago)"


def test_read_finds_the_row_and_refuses_unknown_names_wrong_arity_and_bad_envelopes():
    d = Decision(decision_id="r-1", actor=Actor(name="x", role=R.cms_sop))
    row, decision = admission.read("confirm_pii", [d.model_dump()], Decision.model_validate)
    assert row is DECISIONS["confirm_pii"] and decision == d
    with pytest.raises(ValueError, match=r"^unknown decision 'confirm_phi'; known decisions: approve_major_incident, "):
        admission.read("confirm_phi", [d.model_dump()], Decision.model_validate)
    with pytest.raises(ValueError, match=r"^confirm_pii: expected one decision argument, got 2$"):
        admission.read("confirm_pii", [d.model_dump(), d.model_dump()], Decision.model_validate)
    with pytest.raises(ValueError, match=r"^confirm_pii: expected one decision argument, got 0$"):
        admission.read("confirm_pii", [], Decision.model_validate)
    with pytest.raises(ValueError, match=r"^confirm_pii: malformed decision: actor: Field required"):
        admission.read("confirm_pii", [{"decision_id": "r-2"}], Decision.model_validate)


# ---------------------------------------------------------------------------- clock rules corrected under running cases (ledger.CLOCK_FIXES)



async def test_the_ocr_clock_returns_when_the_count_returns_to_500():
    w = await World.filed(sample("qecp", hipaa_covered=True, estimated_individuals=600))
    w.s.individuals = 400
    hipaa.count_clocks(w.case, before=600)
    assert (w.s.clocks["hipaa_ocr"].state, w.s.clocks["hipaa_ocr_annual_log"].state) == (ClockState.not_applicable, ClockState.pending)
    w.s.individuals = 600
    hipaa.count_clocks(w.case, before=400)
    assert w.s.clocks["hipaa_ocr_annual_log"].state is ClockState.not_applicable
    assert w.s.clocks["hipaa_ocr"].state is ClockState.pending



async def test_the_media_clock_returns_when_the_count_goes_back_above_500():
    w = await World.filed(sample("qecp", hipaa_covered=True, estimated_individuals=600))
    await w.decide("new_information", {"individuals_delta": -200})
    assert w.s.clocks["hipaa_media"].state is ClockState.not_applicable
    await w.decide("new_information", {"individuals_delta": 200})
    assert w.s.clocks["hipaa_media"].state is ClockState.pending



async def test_a_case_below_500_reports_to_ocr_in_the_annual_log_only():
    w = await World.filed(sample("qecp", hipaa_covered=True, estimated_individuals=600))
    await w.decide("new_information", {"individuals_delta": -200})  # 400: OCR hears in the annual log
    await w.decide("confirm_pii", {"is_pii": True}, role=R.cms_sop)
    await w.decide("submit_risk_assessment", {"answers": QECP_ANSWERS.model_dump(mode="json")}, role=R.cms_brt)
    await w.work()
    await w.decide("approve_response_plan", role=R.cms_sop)
    await w.decide("approve_notification", NOTIFICATION, role=R.hhs_saop)
    await w.decide("record_notification_sent", {"individuals_notified": 400})
    assert "hipaa_ocr_annual_log_entry" in w.fx.sent()
    assert "hipaa_ocr_notice" not in w.fx.sent()


async def test_a_case_from_before_the_correction_keeps_the_old_rules():
    """Replaying a case that began before CLOCK_FIXES: the old rule, exactly (patched says no)."""
    w = await World.filed(sample("qecp", hipaa_covered=True, estimated_individuals=600))
    asked = []
    w.ledger.patched = lambda patch: asked.append(patch) or False
    await w.decide("new_information", {"individuals_delta": -200})
    await w.decide("new_information", {"individuals_delta": 200})
    assert w.s.clocks["hipaa_media"].state is ClockState.not_applicable and w.s.clocks["hipaa_ocr"].state is ClockState.not_applicable
    assert set(asked) == {CLOCK_FIXES}


async def test_the_correction_is_asked_only_where_the_rules_differ():
    w = await World.filed(sample("qecp", hipaa_covered=True, estimated_individuals=600))
    asked = []
    w.ledger.patched = lambda patch: asked.append(patch) or True
    await w.decide("new_information", {"individuals_delta": 50})
    assert asked == []  # no marker in the history of a case the correction does not concern


async def test_a_busy_case_asks_to_try_again_only_for_the_decisions_it_is_working_on():
    """Busy is not a refusal of substance: the validator turns it away without a record."""
    w = await assessed()  # CMS approval, the letters not yet checked
    reasons = {name: admission.busy(w.case, name, row) for name, row in DECISIONS.items()}
    assert {n: r for n, r in reasons.items() if r} == {"approve_response_plan": "approve_response_plan: the letters are still being checked; try again in a moment"}
    w.s.letters_stale = False
    assert admission.busy(w.case, "approve_response_plan", DECISIONS["approve_response_plan"]) is None

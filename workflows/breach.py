"""The breach case: one durable workflow per breach, keyed by its breach id.

Stages run in the plan's order (report, confirm PII, contractor/CO loop, risk
assessment, then PIM review for low risk or CMS and HHS approval and notification);
the major-incident track runs beside them. Human steps are workflow updates whose
validator refuses what the role, the stage or the payload does not allow, so a refused
decision leaves no history. Clocks are data in the state and are enforced by one timer
loop: reminders before expiry, escalation when a human step overruns its service level,
and a finding when a statutory clock is missed.

Deterministic code only: time from ``workflow.now()``, all I/O in activities. Every
accepted change of state happens synchronously at the start of a handler, before its
first ``await``, so a second decision validated meanwhile sees the new state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RawValue, RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, ValidationError

    from activities.assessment import AssessRequest, RiskActivities
    from activities.inventory import InventoryActivities
    from activities.notify.activities import PROGRESS_SIGNAL, NotifyActivities
    from activities.notify.facts import ELEMENT_LABELS
    from activities.operators import OperatorActivities
    from activities.outbox import OutboxActivities
    from activities.register import RegisterActivities
    from activities.reports import DraftRequest, ReportActivities
    from activities.risk.engine import check_answers, suggest
    from models import search
    from models.case import MAJOR_INCIDENT_INDIVIDUALS, CaseView, ClockKind, ClockState, Finding, Stage, TimelineEvent
    from models.decisions import RULES, Decision, DecisionOutcome, OutboundKind, Role
    from models.intake import DataElement
    from models.notification import LetterItem, NotifyProgress, NotifyRequest, NotifyResult, PrepareRequest
    from models.operators import OperatorRoster, signature_valid, signing_bytes
    from models.records import AuditEntry, CaseOpening, CaseSync, DecisionEntry, OutboundReport, RoundEntry
    from models.risk import facts_from_report
    from workflows import clocks as rules
    from workflows.details import render_details, span
    from workflows.state import CaseInput, CaseState, DecisionNote, Hold

QUICK = dict(start_to_close_timeout=timedelta(seconds=30), retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)))
# Letters for approvers: facts, the template check and a PDF preview (seconds, whatever the
# roster's size). The timeout is also how long a check lost with a crashed worker holds up CMS
# approval ("try again in a moment") or the export before it runs again.
PREPARE = dict(start_to_close_timeout=timedelta(minutes=1), retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)))
# A mail-house export of up to millions of rows: it heartbeats at every checkpoint and a
# new attempt resumes from the last one, so a lost worker costs one heartbeat timeout.
EXPORT = dict(start_to_close_timeout=timedelta(hours=12), heartbeat_timeout=timedelta(minutes=2), retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)))
# Outbound reports and the roles that must all approve them (only ASL clears Congress).
REPORT_APPROVERS = {
    OutboundKind.cisa_omb: {Role.hhs_brt},
    OutboundKind.congress_oig: {Role.hhs_brt, Role.hhs_asl},
    OutboundKind.supplemental_30d: {Role.hhs_brt, Role.hhs_asl},
}
AWAITED_BY_STAGE = {
    Stage.confirm_pii: ["confirm_pii"],
    Stage.risk_assessment: ["submit_risk_assessment"],
    Stage.cms_approval: ["approve_response_plan", "reject_response_plan"],
    Stage.hhs_approval: ["approve_notification", "reject_notification"],
    Stage.notify: ["record_notification_sent"],
}


class Refused(Exception):
    """A decision the case cannot take now; the message is the reason shown to the operator."""


@workflow.defn
class BreachResponseWorkflow:
    @workflow.init
    def __init__(self, inp: CaseInput) -> None:
        report = inp.report
        self.s = inp.carried or CaseState(report=report, config=inp.config, individuals=report.estimated_individuals, data_elements=list(report.data_elements))
        self._wake = False
        self._published: dict[str, object] = {}
        self._notices: list[tuple[str, dict]] = []  # reminders and escalations to deliver
        self._export: asyncio.Task[NotifyResult] | None = None  # the running mail-house export
        self._fired_at: datetime | None = None  # the due time of the main loop's timer, once it has fired

    # ------------------------------------------------------------------ main loop

    @workflow.run
    async def run(self, inp: CaseInput) -> str:
        if inp.carried is None:
            await self._intake()
        else:
            self._publish()
        while not self.s.closed:
            self._tick()
            await self._flush_notices()
            await self._notify_work()
            if self._history_is_long() and workflow.all_handlers_finished() and self._export is None:
                # No await between the check and the call: a decision arriving meanwhile would be cut off.
                workflow.continue_as_new(CaseInput(report=self.s.report, config=self.s.config, carried=self.s))
            self._wake = False
            wake_at = self._next_wake()
            timeout = max(wake_at - workflow.now(), timedelta(0)) if wake_at else None
            try:
                await workflow.wait_condition(self._should_wake, timeout=timeout, timeout_summary=self._wake_summary())
            except TimeoutError:
                self._fired_at = wake_at  # a reminder or deadline is due: the next _tick handles it
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.s.main_outcome or "closed"

    async def _intake(self) -> None:
        s, report = self.s, self.s.report
        now = workflow.now()
        self._event("stage_entered", stage=Stage.report.value)
        self._start(rules.statutory("csirc_report", report.reported_at, s.config, s.config.csirc_report_limit))
        if report.contractor_involved:
            self._start(rules.statutory("contractor_report", report.discovered_at, s.config))
            self._settle("contractor_report", report.reported_at, late_kind="contractor_report_late")
        if report.hipaa_covered:
            self._start(rules.statutory("hipaa_individuals", report.discovered_at, s.config))
            self._hipaa_count_clocks()
            if report.contractor_involved:
                self._start(rules.statutory("business_associate", report.discovered_at, s.config))
                self._settle("business_associate", report.reported_at)
        self._publish()
        s.system = await workflow.execute_activity_method(InventoryActivities.lookup, report.system_id, summary="Identify the system, its PIA and SORNs in the inventory", **QUICK)
        if not s.system.known:
            self._finding("unknown_system", f"system {report.system_id!r} is not in the system inventory; the SOP must identify it and its compliance documents")
        await self._load_operators()
        await workflow.execute_activity_method(
            RegisterActivities.open_case,
            CaseOpening(report=report, system_known=s.system.known, stage=s.stage.value, opened_at=now),
            summary="Register the case (plan, Appendix A tracking)",
            **QUICK,
        )
        await self._send("csirc_pim_initial_report", self._csirc_document(), summary="Report to HHS CSIRC and PIM (plan: Reporting suspected or confirmed breaches to HHS)")
        self._settle("csirc_report", workflow.now())
        self._enter(Stage.confirm_pii)
        if s.individuals >= MAJOR_INCIDENT_INDIVIDUALS:
            await self._start_major(automatic=True, rationale=f"{s.individuals} individuals: 100,000 or more (OMB)")
        await self._sync()

    async def _load_operators(self) -> None:
        s = self.s
        s.operators = await workflow.execute_activity_method(OperatorActivities.load, summary="Load the operators who may decide on this case", **QUICK)
        if s.operators.operators:
            self._event("operators_registered", detail=", ".join(f"{o.name} ({'/'.join(r.value for r in o.roles)})" for o in s.operators.operators))
        else:
            self._finding("no_operators", "the operators file lists nobody, so every decision is refused; add operators, then run `breach operator refresh CASE`")

    @workflow.update
    async def refresh_operators(self) -> str:
        """Load the operators file into a case that has none (cases filed before any operator existed)."""
        await self._load_operators()
        await self._sync()
        return f"{len(self.s.operators.operators)} operator(s) registered"

    @refresh_operators.validator
    def _validate_refresh(self) -> None:
        if self.s.operators.operators:
            raise ValueError("the case already has operators; change them with a signed update_operators decision")

    @workflow.signal(name=PROGRESS_SIGNAL)
    def notify_progress(self, progress: NotifyProgress) -> None:
        """The running export's progress (sent by the export activity), for "notified N of M"."""
        if self._export is not None and progress.round == self._export_round():
            self.s.notify_progress = progress
            self._publish()

    @workflow.update
    async def retry_notification(self) -> str:
        """Run the failed notification step again once its cause is fixed (template, letterhead, roster)."""
        s = self.s
        problem, s.notify_problem = s.notify_problem, None
        self._event("notification_retried", detail=f"after: {problem}")
        self._wake = True
        if s.stage is Stage.cms_approval:
            await self._prepare_letters()
            return "letters checked again: " + (f"refused: {s.notify_problem}" if s.notify_problem else "ready for CMS approval")
        return "the export will run again"

    @retry_notification.validator
    def _validate_retry(self) -> None:
        if not self.s.notify_problem:
            raise ValueError("no notification step has failed on this case")

    # ------------------------------------------------------------------ queries

    @workflow.query
    def details(self) -> CaseView:
        s = self.s
        return CaseView(
            breach_id=s.report.breach_id,
            workflow_id=s.report.workflow_id,
            stage=s.stage,
            status="concluded" if s.closed else "ongoing",
            outcome=s.main_outcome if s.closed else None,
            system=s.system,
            estimated_individuals=s.individuals,
            data_elements=[e.value for e in s.data_elements],
            contractor_involved=s.report.contractor_involved,
            hipaa_covered=s.report.hipaa_covered,
            risk_level=s.assessment.level.value if s.assessment else None,
            major_incident=s.major.status == "determined",
            individuals_notified=s.individuals_notified,
            notification=self._notification_text(),
            notify_progress=(s.notify_progress.rows_done, s.notify_progress.rows_expected) if s.notify_progress else None,
            notify_pending=self._export is not None or s.preparing_letters or s.letters_stale or self._export_due(),
            awaiting=self._awaiting_text(),
            hold_until=s.clocks["law_enforcement_hold"].due_at if s.hold else None,
            clocks=sorted(s.clocks.values(), key=lambda c: (c.due_at is None, c.due_at, c.clock)),
            findings=list(s.findings),
            outbox=list(s.outbox),
            decisions=[d.model_dump(mode="json") for d in s.decisions],
        )

    @workflow.query
    def timeline(self) -> list[TimelineEvent]:
        return list(self.s.timeline)

    # ------------------------------------------------------------------ decisions

    @workflow.update(dynamic=True)
    async def decide(self, name: str, args: Sequence[RawValue]) -> DecisionOutcome:
        decision, payload = self._parse(name, args)
        try:
            self._check(name, decision, payload)  # a rival decision may have won since validation
        except Refused as exc:
            raise ApplicationError(str(exc), type="DecisionRefused", non_retryable=True) from None
        s = self.s
        note = DecisionNote(decision_id=decision.decision_id, decision=name, role=decision.actor.role.value, by=decision.actor.name, at=workflow.now(), rationale=decision.rationale)
        s.decisions.append(note)
        self._event("decision_accepted", decision=name, role=note.role, by=note.by, detail=decision.rationale)
        message = await getattr(self, f"_on_{name}")(decision, payload)
        self._wake = True
        record = workflow.execute_activity_method(
            RegisterActivities.record_decision,
            DecisionEntry(breach_id=s.report.breach_id, decision_id=decision.decision_id, decision=name, role=note.role, decided_by=note.by, decided_at=note.at, rationale=decision.rationale, payload=payload.model_dump(mode="json")),
            summary=f"Record decision {name} by {note.by} ({note.role})",
            **QUICK,
        )
        await asyncio.gather(record, self._sync())  # independent writes: the decision answers when both are done
        return DecisionOutcome(decision=name, decision_id=decision.decision_id, stage=s.stage.value, message=message)

    @decide.validator
    def validate(self, name: str, args: Sequence[RawValue]) -> None:
        decision, payload = self._parse(name, args)
        try:
            self._check(name, decision, payload)
        except Refused as exc:
            raise ValueError(str(exc)) from None

    def _parse(self, name: str, args: Sequence[RawValue]) -> tuple[Decision, BaseModel]:
        rule = RULES.get(name)
        if rule is None:
            raise ValueError(f"unknown decision {name!r}; known decisions: {', '.join(sorted(RULES))}")
        if len(args) != 1:
            raise ValueError(f"{name}: expected one decision argument, got {len(args)}")
        try:
            decision = workflow.payload_converter().from_payload(args[0].payload, Decision)
            payload = rule.payload.model_validate(decision.payload)
        except ValidationError as exc:
            fields = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'payload'}: {e['msg']}" for e in exc.errors(include_url=False))
            raise ValueError(f"{name}: malformed decision: {fields}") from None
        except Exception as exc:  # noqa: BLE001 - any undecodable payload is a refusal, not a task failure
            raise ValueError(f"{name}: undecodable decision: {exc}") from None
        return decision, payload

    def _check(self, name: str, decision: Decision, payload: BaseModel) -> None:
        """Raise ``Refused`` with the reason when this decision may not be taken now."""
        s, role = self.s, decision.actor.role
        if role not in RULES[name].roles:
            raise Refused(f"{name} may be made by {', '.join(sorted(r.value for r in RULES[name].roles))}, not by role {role.value}")
        self._check_signature(name, decision)
        done = next((d for d in s.decisions if d.decision_id == decision.decision_id), None)
        if done:
            raise Refused(f"decision id {decision.decision_id} was already applied ({done.decision} by {done.by}, {span(workflow.now() - done.at)} ago)")
        if s.closed:
            raise Refused(f"the case is closed ({s.main_outcome}); no further decisions")
        if s.main_outcome and name not in ("approve_outbound_report", "new_information"):
            raise Refused(f"the case's outcome ({s.main_outcome}) is recorded; it closes once every major-incident report is sent")
        reason = getattr(self, f"_can_{name}", lambda _d, _p: None)(decision, payload)
        if reason:
            raise Refused(f"{name}: {reason}")

    def _check_signature(self, name: str, decision: Decision) -> None:
        """The decision must be signed by a registered operator who holds the role, recently."""
        s, actor = self.s, decision.actor
        if not decision.signature or decision.signed_at is None:
            raise Refused("unsigned decision: every decision must be signed with the operator's key (the breach CLI signs)")
        operator = s.operators.get(actor.name)
        if operator is None:
            raise Refused(f"{actor.name} is not an operator of this case")
        if actor.role not in operator.roles:
            raise Refused(f"{actor.name} does not hold role {actor.role.value} in this case (holds {', '.join(r.value for r in operator.roles)})")
        message = signing_bytes(workflow.info().workflow_id, name, decision.decision_id, actor.model_dump(mode="json"), decision.rationale, decision.payload, decision.signed_at)
        if not signature_valid(operator.public_key, decision.signature, message):
            raise Refused(f"the signature does not match {actor.name}'s key: the decision was forged or altered")
        skew = abs(workflow.now() - decision.signed_at)
        if skew > s.config.signature_window:
            raise Refused(f"the decision was signed {span(skew)} away from the case's clock (more than {span(s.config.signature_window)}); sign it again")

    def _need_stage(self, *stages: Stage) -> str | None:
        if self.s.stage not in stages:
            return f"the case is in stage {self.s.stage.value}, not {' or '.join(st.value for st in stages)}"
        return None

    # -- confirm PII

    def _can_confirm_pii(self, d, p) -> str | None:
        return self._need_stage(Stage.confirm_pii)

    async def _on_confirm_pii(self, d, p) -> str:
        s = self.s
        s.pii = p
        if p.data_elements is not None:
            s.data_elements = list(p.data_elements)
        self._settle("confirm_pii", workflow.now())
        if not p.is_pii:
            await self._close("no_pii")
            return "not PII: closed as not a breach of PII (documented)"
        if s.report.contractor_involved:
            self._enter(Stage.contractor_review)
            return "PII confirmed; contractor involved: the Contracting Officer's review starts"
        await self._enter_risk_assessment()
        return "PII confirmed: risk assessment"

    # -- contractor / Contracting Officer loop

    def _can_co_acknowledge(self, d, p) -> str | None:
        return self._need_stage(Stage.contractor_review) or ("the CO already acknowledged" if self.s.co_acknowledged else None)

    async def _on_co_acknowledge(self, d, p) -> str:
        self.s.co_acknowledged = True
        self._settle("co_acknowledge", workflow.now())
        self._start_sla("co_complete_review")
        return "CO engaged"

    def _can_co_request_information(self, d, p) -> str | None:
        s = self.s
        return self._need_stage(Stage.contractor_review) or (
            "the CO must acknowledge first" if not s.co_acknowledged else "an information request is already open" if s.co_open_request else None
        )

    async def _on_co_request_information(self, d, p) -> str:
        s = self.s
        s.co_open_request, s.co_requests = p.request, s.co_requests + 1
        self._start_sla("co_record_contractor_response")
        return f"information request {s.co_requests} sent to the contractor through the CO"

    def _can_co_record_contractor_response(self, d, p) -> str | None:
        return self._need_stage(Stage.contractor_review) or (None if self.s.co_open_request else "no information request is open")

    async def _on_co_record_contractor_response(self, d, p) -> str:
        self.s.co_open_request = None
        self._settle("co_record_contractor_response", workflow.now())
        return f"contractor response recorded ({len(p.artifacts)} artifact reference(s))"

    def _can_co_complete_review(self, d, p) -> str | None:
        s = self.s
        return self._need_stage(Stage.contractor_review) or (
            "the CO must acknowledge first" if not s.co_acknowledged else "an information request is still open" if s.co_open_request else None
        )

    async def _on_co_complete_review(self, d, p) -> str:
        self.s.co_review = p
        self._settle("co_complete_review", workflow.now())
        if not p.contractor_cooperated:
            self._finding("contractor_did_not_cooperate", f"the CO recorded that the contractor did not cooperate; obligations: {p.obligations}")
        await self._enter_risk_assessment()
        return "CO review complete: risk assessment"

    # -- risk assessment

    async def _enter_risk_assessment(self) -> None:
        s = self.s
        self._enter(Stage.risk_assessment)
        if s.policy is None:
            s.policy = await workflow.execute_activity_method(RiskActivities.load_policy, None, summary="Load the current risk-of-harm policy", **QUICK)
            self._wake = True

    def _facts(self):
        """The assessment's facts: the report's, with the count and elements as they stand now."""
        s = self.s
        return facts_from_report(s.report).model_copy(update={"individuals": s.individuals, "data_elements": sorted(set(s.data_elements), key=list(DataElement).index)})

    def _can_submit_risk_assessment(self, d, p) -> str | None:
        s = self.s
        reason = self._need_stage(Stage.risk_assessment)
        if reason:
            return reason
        if s.policy is None or s.assessing:
            return "the assessment is being prepared or scored; try again in a moment"
        problems = check_answers(suggest(self._facts(), s.policy, p.answers), p.answers)
        if problems:
            return "; ".join(f"{factor.value}: {message}" for factor, message in problems)
        return None

    async def _on_submit_risk_assessment(self, d, p) -> str:
        s = self.s
        s.assessing = True
        self._settle("submit_risk_assessment", workflow.now())
        result = await workflow.execute_activity_method(
            RiskActivities.assess,
            AssessRequest(facts=self._facts(), answers=p.answers, policy_version=s.policy.version, policy_sha256=s.policy.sha256, assessed_by=f"{d.actor.name} ({d.actor.role.value})", assessed_at=workflow.now(), sequence=len(s.assessments) + 1),
            summary="Score the risk of harm (plan, Attachment A)",
            **QUICK,
        )
        s.assessments.append(result)
        s.assessing = False
        self._event("risk_assessed", detail=f"level {result.level.value}; notify {'yes' if result.notify else 'no'}; policy v{result.policy_version}")
        if result.major_incident and s.major.status != "determined":
            await self._start_major(automatic=True, rationale=result.major_incident_reason)
        if result.notify:
            self._enter(Stage.cms_approval)
            self._letters_due()
            return f"risk {result.level.value}: notification path, CMS approval of the response plan"
        self._enter(Stage.pim_review)
        await self._send("pim_results", self._pim_document(), summary="Send investigation results and the risk assessment to HHS PIM")
        return f"risk {result.level.value}: results sent to PIM for closure"

    # -- PIM review (low risk)

    def _can_pim_approve_closure(self, d, p) -> str | None:
        return self._need_stage(Stage.pim_review) or ("the agency has not yet answered PIM's request" if self.s.pim_open_request else None)

    async def _on_pim_approve_closure(self, d, p) -> str:
        self._settle("pim_approve_closure", workflow.now())
        await self._close("closed_low_risk")
        return "PIM approved closure"

    def _can_pim_request_more_info(self, d, p) -> str | None:
        return self._can_pim_approve_closure(d, p)

    async def _on_pim_request_more_info(self, d, p) -> str:
        s = self.s
        s.pim_open_request, s.pim_requests = p.request, s.pim_requests + 1
        self._settle("pim_approve_closure", workflow.now())
        self._start_sla("respond_to_pim")
        return f"PIM request {s.pim_requests} sent back to the agency"

    def _can_respond_to_pim(self, d, p) -> str | None:
        return self._need_stage(Stage.pim_review) or (None if self.s.pim_open_request else "PIM has no open request")

    async def _on_respond_to_pim(self, d, p) -> str:
        self.s.pim_open_request = None
        self._settle("respond_to_pim", workflow.now())
        self._start_sla("pim_approve_closure")
        await self._send(f"pim_response_{self.s.pim_requests}", {**self._pim_document(), "response": p.response}, summary="Send the agency's answer to HHS PIM")
        return "answer sent to PIM"

    # -- CMS and HHS approval

    def _can_approve_response_plan(self, d, p) -> str | None:
        s = self.s
        if reason := self._need_stage(Stage.cms_approval):
            return reason
        if s.letters_stale or s.preparing_letters:
            return "the letters are still being checked; try again in a moment"
        if s.notify_problem:
            return f"the letters cannot go to CMS approval: {s.notify_problem}. Fix it, then run `breach notify-retry {s.report.breach_id}`"
        return None

    def _can_reject_response_plan(self, d, p) -> str | None:
        return self._need_stage(Stage.cms_approval)

    async def _on_approve_response_plan(self, d, p) -> str:
        self._settle("approve_response_plan", workflow.now())
        self._enter(Stage.hhs_approval)
        return "CMS approved the response plan and letters: HHS approval"

    async def _on_reject_response_plan(self, d, p) -> str:
        s = self.s
        s.cms_rejections += 1
        self._settle("approve_response_plan", workflow.now())
        self._event("returned_to_drafting", detail=p.comments)
        self._start_sla("approve_response_plan")
        self._letters_due()  # the redrafted letters are checked again
        return f"returned to drafting with comments (CMS rejection {s.cms_rejections})"

    def _can_approve_notification(self, d, p) -> str | None:
        return self._need_stage(Stage.hhs_approval)

    _can_reject_notification = _can_approve_notification

    async def _on_approve_notification(self, d, p) -> str:
        self.s.notification = p
        self._settle("approve_notification", workflow.now())
        self._enter(Stage.notify)
        return f"HHS approved notification by {', '.join(m.value for m in p.method)}; Notifying Official {p.notifying_official}"

    async def _on_reject_notification(self, d, p) -> str:
        self.s.hhs_rejections += 1
        self._settle("approve_notification", workflow.now())
        self._event("returned_to_cms", detail=p.comments)
        self._enter(Stage.cms_approval)
        self._letters_due()
        return "HHS rejected: back to CMS approval"

    # -- notification

    def _can_record_notification_sent(self, d, p) -> str | None:
        s = self.s
        reason = self._need_stage(Stage.notify)
        if not reason and s.report.roster_uri:
            reason = f"the case exports its roster ({s.report.roster_uri}) to the mail house and records the mailing itself"
        if not reason and s.hold:
            reason = f"notification is held for another {span(s.clocks['law_enforcement_hold'].due_at - workflow.now())} ({s.hold.authority})"
        return reason

    async def _on_record_notification_sent(self, d, p) -> str:
        await self._notified(p.individuals_notified, p.media_notice, f"{p.individuals_notified} individuals notified")
        return f"notification round {self.s.notice_rounds} recorded"

    async def _notified(self, individuals: int, media_notice: bool, detail: str) -> None:
        """A notice round is done: settle the notification clocks, tell OCR, close when in notify."""
        s = self.s
        now = workflow.now()
        s.notice_rounds += 1
        s.individuals_notified = max(s.individuals_notified, individuals)
        self._settle("record_notification_sent", now)
        for name in ("hipaa_individuals", "hipaa_ocr"):
            self._settle(name, now)  # on time: met; already missed: the late date is recorded
        if "hipaa_media" in s.clocks:
            if media_notice:
                self._settle("hipaa_media", now)
            elif s.clocks["hipaa_media"].state is not ClockState.met:
                self._not_applicable("hipaa_media", "no state has more than 500 affected residents")
        self._event("notification_batch_done", detail=f"round {s.notice_rounds}: {detail}")
        if s.report.hipaa_covered and s.notice_rounds == 1 and "hipaa_ocr" in s.clocks:
            await self._send("hipaa_ocr_notice", self._ocr_document(), summary="Notify HHS OCR with the individual notice (45 CFR 164.408)")
        if s.stage is Stage.notify:  # new information during the export reopened the assessment: a follow-up round comes
            await self._close("notified")
        else:
            self._publish()

    # -- the letters and the mail-house export (cases whose report names a roster)

    def _letters_due(self) -> None:
        """Have the main loop check the letters (so the decision need not wait for the PDF);
        a new check replaces an earlier refusal."""
        self.s.letters_stale, self.s.notify_problem = True, None

    def _export_round(self) -> int:
        return self.s.notice_rounds + 1

    async def _prepare_letters(self) -> None:
        """Build the letters' facts, check every template variant and write the PDF preview."""
        s = self.s
        s.preparing_letters = True
        try:
            prepared = await workflow.execute_activity_method(NotifyActivities.prepare, self._prepare_request(), summary=f"Check the letters of round {self._export_round()} and write their PDF preview", **PREPARE)
        except ActivityError as exc:
            self._notify_stopped("letters_refused", self._activity_problem(exc))
            return
        finally:
            s.preparing_letters = False
        s.letters = prepared
        check = prepared.check
        untranslated = f"; sent in English to speakers of {', '.join(check.untranslated)}" if check.untranslated else ""
        self._event("letters_checked", detail=f"round {self._export_round()}: {check.letters_checked} letters rendered with every required element ({', '.join(v.value for v in check.variants)}); preview {prepared.preview.pdf.path}{untranslated}")
        self._publish()

    def _prepare_request(self) -> PrepareRequest:
        s, r, a = self.s, self.s.report, self.s.assessment

        def items(recs) -> list[LetterItem]:
            return [LetterItem.from_recommendation(x) for x in recs]

        what = r.summary if len(r.summary) <= 5000 else r.summary[:4999] + "…"
        return PrepareRequest(
            breach_id=r.breach_id,
            round=self._export_round(),
            out_folder=r.breach_id,
            languages=s.notification.languages if s.notification else ["en"],
            breach_from=(r.occurred_from or r.discovered_at).date(),
            breach_to=r.occurred_to.date() if r.occurred_to else None,
            discovered_on=r.discovered_at.date(),
            what_happened=what,
            data_elements=[e.value for e in s.data_elements] or ["other"],
            encrypted=r.encrypted,
            guidance=items(a.guidance) if a else [],
            countermeasures=items(a.countermeasures) if a else [],
            services=items(a.services) if a and a.services_offered else [],
            notifying_official=s.notification.notifying_official if s.notification else None,
            follow_up_reason=s.follow_up_reason if self._export_round() > 1 else None,
        )

    def _notify_stopped(self, finding: str, problem: str) -> None:
        """A notification step failed for a reason a retry cannot fix: hold the step until `notify-retry`."""
        s = self.s
        s.notify_problem = problem
        self._finding(finding, f"{problem}; fix it, then run `breach notify-retry {s.report.breach_id}`")
        self._publish()

    @staticmethod
    def _activity_problem(exc: ActivityError) -> str:
        cause = exc.cause
        return f"{cause.type}: {cause.message}" if isinstance(cause, ApplicationError) and cause.type else str(cause or exc)

    def _export_due(self) -> bool:
        s = self.s
        return (s.stage is Stage.notify and bool(s.report.roster_uri) and s.hold is None and not s.notify_problem
                and not s.preparing_letters and self._export is None and not s.main_outcome and not s.closed)

    async def _notify_work(self) -> None:
        """Check the letters when due; collect a finished export; start the export when the case is ready for it."""
        s = self.s
        while s.letters_stale and s.stage is Stage.cms_approval and not s.notify_problem:
            s.letters_stale = False
            await self._prepare_letters()
        if self._export is not None and self._export.done():
            task, self._export = self._export, None
            s.notify_progress = None
            try:
                result = await task
            except ActivityError as exc:
                if isinstance(exc.cause, CancelledError):
                    self._event("notification_export_paused", detail=f"round {self._export_round()} stopped by a hold; it resumes from its last checkpoint when the hold ends")
                    self._publish()
                else:
                    self._notify_stopped("notification_export_failed", self._activity_problem(exc))
            else:
                await self._round_done(result)
                await self._sync()  # the register learns the round's outcome: notified, and closed when the round closed the case
        if self._export_due():
            if s.export_request is None or s.export_request.round != self._export_round():
                await self._prepare_letters()
                if s.notify_problem or not self._export_due():
                    return
                n = s.notification
                try:
                    s.export_request = NotifyRequest(
                        breach_id=s.report.breach_id, round=self._export_round(), roster_uri=s.report.roster_uri, facts=s.letters.facts,
                        languages=n.languages, email_allowed="email" in n.method, out_folder=s.report.breach_id,
                    )
                except ValidationError as exc:  # e.g. a language code the letters cannot name: refused, not a stuck task
                    self._notify_stopped("notification_export_failed", "the export request is invalid: " + "; ".join(e["msg"] for e in exc.errors(include_url=False)))
                    return
            self._export = workflow.start_activity_method(NotifyActivities.export_round, s.export_request, summary=f"Export round {s.export_request.round} of the letters to the mail house", **EXPORT)
            self._event("notification_export_started", detail=f"round {s.export_request.round} from {s.report.roster_uri}")
            self._publish()

    async def _round_done(self, result: NotifyResult) -> None:
        s, c = self.s, result.counts
        await workflow.execute_activity_method(RegisterActivities.record_notification_round, RoundEntry(result=result, completed_at=workflow.now()), summary=f"Register round {result.round}: {c.recipients} recipients", **QUICK)
        s.rounds.append(result)
        if result.substitute_notice_required:
            until = (workflow.now() + timedelta(days=90)).date().isoformat()
            self._finding("substitute_notice_required", f"{result.substitute_notice_reason}. Notice text: {result.substitute_notice.path if result.substitute_notice else '-'}; keep the toll-free number until at least {until}")
        elif c.unreachable:
            self._event("alternative_contact", detail=result.substitute_notice_reason)
        if result.media_notice_states:
            self._event("media_notice_prepared", detail=f"more than 500 residents in {', '.join(result.media_notice_states)}: media notice {result.media_notice.path if result.media_notice else '-'}")
        if c.untranslated_languages:
            self._event("letters_untranslated", detail="; ".join(f"{lang}: {n} sent in English" for lang, n in sorted(c.untranslated_languages.items())))
        detail = f"{c.recipients} of {c.recipients} unique recipients notified ({c.exported} exported, {c.duplicates_merged} duplicates merged, {c.errors} rows refused); export {result.export.path} sha256 {result.export.sha256}"
        await self._notified(c.recipients, bool(result.media_notice_states), detail)

    def _can_delay_notification(self, d, p) -> str | None:
        if self.s.stage is Stage.report:
            return "the case is still being reported"
        if p.until <= workflow.now():
            return f"until is {span(workflow.now() - p.until)} in the past"
        return None

    async def _on_delay_notification(self, d, p) -> str:
        s, now = self.s, workflow.now()
        s.hold = Hold(authority=p.authority, written=p.written, until=p.until, started_at=now)
        if self._export is not None:
            self._export.cancel()  # no letter goes out under a hold; the round resumes from its checkpoint after it
        clock = rules.hold(now, p.until, p.written, s.config)
        self._start(clock)
        for name in sorted(rules.NOTIFICATION_CLOCKS):
            if name in s.clocks and s.clocks[name].state is ClockState.pending:
                self._pause(name)
        kind = "written" if p.written else "oral"
        self._event("hold_started", clock="law_enforcement_hold", due_at=clock.due_at, detail=f"{kind} instruction from {p.authority}")
        return f"notification held for {span(clock.due_at - now)} ({kind} instruction)"

    def _can_lift_delay(self, d, p) -> str | None:
        return None if self.s.hold else "no hold is in effect"

    async def _on_lift_delay(self, d, p) -> str:
        self._lift_hold("lifted by the HHS SAOP")
        return "hold lifted: notification clocks resume"

    def _lift_hold(self, why: str) -> None:
        s, now = self.s, workflow.now()
        s.hold = None
        hold = s.clocks["law_enforcement_hold"]
        s.clocks["law_enforcement_hold"] = hold.model_copy(update={"state": ClockState.met, "met_at": min(now, hold.due_at)})
        for name in sorted(rules.NOTIFICATION_CLOCKS):
            c = s.clocks.get(name)
            if c and c.state is ClockState.paused:
                due = now + c.paused_remaining
                s.clocks[name] = c.model_copy(update={"state": ClockState.pending, "due_at": due, "paused_remaining": None, "reminder_at": rules.reminder_at(now, due, s.config) if not c.reminded else c.reminder_at})
                self._event("deadline_resumed", clock=name, due_at=due, detail=f"{span(c.paused_remaining)} remained when the hold began")
        self._event("hold_lifted", clock="law_enforcement_hold", detail=why)

    # -- major incident

    def _can_determine_major_incident(self, d, p) -> str | None:
        if self.s.stage is Stage.report:
            return "the case is still being reported"
        return {"proposed": "a proposal already awaits HHS SAOP approval", "determined": "the case is already a major incident"}.get(self.s.major.status)

    async def _on_determine_major_incident(self, d, p) -> str:
        s = self.s
        if not p.is_major:
            self._event("major_incident_not_proposed", detail=p.rationale)
            return "recorded: the CMS BRT does not consider this a major incident"
        s.major.status, s.major.rationale = "proposed", p.rationale
        self._start_sla("approve_major_incident")
        return "major incident proposed; awaiting HHS SAOP approval"

    def _can_approve_major_incident(self, d, p) -> str | None:
        return None if self.s.major.status == "proposed" else "no major-incident proposal awaits approval"

    _can_reject_major_incident = _can_approve_major_incident

    async def _on_approve_major_incident(self, d, p) -> str:
        self._settle("approve_major_incident", workflow.now())
        await self._start_major(automatic=False, rationale=self.s.major.rationale or "")
        return "major incident determined: CISA/OMB within 1 hour, Congress/OIG within 7 days"

    async def _on_reject_major_incident(self, d, p) -> str:
        self.s.major.status = "none"
        self._settle("approve_major_incident", workflow.now())
        return "major-incident proposal rejected by the HHS SAOP"

    async def _start_major(self, *, automatic: bool, rationale: str) -> None:
        s, now = self.s, workflow.now()
        if self._pending("approve_major_incident"):
            self._not_applicable("approve_major_incident", "superseded: the case became a major incident by count")
        s.major.status, s.major.automatic, s.major.rationale, s.major.determined_at = "determined", automatic, rationale, now
        self._event("major_incident_determined", detail=("automatic: " if automatic else "approved by the HHS SAOP: ") + rationale)
        self._start(rules.statutory("cisa_omb", now, s.config))
        self._start(rules.statutory("congress_oig", now, s.config))
        self._start(rules.statutory("supplemental_30d", s.report.discovered_at, s.config))
        self._publish()
        for kind in OutboundKind:
            s.major.drafts[kind.value] = await workflow.execute_activity_method(ReportActivities.draft, self._draft_request(kind.value), summary=f"Draft the {kind.value} report for HHS BRT approval", **QUICK)
        self._wake = True

    def _can_approve_outbound_report(self, d, p) -> str | None:
        s, kind = self.s, p.kind.value
        if s.major.status != "determined":
            return "the case is not a major incident"
        if kind not in s.major.drafts:
            return f"the {kind} report is still being drafted"
        if kind in s.major.sent:
            return f"the {kind} report was already sent"
        if d.actor.role not in REPORT_APPROVERS[p.kind]:
            return f"the {kind} report is approved by {', '.join(sorted(r.value for r in REPORT_APPROVERS[p.kind]))}"
        if d.actor.role.value in s.major.approvals.get(kind, []):
            return f"{d.actor.role.value} already approved the {kind} report"
        return None

    async def _on_approve_outbound_report(self, d, p) -> str:
        s, kind = self.s, p.kind.value
        approvals = s.major.approvals.setdefault(kind, [])
        approvals.append(d.actor.role.value)
        missing = {r.value for r in REPORT_APPROVERS[p.kind]} - set(approvals)
        if missing:
            return f"{kind} approved by {d.actor.role.value}; still needs {', '.join(sorted(missing))}"
        s.major.sent[kind] = "sending"
        document = {**s.major.drafts[kind], "status": "approved by the HHS Breach Response Team", "approved_by": approvals, "sent_at": workflow.now().isoformat()}
        location = await self._send(kind, document, summary=f"Send the approved {kind} report")
        s.major.sent[kind] = location
        self._settle(kind, workflow.now())
        if s.main_outcome and self._major_done():
            await self._close(s.main_outcome)
        return f"{kind} report sent"

    def _major_done(self) -> bool:
        return self.s.major.status != "determined" or len(self.s.major.sent) == len(OutboundKind)

    # -- operators

    def _can_update_operators(self, d, p) -> str | None:
        if not any(Role.cms_sop in o.roles for o in p.operators):
            return "the new operators must include at least one cms_sop, or nobody could change them again"
        names = [o.name for o in p.operators]
        if len(set(names)) != len(names):
            return "operator names must be unique"
        return None

    async def _on_update_operators(self, d, p) -> str:
        s = self.s
        before = {o.name for o in s.operators.operators}
        s.operators = OperatorRoster(operators=list(p.operators))
        after = {o.name for o in s.operators.operators}
        self._event("operators_changed", detail=f"added {sorted(after - before) or 'none'}; removed {sorted(before - after) or 'none'}")
        return f"{len(after)} operator(s) registered"

    # -- new information

    def _can_new_information(self, d, p) -> str | None:
        if self.s.stage is Stage.report:
            return "the case is still being reported"
        if not (p.data_elements_added or p.individuals_delta or p.misuse_evidence):
            return "nothing new: give data_elements_added, individuals_delta or misuse_evidence"
        total = self.s.individuals + p.individuals_delta
        if total < 0:
            return f"individuals_delta {p.individuals_delta} would make the count negative ({total})"
        if total > 1_000_000_000:
            return f"individuals_delta {p.individuals_delta} would make the count {total}, above 1,000,000,000"
        return None

    async def _on_new_information(self, d, p) -> str:
        s = self.s
        s.individuals += p.individuals_delta
        s.data_elements += [e for e in p.data_elements_added if e not in s.data_elements]
        s.misuse_reported = s.misuse_reported or p.misuse_evidence
        if s.notice_rounds or self._export is not None:
            s.follow_up_reason = self._material_change(p)
        self._event("new_information", detail=f"individuals now {s.individuals}; added {[e.value for e in p.data_elements_added]}; misuse {p.misuse_evidence}")
        if s.report.hipaa_covered:
            self._hipaa_count_clocks()
        reopened = s.assessment is not None and s.stage in (Stage.pim_review, Stage.cms_approval, Stage.hhs_approval, Stage.notify)
        if reopened:
            s.pim_open_request, s.main_outcome = None, None
            for name in ("pim_approve_closure", "respond_to_pim", "approve_response_plan", "approve_notification", "record_notification_sent"):
                if self._pending(name):
                    self._not_applicable(name, "superseded by a re-assessment after new information")
            await self._enter_risk_assessment()
        if s.individuals >= MAJOR_INCIDENT_INDIVIDUALS and s.major.status != "determined":
            await self._start_major(automatic=True, rationale=f"{s.individuals} individuals after new information: 100,000 or more (OMB)")
        return "risk assessment reopened" if reopened else "facts updated"

    @staticmethod
    def _material_change(p) -> str:
        """What a follow-up letter tells the people already notified."""
        parts = []
        if p.data_elements_added:
            parts.append("the information involved also included: " + ", ".join(ELEMENT_LABELS.get(e.value, e.value).lower() for e in p.data_elements_added))
        if p.misuse_evidence:
            parts.append("we have evidence that information from this breach has been misused")
        return "Since our first letter we have learned that " + "; and ".join(parts) + "." if parts else "Since our first letter we have learned more about this breach."

    # ------------------------------------------------------------------ stages

    def _enter(self, stage: Stage) -> None:
        self.s.stage = stage
        self._event("stage_entered", stage=stage.value)
        for name in AWAITED_BY_STAGE.get(stage, [])[:1]:
            self._start_sla(name)
        if stage is Stage.contractor_review:
            self._start_sla("co_acknowledge")
        if stage is Stage.pim_review:
            self._start_sla("pim_approve_closure")
        self._wake = True
        self._publish()

    async def _close(self, outcome: str) -> None:
        s = self.s
        s.main_outcome = outcome
        if not self._major_done():
            self._event("awaiting_major_reports", detail=f"{outcome}; the case closes when every major-incident report is sent")
            self._publish()
            return
        if self._pending("hipaa_ocr_annual_log") and outcome == "notified":
            await self._send("hipaa_ocr_annual_log_entry", self._ocr_document(), summary="Add the case to the HIPAA annual log to HHS (45 CFR 164.408(c))")
            self._settle("hipaa_ocr_annual_log", workflow.now())
        for name in sorted(s.clocks):
            if self._pending(name):
                self._not_applicable(name, f"case closed ({outcome})")
        s.stage, s.closed = Stage.closed, True
        self._event("closed", stage=Stage.closed.value, detail=outcome)
        self._wake = True
        self._publish()
        await workflow.execute_activity_method(RegisterActivities.audit, self._audit_entry("closed", {"outcome": outcome}), summary=f"Audit: closed ({outcome})", **QUICK)

    # ------------------------------------------------------------------ clocks

    def _start(self, clock) -> None:
        self.s.clocks[clock.clock] = clock
        self._event("deadline_set", clock=clock.clock, due_at=clock.due_at, detail=clock.source)
        if self.s.hold and clock.clock in rules.NOTIFICATION_CLOCKS:
            self._pause(clock.clock, since=max(clock.started_at, self.s.hold.started_at))  # held since the hold or its own start
        self._wake = True

    def _pause(self, name: str, since: datetime | None = None) -> None:
        c = self.s.clocks[name]
        remaining = c.due_at - (since or workflow.now())
        self.s.clocks[name] = c.model_copy(update={"state": ClockState.paused, "paused_remaining": remaining})
        self._event("deadline_paused", clock=name, detail=f"{span(remaining)} remaining")

    def _start_sla(self, name: str) -> None:
        awaiting = sorted(r.value for r in RULES[name].roles) if name in RULES else []
        self._start(rules.service_level(name, workflow.now(), self.s.config, awaiting))

    def _pending(self, name: str) -> bool:
        c = self.s.clocks.get(name)
        return c is not None and c.state in (ClockState.pending, ClockState.paused)

    def _settle(self, name: str, at: datetime, late_kind: str | None = None) -> None:
        """Close a clock at ``at``: met when on time; a clock already missed keeps its state."""
        c = self.s.clocks.get(name)
        if c is None or c.state in (ClockState.met, ClockState.not_applicable) or (c.state is ClockState.missed and c.met_at):
            return
        if c.state is ClockState.missed:
            self.s.clocks[name] = c.model_copy(update={"met_at": at})
            self._event("deadline_met_late", clock=name, due_at=c.due_at, detail=f"done {span(at - c.due_at)} after the deadline")
            return
        on_time = c.due_at is None or at <= c.due_at
        self.s.clocks[name] = c.model_copy(update={"state": ClockState.met if on_time else ClockState.missed, "met_at": at})
        if on_time:
            self._event("deadline_met", clock=name)
        else:
            self._event("deadline_missed", clock=name, due_at=c.due_at, detail=f"done {span(at - c.due_at)} late")
            self._finding(late_kind or f"{name}_missed", f"{name} done {span(at - c.due_at)} after its deadline ({c.source})")
        self._wake = True

    def _not_applicable(self, name: str, why: str) -> None:
        c = self.s.clocks[name]
        self.s.clocks[name] = c.model_copy(update={"state": ClockState.not_applicable, "paused_remaining": None})
        self._event("deadline_not_applicable", clock=name, detail=why)

    def _hipaa_count_clocks(self) -> None:
        """OCR with the individual notice at 500 or more, else the annual log; media above 500."""
        s = self.s
        discovered = s.report.discovered_at
        wanted = "hipaa_ocr" if s.individuals >= 500 else "hipaa_ocr_annual_log"
        other = "hipaa_ocr_annual_log" if wanted == "hipaa_ocr" else "hipaa_ocr"
        if not self._pending(wanted) and wanted not in s.clocks:
            self._start(rules.statutory("hipaa_ocr", discovered, s.config) if wanted == "hipaa_ocr" else rules.annual_log(discovered, s.config))
        if self._pending(other):
            self._not_applicable(other, f"{s.individuals} individuals")
        if s.individuals > 500 and "hipaa_media" not in s.clocks:
            self._start(rules.statutory("hipaa_media", discovered, s.config))
        elif s.individuals <= 500 and self._pending("hipaa_media"):
            self._not_applicable("hipaa_media", f"{s.individuals} individuals: no state can have more than 500")

    def _tick(self) -> None:
        """Fire every reminder, escalation and missed deadline whose time has come.

        After the main loop's timer fired, its moment has come even when the task's clock
        says otherwise: under an overloaded worker the SDK (temporalio 1.35) was seen to
        give a task the previous task's ``workflow.now()``. The task then skipped the clock
        and set a new timer, and replaying it later (with the right time) fired the clock:
        a nondeterminism error. Taking the later of the two makes both runs fire it.
        """
        s, now = self.s, workflow.now()
        if self._fired_at is not None:
            now, self._fired_at = max(now, self._fired_at), None
        for name in sorted(s.clocks):
            c = s.clocks[name]
            if c.state is not ClockState.pending or c.due_at is None:
                continue
            if name == "law_enforcement_hold":
                if c.due_at <= now:
                    lapsed = s.hold is not None and not s.hold.written and s.hold.until > c.due_at
                    self._lift_hold("oral instruction lapsed after 30 days" if lapsed else "hold reached its end date")
                continue
            if c.reminder_at and not c.reminded and c.reminder_at <= now < c.due_at:
                s.clocks[name] = c = c.model_copy(update={"reminded": True})
                to = ", ".join(c.awaiting) or "cms_sop"
                self._event("reminder", clock=name, due_at=c.due_at, detail=f"to {to}: {span(c.due_at - now)} left")
                self._notice(f"reminder-{name}", to, f"{name} is due {c.due_at.isoformat()}")
            if c.due_at <= now:
                s.clocks[name] = c.model_copy(update={"state": ClockState.missed, "reminded": True})
                if c.kind is ClockKind.service_level:
                    self._event("escalation", clock=name, due_at=c.due_at, detail=f"{name} overran its service level; escalated to the BRT chair (CMS SOP)")
                    self._finding("escalated", f"{name} awaited from {', '.join(c.awaiting)} overran its service level of {span(c.due_at - c.started_at)}")
                    self._notice(f"escalation-{name}", "cms_sop (BRT chair)", f"{name} overran its service level")
                else:
                    self._event("deadline_missed", clock=name, due_at=c.due_at)
                    self._finding(f"{name}_missed", f"{name} reached its deadline and is not done ({c.source})")
                    self._notice(f"missed-{name}", "cms_sop (BRT chair)", f"statutory clock {name} missed")
        self._publish()

    def _next_wake(self) -> datetime | None:
        times = []
        for c in self.s.clocks.values():
            if c.state is not ClockState.pending or c.due_at is None:
                continue
            times.append(c.due_at)
            if c.reminder_at and not c.reminded:
                times.append(c.reminder_at)
        return min(times, default=None)

    def _wake_summary(self) -> str:
        nxt = self.details().next_deadline
        return f"next deadline: {nxt.clock}" if nxt else "awaiting decisions"

    # ------------------------------------------------------------------ records and visibility

    def _event(self, kind: str, **fields) -> None:
        self.s.timeline.append(TimelineEvent(at=workflow.now(), kind=kind, **fields))

    def _finding(self, kind: str, detail: str) -> None:
        self.s.findings.append(Finding(kind=kind, at=workflow.now(), detail=detail))
        self._event("finding", detail=f"{kind}: {detail}")

    def _notice(self, kind: str, to: str, text: str) -> None:
        self._notices.append((kind, {"kind": kind, "to": to, "breach_id": self.s.report.breach_id, "text": text, "at": workflow.now().isoformat()}))

    async def _flush_notices(self) -> None:
        if not self._notices:
            return
        while self._notices:
            kind, document = self._notices.pop(0)
            self.s.notices_sent += 1
            await self._send(f"notice-{self.s.notices_sent:03d}-{kind}", document, summary=f"Notice: {kind.replace('-', ' ')}")
        await self._sync()

    async def _send(self, kind: str, document: dict, summary: str) -> str:
        s = self.s
        receipt = await workflow.execute_activity_method(OutboxActivities.deliver, OutboundReport(breach_id=s.report.breach_id, kind=kind, document=document), summary=summary, **QUICK)
        s.outbox.append(receipt.location)
        self._event("report_sent", detail=f"{kind} -> {receipt.location}")
        await workflow.execute_activity_method(RegisterActivities.audit, self._audit_entry(f"sent:{kind}", {"location": receipt.location, "sha256": receipt.sha256}), summary=f"Audit: sent {kind}", **QUICK)
        return receipt.location

    def _audit_entry(self, kind: str, detail: dict) -> AuditEntry:
        breach = self.s.report.breach_id
        return AuditEntry(event_key=f"{breach}:{kind}", breach_id=breach, at=workflow.now(), kind=kind, actor="workflow", detail=detail)

    async def _sync(self) -> None:
        """Bring the register's case row and clocks up to this state, as a local activity: it runs
        on this worker without a round trip through the server, which shortens every decision
        (the update waits for it). Only this write is local: it is a last-writer-wins snapshot,
        so a write made by a workflow task that was then lost (a killed worker or server) is
        overwritten by the task that replaces it. Decisions, audit events and rounds are
        written once and never overwritten, so they stay ordinary activities, scheduled only
        by committed workflow tasks (the crash soak found a decision recorded with the time
        of a lost task when these were local)."""
        s = self.s
        await workflow.execute_local_activity_method(
            RegisterActivities.sync_case,
            CaseSync(
                breach_id=s.report.breach_id,
                stage=s.stage.value,
                status="concluded" if s.closed else "ongoing",
                outcome=s.main_outcome if s.closed else None,
                individuals=s.individuals,
                data_elements=[e.value for e in s.data_elements],
                risk_level=s.assessment.level.value if s.assessment else None,
                major_incident=s.major.status == "determined",
                notified=s.notice_rounds > 0,
                individuals_notified=s.individuals_notified,
                services=list(s.notification.services) if s.notification else [],
                reported_to_cisa="cisa_omb" in s.major.sent,
                reported_to_congress="congress_oig" in s.major.sent,
                clocks=list(s.clocks.values()),
                at=workflow.now(),
            ),
            summary="Update the register",
            **QUICK,
        )

    def _notification_text(self) -> str | None:
        s = self.s
        if self._export is not None:
            p = s.notify_progress
            done, of = (p.rows_done, p.rows_expected) if p else (0, s.individuals)
            return f"notified {done:,} of {of:,} (round {self._export_round()} export running; roster rows)"
        if s.rounds:
            last = s.rounds[-1]
            return f"notified {last.counts.recipients:,} of {last.counts.recipients:,} unique recipients (round {last.round}; {last.counts.rows_read:,} roster rows, {last.counts.duplicates_merged:,} duplicates merged)"
        if s.notice_rounds:
            return f"notified {s.individuals_notified:,} (recorded by the Notifying Official)"
        return None

    def _awaiting_text(self) -> str | None:
        s = self.s
        if s.closed:
            return None
        waits = []
        if s.main_outcome:
            waits.append(f"major-incident reports before closing ({s.main_outcome})")
        elif s.stage is Stage.contractor_review:
            waits.append("co_acknowledge" if not s.co_acknowledged else "co_record_contractor_response" if s.co_open_request else "co_request_information or co_complete_review")
        elif s.stage is Stage.pim_review:
            waits.append("respond_to_pim" if s.pim_open_request else "pim_approve_closure or pim_request_more_info")
        elif s.notify_problem and s.stage in (Stage.cms_approval, Stage.notify):
            waits.append(f"notify-retry once this is fixed: {s.notify_problem}")
        elif s.stage is Stage.notify and s.report.roster_uri:
            waits.append("the end of the hold, then the mail-house export" if s.hold else f"the mail-house export (round {self._export_round()})")
        else:
            waits += AWAITED_BY_STAGE.get(s.stage, [])[:1]
        if s.major.status == "proposed":
            waits.append("approve_major_incident")
        for kind in s.major.drafts:
            if kind not in s.major.sent:
                waits.append(f"approve_outbound_report {kind}")
        if s.hold:
            waits.append(f"lift_delay (held by {s.hold.authority})")
        return "; ".join(waits) or None

    def _publish(self) -> None:
        """Search attributes (only when changed) and current details: stage, next deadline, findings."""
        s = self.s
        view = self.details()
        nxt = view.next_deadline
        wanted = {
            search.BREACH_STAGE: s.stage.value,
            search.SYSTEM_ID: s.report.system_id,
            search.AFFECTED_INDIVIDUALS: s.individuals,
            search.CONTRACTOR_INVOLVED: s.report.contractor_involved,
            search.HIPAA_COVERED: s.report.hipaa_covered,
            search.MAJOR_INCIDENT: s.major.status == "determined",
            search.RISK_LEVEL: view.risk_level,
            search.NEXT_DEADLINE: nxt.due_at if nxt else None,
        }
        updates = [key.value_set(value) if value is not None else key.value_unset() for key, value in wanted.items() if self._published.get(key.name, "unset") != value]
        if updates:
            workflow.upsert_search_attributes(updates)
            self._published.update({key.name: value for key, value in wanted.items()})
        workflow.set_current_details(render_details(view, workflow.now()))

    def _should_wake(self) -> bool:
        """A change of state, closure, a finished export, or a long history at a quiet moment (to continue as new)."""
        if self._export is not None and self._export.done():
            return True
        return self._wake or self.s.closed or (self._history_is_long() and workflow.all_handlers_finished() and self._export is None)

    def _history_is_long(self) -> bool:
        info = workflow.info()
        return info.is_continue_as_new_suggested() or info.get_current_history_length() >= self.s.config.continue_as_new_events

    # ------------------------------------------------------------------ documents

    def _csirc_document(self) -> dict:
        """The initial report to HHS CSIRC/PIM: sent at once, not contingent on investigation."""
        s = self.s
        return {
            "kind": "initial_breach_report",
            "to": ["HHS CSIRC", "HHS PIM"],
            "breach_id": s.report.breach_id,
            "report": s.report.model_dump(mode="json", exclude={"roster_uri"}),
            "system": s.system.model_dump(mode="json") if s.system else None,
            "findings": [f.model_dump(mode="json") for f in s.findings],
            "sent_at": workflow.now().isoformat(),
        }

    def _pim_document(self) -> dict:
        s = self.s
        a = s.assessment
        return {
            "kind": "investigation_results",
            "to": ["HHS PIM"],
            "breach_id": s.report.breach_id,
            "risk_level": a.level.value if a else None,
            "notify": a.notify if a else None,
            "policy_version": a.policy_version if a else None,
            "countermeasures": [r.model_dump(mode="json") for r in a.countermeasures] if a else [],
            "contractor_review": s.co_review.model_dump(mode="json") if s.co_review else None,
            "findings": [f.model_dump(mode="json") for f in s.findings],
            "sent_at": workflow.now().isoformat(),
        }

    def _ocr_document(self) -> dict:
        s = self.s
        return {
            "kind": "hipaa_breach_notice",
            "to": ["HHS Office for Civil Rights"],
            "breach_id": s.report.breach_id,
            "discovered_at": s.report.discovered_at.isoformat(),
            "individuals": s.individuals,
            "individuals_notified": s.individuals_notified,
            "data_elements": [e.value for e in s.data_elements],
            "sent_at": workflow.now().isoformat(),
        }

    def _draft_request(self, kind: str) -> DraftRequest:
        s = self.s
        hold = None
        if s.hold:
            hold = f"{'written' if s.hold.written else 'oral'} instruction from {s.hold.authority} until {s.clocks['law_enforcement_hold'].due_at.isoformat()}"
        notice = f"notified {s.individuals_notified} individuals" if s.notice_rounds else ("notification path" if s.assessment and s.assessment.notify else "notification not yet decided")
        return DraftRequest(
            kind=kind,
            breach_id=s.report.breach_id,
            system_id=s.report.system_id,
            system_name=s.system.name if s.system else None,
            discovered_at=s.report.discovered_at,
            determined_at=s.major.determined_at,
            individuals=s.individuals,
            data_elements=[e.value for e in s.data_elements],
            media=s.report.media.value,
            intent=s.report.intent.value,
            hold=hold,
            notice_status=notice,
            assessment=s.assessment,
            drafted_at=workflow.now(),
        )

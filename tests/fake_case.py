"""A breach case without Temporal: the real ledger, tracks and decision table over a
recording fake of ``workflows.effects.Effects`` and a clock the test moves by hand.

``World`` is one case: ``await World.filed("qecp")`` files a sample report through the
real intake track (clocks, system look-up, operators, the initial report) and leaves the
case in confirm_pii; ``await world.decide(name, payload, role=...)`` takes a decision the
way the workflow's update does (message check, authorization, preparation, acceptance,
effect), so the tests walk a case to any stage with the plan's own steps. No test here
sleeps: time moves only with ``world.clock.advance``.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from activities.notify.facts import case_facts, load_letterhead
from activities.reports import draft_document
from activities.risk import AnswersRefused, assess, load_policy
from models.assessment import AssessRequest, PolicyRef
from models.case import CaseConfig, SystemInfo
from models.case_state import CaseState
from models.decisions import Actor, Decision, DecisionRefused
from models.intake import IntakeReport
from models.inventory import load_inventory, system_info
from models.mailing import LetterKind, LetterVariant
from models.notification import FileRef, NotifyCounts, NotifyRequest, NotifyResult, Prepared, PrepareRequest, PreviewResult, TemplateCheck
from models.operators import OperatorRoster
from models.records import AuditEntry, CaseOpening, CaseSync, DecisionEntry, DraftRequest, OutboundReport, Receipt, RoundEntry
from models.risk import MisuseEvidence, RiskAnswers, RiskAssessment
from models.roles import Role
from tests.support import NOTIFICATION, REPO, SHARED, TestOperators, sample
from workflows import admission
from workflows.case import Case
from workflows.decision_table import DECISIONS, ROLES
from workflows.effects import ExportPaused, StepFailed
from workflows.ledger import CaseLedger
from workflows.tracks import intake

SYSTEMS = SHARED / "fixtures" / "systems.json"
LETTERHEAD = REPO / "worker" / "defaults" / "letterhead.toml"
INVENTORY = load_inventory(SYSTEMS)
LETTERHEAD_MODEL = load_letterhead(LETTERHEAD)
OPERATORS = TestOperators()  # one operator per role ("Test <role>") plus Sam Ortiz (cms_sop); keys made once
ROSTER = OPERATORS.roster()


# The answers a BRT gives from the samples' summaries (as in tests/test_risk_fixtures.py).
QECP_ANSWERS = RiskAnswers(populations=[], sensitive_context=False, misuse_evidence=MisuseEvidence.none_found)  # moderate: notify
RECON_ANSWERS = RiskAnswers(populations=[], sensitive_context=False, recipient_confirmed_deletion=True, exposure_hours=17, misuse_evidence=MisuseEvidence.none_found)  # low: PIM


class FakeClock:
    """A mutable now: ``CaseLedger(now=clock)``; ``advance`` moves it."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> datetime:
        self.at += delta
        return self.at


def sha(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def file_ref(path: str, rows: int | None = None) -> FileRef:
    return FileRef(path=path, sha256=sha(path), bytes=1024, rows=rows)


class FakeEffects:
    """Every method of ``workflows.effects.Effects``; each call lands in ``calls`` as (name, argument).

    Results are built from the real models and, where cheap, the real code: the system
    inventory of ../shared/fixtures/systems.json, the newest risk policy and the risk
    engine itself, the letterhead's letter facts, the report drafts. ``letters_refusal``
    (a message) makes ``prepare_letters`` fail as the activity's refusals do; each
    ``start_export`` returns a Future the test resolves (``exports``).
    """

    def __init__(self, roster: OperatorRoster = ROSTER) -> None:
        self.roster = roster
        self.calls: list[tuple[str, Any]] = []
        self.exports: list[asyncio.Future[NotifyResult]] = []
        self.letters_refusal: str | None = None
        self.policy = load_policy()

    # ------------------------------------------------------------------ reading the record

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def args(self, name: str) -> list[Any]:
        return [arg for n, arg in self.calls if n == name]

    def sent(self) -> list[str]:
        """The kinds of the documents delivered, in order."""
        return [report.kind for report in self.args("deliver")]

    def document(self, kind: str) -> dict[str, Any]:
        return next(r.document for r in self.args("deliver") if r.kind == kind)

    def audited(self) -> list[str]:
        return [entry.kind for entry in self.args("audit")]

    # ------------------------------------------------------------------ Effects

    async def lookup_system(self, system_id: str) -> SystemInfo:
        self.calls.append(("lookup_system", system_id))
        return system_info(INVENTORY, system_id)

    async def load_operators(self) -> OperatorRoster:
        self.calls.append(("load_operators", None))
        return self.roster

    async def open_case(self, opening: CaseOpening) -> None:
        self.calls.append(("open_case", opening))

    async def deliver(self, report: OutboundReport, summary: str) -> Receipt:
        self.calls.append(("deliver", report))
        return Receipt(kind=report.kind, location=f"outbox/{report.breach_id}/{report.kind}.json", sha256=sha(report.document))

    async def audit(self, entry: AuditEntry, summary: str) -> None:
        self.calls.append(("audit", entry))

    async def record_decision(self, entry: DecisionEntry, summary: str) -> None:
        self.calls.append(("record_decision", entry))

    async def record_round(self, entry: RoundEntry, summary: str) -> None:
        self.calls.append(("record_round", entry))

    async def sync(self, snapshot: CaseSync) -> None:
        self.calls.append(("sync", snapshot))

    async def load_policy(self) -> PolicyRef:
        self.calls.append(("load_policy", None))
        return PolicyRef(version=self.policy.version, sha256=self.policy.sha256)

    async def assess(self, req: AssessRequest) -> RiskAssessment:
        """The real engine under the requested policy; refused answers are ``StepFailed``, as the activity's are."""
        self.calls.append(("assess", req))
        policy = load_policy(req.policy_version)
        if policy.sha256 != req.policy_sha256:
            raise StepFailed(f"policy version {req.policy_version} changed on disk since the case loaded it; publish a new version instead")
        try:
            return assess(req.facts, req.answers, policy, assessed_by=req.assessed_by, assessed_at=req.assessed_at)
        except AnswersRefused as exc:
            raise StepFailed(str(exc)) from None

    async def draft(self, req: DraftRequest, summary: str) -> dict[str, Any]:
        self.calls.append(("draft", req))
        return draft_document(req)

    async def prepare_letters(self, req: PrepareRequest, summary: str) -> Prepared:
        self.calls.append(("prepare_letters", req))
        if self.letters_refusal:
            raise StepFailed(self.letters_refusal)
        facts = case_facts(req, LETTERHEAD_MODEL)
        check = TemplateCheck(languages=["en"], untranslated=[lang for lang in req.languages if lang != "en"], variants=[LetterVariant.adult, LetterVariant.guardian, LetterVariant.estate], letters_checked=3, templates_sha256=sha("templates"))
        preview = PreviewResult(pdf=file_ref(f"notify/{req.out_folder}/round-{req.round}/preview.pdf"), pages=6, letters=3)
        return Prepared(facts=facts, check=check, preview=preview)

    def start_export(self, req: NotifyRequest, summary: str) -> asyncio.Future[NotifyResult]:
        self.calls.append(("start_export", req))
        future: asyncio.Future[NotifyResult] = asyncio.get_running_loop().create_future()
        self.exports.append(future)
        return future

    async def finish_export(self, task: asyncio.Future[NotifyResult]) -> NotifyResult:
        self.calls.append(("finish_export", task))
        try:
            return await task
        except asyncio.CancelledError:
            raise ExportPaused() from None


def notify_result(req: NotifyRequest, recipients: int, *, media_states: tuple[str, ...] = ()) -> NotifyResult:
    """A finished round of ``req`` with ``recipients`` unique people notified."""
    folder = f"notify/{req.out_folder}/round-{req.round}"
    return NotifyResult(
        breach_id=req.breach_id, round=req.round, letter=LetterKind.initial if req.round == 1 else LetterKind.follow_up, roster_sha256=sha(req.roster_uri),
        counts=NotifyCounts(rows_read=recipients + 2, recipients=recipients, exported=recipients, duplicates_merged=2, by_method={"first_class_mail": recipients}),
        substitute_notice_required=False, substitute_notice_reason="every recipient has a usable postal address",
        media_notice_states=list(media_states), export=file_ref(f"{folder}/export.csv", recipients), manifest=file_ref(f"{folder}/manifest.json"),
        no_address_list=file_ref(f"{folder}/no-address.csv", 0), error_report=file_ref(f"{folder}/errors.csv", 0), call_center_sheet=file_ref(f"{folder}/call-center.csv"),
    )


_ids = itertools.count(1)


@dataclass
class World:
    """One case under test: its clock, fake effects, ledger and Case, and a publish counter."""

    clock: FakeClock
    fx: FakeEffects
    ledger: CaseLedger
    case: Case
    published: list[datetime] = field(default_factory=list)

    @classmethod
    def new(cls, report: IntakeReport | str = "qecp", *, at: datetime | None = None, config: CaseConfig | None = None, roster: OperatorRoster = ROSTER) -> World:
        """A case not yet filed (stage report), its clock at ``at`` (default: 10 minutes after the report)."""
        report = sample(report) if isinstance(report, str) else report
        clock = FakeClock(at or report.reported_at + timedelta(minutes=10))
        state = CaseState(report=report, config=config or CaseConfig(), individuals=report.estimated_individuals, data_elements=list(report.data_elements))
        fx = FakeEffects(roster)
        published: list[datetime] = []
        ledger = CaseLedger(state, now=clock, roles=ROLES, publish=lambda: published.append(clock()))
        return cls(clock=clock, fx=fx, ledger=ledger, case=Case(ledger, fx), published=published)

    @classmethod
    async def filed(cls, report: IntakeReport | str = "qecp", **kw: Any) -> World:
        """A case whose report is filed: in confirm_pii, operators loaded, the initial report sent."""
        world = cls.new(report, **kw)
        await intake.file_report(world.case)
        return world

    @property
    def s(self) -> CaseState:
        return self.ledger.state

    @property
    def workflow_id(self) -> str:
        return self.s.report.workflow_id

    # ------------------------------------------------------------------ decisions

    def decision(self, name: str, payload: dict[str, Any] | None = None, *, role: Role | None = None, by: str | None = None, rationale: str | None = "test", signed_at: datetime | None = None, decision_id: str | None = None) -> Decision:
        """A decision signed by ``by`` (default: "Test <role>"; role default: the row's first role)."""
        role = role or sorted(ROLES[name])[0]
        d = Decision(decision_id=decision_id or f"d-{next(_ids)}", actor=Actor(name=by or f"Test {role.value}", role=role), rationale=rationale, payload=payload or {})
        return OPERATORS.sign(d, case=self.workflow_id, decision_name=name, at=signed_at or self.clock())

    def authorize(self, name: str, payload: dict[str, Any] | None = None, **kw: Any):
        """The row, decision and checked payload, as the workflow has them before ``prepare``."""
        d = self.decision(name, payload, **kw)
        problem = admission.message_problem(self.case, self.workflow_id, name, d)
        assert problem is None, problem
        row = DECISIONS[name]
        return row, d, admission.authorize(self.case, name, row, d)

    async def decide(self, name: str, payload: dict[str, Any] | None = None, **kw: Any) -> str:
        """Take a decision as ``BreachResponseWorkflow.decide`` does; returns the operator's message."""
        arrived = self.clock()
        row, d, payload_model = self.authorize(name, payload, **kw)
        prepared = await row.prepare(self.case, d, payload_model) if row.prepare else payload_model
        self.ledger.accept(name, d, arrived)
        return await row.effect(self.case, d, prepared)

    async def refused(self, name: str, payload: dict[str, Any] | None = None, **kw: Any) -> str:
        """The reason ``authorize`` (or ``prepare``) refuses the decision with; it must be a recorded refusal."""
        try:
            await self.decide(name, payload, **kw)
        except DecisionRefused as exc:
            assert exc.recorded
            return str(exc)
        raise AssertionError(f"{name} was not refused")

    # ------------------------------------------------------------------ walking the plan

    async def work(self) -> None:
        """One pass of the workflow loop's notification step (letters, export)."""
        from workflows.tracks import notification

        await notification.work(self.case)


async def at_stage(stage: str, report: IntakeReport | str | None = None) -> World:
    """A case walked by the plan's decisions to ``stage``:
    confirm_pii, contractor_review (recon), risk_assessment (qecp), cms_approval (qecp, letters
    checked), hhs_approval, notify (qecp: no roster, recorded by the Notifying Official),
    pim_review (recon: low risk)."""
    default = "recon" if stage in ("contractor_review", "pim_review") else "qecp"
    w = await World.filed(report or default)
    if stage == "confirm_pii":
        return w
    await w.decide("confirm_pii", {"is_pii": True}, role=Role.cms_sop)
    if w.s.report.contractor_involved:
        if stage == "contractor_review":
            return w
        await w.decide("co_acknowledge")
        await w.decide("co_complete_review", {"contractor_cooperated": True, "obligations": "the contract's breach clause was followed"})
    if stage == "risk_assessment":
        return w
    answers = RECON_ANSWERS if stage == "pim_review" else QECP_ANSWERS
    await w.decide("submit_risk_assessment", {"answers": answers.model_dump(mode="json")}, role=Role.cms_brt)
    if stage == "pim_review":
        assert w.s.stage.value == "pim_review", w.s.stage
        return w
    await w.work()  # the letters are checked while CMS approves them
    if stage == "cms_approval":
        return w
    await w.decide("approve_response_plan", role=Role.cms_sop)
    if stage == "hhs_approval":
        return w
    await w.decide("approve_notification", NOTIFICATION, role=Role.hhs_saop)
    assert stage == "notify", stage
    return w

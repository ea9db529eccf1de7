"""Everything a breach case remembers, in one model, so continue-as-new can carry it whole.

The case ledger (``workflows/ledger.py``) is the only code that changes it; the field names
are part of every carried state and history, so they never change meaning.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from models.assessment import PolicyRef
from models.case_chain import CaseChain
from models.case import CaseConfig, Clock, Finding, Stage, SystemInfo, TimelineEvent
from models.decisions import ApproveNotification, CoCompleteReview, ConfirmPii, OutboundKind
from models.intake import DataElement, IntakeReport
from models.notification import NotifyProgress, NotifyRequest, NotifyResult, Prepared
from models.operators import OperatorRoster
from models.risk import RiskAssessment


class DecisionNote(BaseModel):
    decision_id: str
    decision: str
    role: str
    by: str
    at: datetime
    rationale: str | None = None


class MajorTrack(BaseModel):
    status: Literal["none", "proposed", "determined"] = "none"
    automatic: bool = False
    rationale: str | None = None
    determined_at: datetime | None = None
    drafts: dict[str, dict[str, Any]] = {}
    approvals: dict[str, list[str]] = {}
    sent: dict[str, str] = {}

    @property
    def determined(self) -> bool:
        return self.status == "determined"

    @property
    def reports_done(self) -> bool:
        """Nothing holds the case open for this track: not a major incident, or every report sent."""
        return not self.determined or len(self.sent) == len(OutboundKind)


class Hold(BaseModel):
    authority: str
    written: bool
    until: datetime
    started_at: datetime


class CaseState(BaseModel):
    report: IntakeReport
    config: CaseConfig
    stage: Stage = Stage.report
    system: SystemInfo | None = None
    individuals: int
    data_elements: list[DataElement]
    clocks: dict[str, Clock] = {}
    findings: list[Finding] = []
    outbox: list[str] = []
    notices_sent: int = 0
    timeline: list[TimelineEvent] = []
    decisions: list[DecisionNote] = []
    pii: ConfirmPii | None = None
    co_acknowledged: bool = False
    co_open_request: str | None = None
    co_requests: int = 0
    co_review: CoCompleteReview | None = None
    policy: PolicyRef | None = None
    assessments: list[RiskAssessment] = []
    assessing: bool = False
    misuse_reported: bool = False
    cms_rejections: int = 0
    hhs_rejections: int = 0
    pim_requests: int = 0
    pim_open_request: str | None = None
    notification: ApproveNotification | None = None
    notice_rounds: int = 0
    individuals_notified: int = 0
    # The letters and the mail-house export (activities/notify): the last prepared letters,
    # the request of the round being exported (reused as is to resume it after a hold),
    # its progress, the finished rounds, and the failure that stops the notification.
    letters: Prepared | None = None
    letters_stale: bool = False  # a check of the letters is due (on entering CMS approval)
    preparing_letters: bool = False
    export_request: NotifyRequest | None = None
    notify_progress: NotifyProgress | None = None
    rounds: list[NotifyResult] = []
    notify_problem: str | None = None
    follow_up_reason: str | None = None
    major: MajorTrack = Field(default_factory=MajorTrack)
    hold: Hold | None = None
    operators: OperatorRoster = Field(default_factory=OperatorRoster)
    audit_chain: CaseChain = Field(default_factory=CaseChain)  # the head of the case's own audit chain
    main_outcome: str | None = None
    closed: bool = False

    @property
    def assessment(self) -> RiskAssessment | None:
        return self.assessments[-1] if self.assessments else None


class CaseInput(BaseModel):
    """The workflow's input: a new report, or (after continue-as-new) the carried state."""

    report: IntakeReport
    config: CaseConfig = CaseConfig()
    carried: CaseState | None = None

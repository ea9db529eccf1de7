"""Filing a report: one code path for every intake route (CLI, HTTP, file drop, batch, spool).

Validation happens here, before anything is started, so an invalid report starts
nothing. The workflow id is derived from source + external_id, and Temporal refuses a
second workflow with that id, so the same report filed twice finds the existing case.

Every route shares three things from here: ``parse_for_filing`` (the contract plus what
Temporal itself refuses), ``file_report`` (start the case, or find it), and
``temporal_unreachable`` (is a failure worth retrying later, or does the report itself
stand in the way).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from pydantic import ValidationError
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from models import search
from models.case import MAJOR_INCIDENT_INDIVIDUALS, CaseConfig, Stage
from models.case_state import CaseInput
from models.intake import IntakeReport
from models.inventory import InventorySystem
from worker.config import Settings
from workflows.breach import BreachResponseWorkflow


class InvalidReport(ValueError):
    """A report that breaks the intake contract; ``problems`` names every offending field."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{f}: {m}" for f, m in problems))


def _field(loc: tuple) -> str:
    return ".".join(str(part) for part in loc) or "(report)"


def parse_report(text: str | bytes) -> IntakeReport:
    """Validate a JSON document against the intake contract, or raise ``InvalidReport``."""
    try:
        return IntakeReport.model_validate_json(text)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            name = "(body)" if err["type"] == "json_invalid" else _field(err["loc"])
            msg = "not valid JSON: " + str(err.get("ctx", {}).get("error", err["msg"])) if err["type"] == "json_invalid" else err["msg"]
            problems.append((name, msg))
        raise InvalidReport(problems) from None


INT64_MAX = 2**63 - 1


def parse_for_filing(text: str | bytes) -> IntakeReport:
    """``parse_report``, plus the limits Temporal enforces that the contract does not state.

    ``estimated_individuals`` is indexed as the ``AffectedIndividuals`` search attribute, a
    64-bit integer: a larger count would be refused by Temporal at start, so it is refused
    here, naming the field, before anything is started or spooled.
    """
    report = parse_report(text)
    if report.estimated_individuals > INT64_MAX:
        raise InvalidReport([("estimated_individuals", f"must be at most {INT64_MAX} (the largest count Temporal can index)")])
    return report


_RETRYABLE = {
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.CANCELLED,
    RPCStatusCode.UNKNOWN,
    RPCStatusCode.RESOURCE_EXHAUSTED,
    RPCStatusCode.ABORTED,
    RPCStatusCode.INTERNAL,
    RPCStatusCode.NOT_FOUND,  # e.g. the namespace is not there (yet): a configuration to fix, keep the report
    RPCStatusCode.UNAUTHENTICATED,
    RPCStatusCode.PERMISSION_DENIED,
}


def temporal_unreachable(exc: BaseException) -> bool:
    """True when filing failed because of Temporal (away, slow, misconfigured): keep the report, retry.

    False when Temporal answered that this report cannot be started (INVALID_ARGUMENT, or the
    client could not even encode it): retrying the same report would fail the same way.
    """
    if isinstance(exc, RPCError):
        return exc.status in _RETRYABLE
    # RuntimeError: "Failed client connect" of a lazy client; OSError: sockets
    return isinstance(exc, (TimeoutError, asyncio.TimeoutError, ConnectionError, RuntimeError, OSError))


@dataclass
class FiledCase:
    breach_id: str
    workflow_id: str
    created: bool
    ui_url: str
    flags: list[str] = field(default_factory=list)


def intake_flags(report: IntakeReport, inventory: dict[str, InventorySystem]) -> list[str]:
    """What the sender should know but what does not block intake."""
    if report.system_id not in inventory:
        return [f"unknown_system: {report.system_id!r} is not in the system inventory; the case is flagged for the SOP"]
    return []


def initial_search_attributes(report: IntakeReport) -> TypedSearchAttributes:
    """Set at start so the case is searchable before its first workflow task runs."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(search.BREACH_STAGE, Stage.report.value),
            SearchAttributePair(search.SYSTEM_ID, report.system_id),
            SearchAttributePair(search.AFFECTED_INDIVIDUALS, report.estimated_individuals),
            SearchAttributePair(search.CONTRACTOR_INVOLVED, report.contractor_involved),
            SearchAttributePair(search.HIPAA_COVERED, report.hipaa_covered),
            SearchAttributePair(search.MAJOR_INCIDENT, report.estimated_individuals >= MAJOR_INCIDENT_INDIVIDUALS),
        ]
    )


async def file_report(client: Client, settings: Settings, report: IntakeReport, inventory: dict[str, InventorySystem], config: CaseConfig | None = None) -> FiledCase:
    """Start the case for ``report``, or return the existing one for the same source + external_id."""
    wid = report.workflow_id
    flags = intake_flags(report, inventory)
    try:
        await client.start_workflow(
            BreachResponseWorkflow.run,
            CaseInput(report=report, config=config or CaseConfig()),
            id=wid,
            task_queue=settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            search_attributes=initial_search_attributes(report),
            static_summary=f"Breach {report.breach_id} on {report.system_id}",
        )
        created = True
    except WorkflowAlreadyStartedError:
        created = False
    return FiledCase(report.breach_id, wid, created, settings.ui_link(wid), flags)

"""Filing a report: one code path for every intake route (CLI, HTTP, file drop, batch).

Validation happens here, before anything is started, so an invalid report starts
nothing. The workflow id is derived from source + external_id, and Temporal refuses a
second workflow with that id, so the same report filed twice finds the existing case.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import ValidationError
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from models import search
from models.case import MAJOR_INCIDENT_INDIVIDUALS, CaseConfig, Stage
from models.intake import IntakeReport
from models.inventory import InventorySystem
from worker.config import Settings
from workflows.breach import BreachResponseWorkflow
from workflows.state import CaseInput


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

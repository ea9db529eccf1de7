"""The case's current details, in Markdown, as the Web UI shows them."""

from __future__ import annotations

from datetime import datetime, timedelta

from models.case import CaseView, ClockState


def span(delta: timedelta) -> str:
    sign = "-" if delta < timedelta(0) else ""
    minutes = round(abs(delta).total_seconds() / 60)  # to the nearest minute: clocks drift by milliseconds
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (mins, "m")) if n]
    return sign + (" ".join(parts) or "0m")


def render_details(view: CaseView, now: datetime) -> str:
    lines = [f"## Breach {view.breach_id}", "", f"**Stage:** {view.stage.value}  ", f"**Status:** {view.status}  "]
    if view.awaiting:
        lines.append(f"**Awaiting:** {view.awaiting}  ")
    if view.notification:
        lines.append(f"**Notification:** {view.notification}  ")
    nxt = view.next_deadline
    if nxt:
        lines.append(f"**Next deadline:** {nxt.clock} due {nxt.due_at.isoformat()} ({span(nxt.due_at - now)} left)  ")
    if view.system:
        known = view.system.name if view.system.known else "not in the inventory"
        lines.append(f"**System:** {view.system.system_id} ({known})  ")
    lines += ["", "| clock | due | state |", "|---|---|---|"]
    for c in view.clocks:
        due = c.due_at.isoformat() if c.due_at else "-"
        state = c.state.value + (f" at {c.met_at.isoformat()}" if c.met_at and c.state is not ClockState.pending else "")
        lines.append(f"| {c.clock} | {due} | {state} |")
    if view.findings:
        lines += ["", "**Findings:**"] + [f"- {f.kind}: {f.detail}" for f in view.findings]
    return "\n".join(lines)

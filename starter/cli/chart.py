"""`breach chart`: a case's timeline as an SVG drawing.

Rows, each labelled on the left, over one time axis (UTC):
- stages as bands from the time the case entered them to the time it left (a stage
  entered twice, after a rejection, has two bands), also shaded behind the whole chart;
- each clock as a bar from its start to its due time, coloured by its state (met,
  missed, pending, paused, not applicable), with a tick where it was met and markers for
  reminders, escalations and misses;
- each decision as diamonds at the times it was accepted (hollow red when refused);
- the other events of the timeline as dots.
Every mark has a tooltip (``<title>``) with its details. The drawing is built only from
the workflow's ``details`` and ``timeline`` queries; ``render_timeline_svg`` is pure.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated
from xml.sax.saxutils import escape, quoteattr

import typer

from models.case import CaseView, ClockState, Stage, TimelineEvent
from starter.cli.console import fetch_case, write_output
from worker.config import Settings

WIDTH = 1280
LABEL_W = 290
RIGHT = 30
ROW_H = 22
BAR_H = 12
AXIS_H = 46
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"

STATE_COLOURS = {
    ClockState.met: "#2e7d32",
    ClockState.missed: "#c62828",
    ClockState.pending: "#1565c0",
    ClockState.paused: "#757575",
    ClockState.not_applicable: "#bdbdbd",
}
STAGE_COLOURS = ["#e3f2fd", "#f3e5f5", "#e8f5e9", "#fff3e0", "#fce4ec", "#e0f7fa", "#f9fbe7", "#ede7f6", "#efebe9"]
STAGE_BAR = "#5c6bc0"
CLOCK_EVENTS = {"reminder", "escalation", "deadline_missed", "deadline_met", "deadline_met_late", "deadline_paused", "deadline_resumed", "deadline_set", "deadline_not_applicable"}
DECISION_EVENTS = {"decision_accepted", "decision_refused"}
STAGE_EVENTS = {"stage_entered", "closed"}
# Candidate tick steps for the time axis, smallest first.
STEPS = [timedelta(minutes=m) for m in (1, 5, 10, 15, 30)] + [timedelta(hours=h) for h in (1, 2, 3, 6, 12)] + [timedelta(days=d) for d in (1, 2, 7, 14, 30, 61, 91, 182, 365)]

# Placeholders for a row's vertical position in its marks, filled in once rows are laid
# out; NUL never survives _text/_attr, so no label or tooltip can contain them.
_P = {name: f"\x00{name}\x00" for name in ("y", "y_top", "y_bottom", "y_mid", "y_mid_minus")}

_INVALID_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: object) -> str:
    """Text content: characters XML cannot hold replaced, markup characters escaped."""
    return escape(_INVALID_XML.sub("\ufffd", str(value)))


def _attr(value: object) -> str:
    return quoteattr(_INVALID_XML.sub("\ufffd", str(value)), {"\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _when(at: datetime | None) -> str:
    return _utc(at).strftime("%Y-%m-%d %H:%M UTC") if at else "-"


def _short(label: str, limit: int = 40) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "\u2026"


@dataclass
class _Row:
    label: str
    tooltip: str
    marks: list[str]
    group: str


class _Scale:
    def __init__(self, start: datetime, end: datetime, left: float, right: float) -> None:
        self.start, self.end, self.left, self.right = start, end, left, right
        self.span = (end - start).total_seconds()

    def x(self, at: datetime) -> float:
        return round(self.left + (_utc(at) - self.start).total_seconds() / self.span * (self.right - self.left), 2)


def _ticks(start: datetime, end: datetime) -> tuple[list[datetime], str]:
    span = end - start
    step = next((s for s in STEPS if span / s <= 10), STEPS[-1])
    fmt = "%Y-%m-%d" if step >= timedelta(days=1) else "%m-%d %H:%M"
    anchor = start.replace(hour=0, minute=0, second=0, microsecond=0)
    if step >= timedelta(days=28):
        anchor = anchor.replace(day=1)
    first = anchor + ((start - anchor) // step + (1 if (start - anchor) % step else 0)) * step
    ticks, t = [], first
    while t <= end:
        ticks.append(t)
        t += step
    return ticks, fmt


def _stage_segments(view: CaseView, events: list[TimelineEvent], end: datetime, start: datetime) -> list[tuple[str, datetime, datetime]]:
    """(stage, entered, left) in time order; the last stage runs to ``end``."""
    segments: list[list] = []
    for e in events:
        if e.kind in STAGE_EVENTS and e.stage:
            if segments and segments[-1][0] == e.stage:
                continue
            if segments:
                segments[-1][2] = e.at
            segments.append([e.stage, e.at, None])
    if not segments:
        segments.append([view.stage.value, start, None])
    segments[-1][2] = max(end, segments[-1][1])
    return [(s, a, b) for s, a, b in segments]


def render_timeline_svg(view: CaseView, events: list[TimelineEvent], now: datetime | None = None) -> str:
    """The case's timeline as a standalone SVG document (UTF-8 text).

    ``now`` (optional) draws a "now" line and lets an ongoing case's current stage and
    pending clocks run to it; without it the drawing ends at the latest time it shows.
    """
    events = sorted((e.model_copy(update={"at": _utc(e.at), "due_at": _utc(e.due_at) if e.due_at else None}) for e in events), key=lambda e: e.at)
    now = _utc(now) if now else None
    times = [e.at for e in events] + [e.due_at for e in events if e.due_at]
    for c in view.clocks:
        times += [t for t in (c.started_at, c.due_at, c.met_at) if t]
    if now:
        times.append(now)
    times = [_utc(t) for t in times]
    if not times:
        times = [now or datetime.now(UTC)]
    first, last = min(times), max(times)
    span = max(last - first, timedelta(hours=1))
    pad = span * 0.03
    scale = _Scale(first - pad, first + span + pad, LABEL_W, WIDTH - RIGHT)
    end_of_case = now if (now and view.status != "concluded") else last

    rows: list[_Row] = []

    # stages
    segments = _stage_segments(view, events, end_of_case, first)
    order = [s.value for s in Stage]
    stage_names = sorted({s for s, _, _ in segments}, key=lambda s: (order.index(s) if s in order else len(order), s))
    colour_of = {name: STAGE_COLOURS[i % len(STAGE_COLOURS)] for i, name in enumerate(stage_names)}
    for name in stage_names:
        marks, spans = [], []
        for stage, a, b in segments:
            if stage != name:
                continue
            x0, x1 = scale.x(a), scale.x(b)
            spans.append(f"{_when(a)} to {_when(b)}")
            marks.append(f'<rect x="{x0}" y="{_P["y"]}" width="{max(x1 - x0, 3):.2f}" height="{BAR_H}" rx="2" fill="{STAGE_BAR}"><title>{_text(f"stage {name}: {_when(a)} to {_when(b)}")}</title></rect>')
        rows.append(_Row(name, f"stage {name}: " + "; ".join(spans), marks, "Stages"))

    # clocks
    by_clock: dict[str, list[TimelineEvent]] = {}
    for e in events:
        if e.clock and e.kind in CLOCK_EVENTS:
            by_clock.setdefault(e.clock, []).append(e)
    for c in view.clocks:
        colour = STATE_COLOURS.get(c.state, "#9e9e9e")
        start = _utc(c.started_at)
        due = _utc(c.due_at) if c.due_at else None
        x0 = scale.x(start)
        x1 = scale.x(due) if due else scale.x(end_of_case)
        tip = f"{c.clock} ({c.kind.value}): {c.state.value}; started {_when(start)}; due {_when(due)}"
        if c.met_at:
            tip += f"; done {_when(c.met_at)}"
        if c.state is ClockState.paused and c.paused_remaining is not None:
            tip += f"; {c.paused_remaining} remaining while paused"
        tip += f"; rule: {c.source}"
        fill = "url(#paused)" if c.state is ClockState.paused else colour
        dash = "" if due else ' stroke-dasharray="4 3"'
        marks = [f'<rect x="{x0}" y="{_P["y"]}" width="{max(x1 - x0, 2):.2f}" height="{BAR_H}" rx="2" fill="{fill}" fill-opacity="0.85" stroke="{colour}"{dash}><title>{_text(tip)}</title></rect>']
        if c.met_at:
            xm = scale.x(c.met_at)
            marks.append(f'<line x1="{xm}" x2="{xm}" y1="{_P["y_top"]}" y2="{_P["y_bottom"]}" stroke="#000" stroke-width="2"><title>{_text(f"{c.clock} done {_when(c.met_at)}")}</title></line>')
        for e in by_clock.get(c.clock, []):
            marks += _clock_marker(e, scale)
        rows.append(_Row(f"{c.clock} ({c.state.value})", tip, marks, "Clocks"))

    # decisions
    decisions: dict[str, list[TimelineEvent]] = {}
    for e in events:
        if e.kind in DECISION_EVENTS and e.decision:
            decisions.setdefault(e.decision, []).append(e)
    for name, items in decisions.items():
        marks, tips = [], []
        for e in items:
            x = scale.x(e.at)
            refused = e.kind == "decision_refused"
            who = f"{e.by or 'unknown'} ({e.role or '-'})"
            tip = f"{name} {'REFUSED' if refused else 'accepted'} {_when(e.at)} by {who}" + (f": {e.detail}" if e.detail else "")
            tips.append(tip)
            style = 'fill="#fff" stroke="#c62828" stroke-width="2"' if refused else 'fill="#6a1b9a" stroke="#4a148c"'
            marks.append(f'<path d="M {x} {_P["y_mid_minus"]} l 6 6 l -6 6 l -6 -6 z" {style}><title>{_text(tip)}</title></path>')
        rows.append(_Row(name, "; ".join(tips), marks, "Decisions"))

    # everything else
    others = [e for e in events if e.kind not in STAGE_EVENTS | DECISION_EVENTS and not (e.clock and e.kind in CLOCK_EVENTS)]
    if others:
        marks = []
        for e in others:
            x = scale.x(e.at)
            what = " ".join(v for v in (e.kind, e.clock, e.decision) if v)
            tip = f"{_when(e.at)} {what}" + (f": {e.detail}" if e.detail else "")
            marks.append(f'<circle cx="{x}" cy="{_P["y_mid"]}" r="4" fill="#455a64"><title>{_text(tip)}</title></circle>')
        rows.append(_Row("other events", f"{len(others)} other events (findings, reports sent, assessments, holds)", marks, "Events"))

    return _document(view, rows, segments, colour_of, scale, now)


def _clock_marker(e: TimelineEvent, scale: _Scale) -> list[str]:
    x = scale.x(e.at)
    tip = _text(f"{_when(e.at)} {e.kind} {e.clock}" + (f": {e.detail}" if e.detail else ""))
    if e.kind == "reminder":
        return [f'<path d="M {x} {_P["y_top"]} l 5 -7 l -10 0 z" fill="#f9a825" stroke="#8d6e00"><title>{tip}</title></path>']
    if e.kind == "escalation":
        return [f'<path d="M {x} {_P["y_top"]} l 6 -9 l -12 0 z" fill="#d84315" stroke="#7f2704"><title>{tip}</title></path>']
    if e.kind == "deadline_missed":
        return [f'<path d="M {x - 5} {_P["y_mid_minus"]} l 10 12 M {x + 5} {_P["y_mid_minus"]} l -10 12" stroke="#b71c1c" stroke-width="2.5"><title>{tip}</title></path>']
    if e.kind in ("deadline_paused", "deadline_resumed"):
        return [f'<path d="M {x - 2} {_P["y_top"]} l 0 {BAR_H} M {x + 2} {_P["y_top"]} l 0 {BAR_H}" stroke="#212121" stroke-width="1.5"><title>{tip}</title></path>']
    return []  # set / met / not applicable are already visible in the bar and its tick


def _document(view: CaseView, rows: list[_Row], segments, colour_of: dict[str, str], scale: _Scale, now: datetime | None) -> str:
    top = 64
    axis_y = top + AXIS_H - 14
    y = top + AXIS_H
    body: list[str] = []
    group = None
    for row in rows:
        if row.group != group:
            group = row.group
            y += 8
            body.append(f'<text x="12" y="{y + 12}" font-weight="bold" font-size="13">{_text(group)}</text>')
            y += ROW_H
        y_top = y + (ROW_H - BAR_H) / 2
        values = {"y": y_top, "y_top": y_top, "y_bottom": y_top + BAR_H, "y_mid": y + ROW_H / 2, "y_mid_minus": y + ROW_H / 2 - 6}
        body.append(f'<g><title>{_text(row.tooltip)}</title><text x="24" y="{y + ROW_H / 2 + 4}">{_text(_short(row.label))}</text></g>')
        body.append(f'<line x1="{LABEL_W}" x2="{WIDTH - RIGHT}" y1="{y + ROW_H}" y2="{y + ROW_H}" stroke="#eeeeee"/>')
        for mark in row.marks:
            for name, value in values.items():
                mark = mark.replace(_P[name], f"{value:g}")
            body.append(mark)
        y += ROW_H
    plot_bottom = y + 6
    legend_y = plot_bottom + 30
    height = legend_y + 62

    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family={_attr(FONT)} font-size="12" fill="#212121">',
        f"<title>{_text(f'Timeline of breach {view.breach_id}')}</title>",
        '<defs><pattern id="paused" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        '<rect width="6" height="6" fill="#bdbdbd"/><line x1="0" y1="0" x2="0" y2="6" stroke="#616161" stroke-width="3"/></pattern></defs>',
        f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
    ]
    # header
    facts = [f"stage {view.stage.value}", view.status + (f" ({view.outcome})" if view.outcome else ""), f"{view.estimated_individuals:,} individuals"]
    if view.risk_level:
        facts.append(f"risk {view.risk_level}")
    if view.major_incident:
        facts.append("major incident")
    parts.append(f'<text x="12" y="26" font-size="18" font-weight="bold">{_text(f"Breach {view.breach_id}")}</text>')
    parts.append(f'<text x="12" y="48" fill="#424242">{_text(" · ".join(facts) + " · times in UTC")}</text>')
    # stage shading behind the plot
    for stage, a, b in segments:
        x0, x1 = scale.x(a), scale.x(b)
        parts.append(f'<rect x="{x0}" y="{top + AXIS_H}" width="{max(x1 - x0, 1):.2f}" height="{plot_bottom - top - AXIS_H}" fill="{colour_of[stage]}" fill-opacity="0.6"/>')
    # time axis with grid
    ticks, fmt = _ticks(scale.start, scale.end)
    parts.append(f'<line x1="{LABEL_W}" x2="{WIDTH - RIGHT}" y1="{axis_y}" y2="{axis_y}" stroke="#616161"/>')
    for t in ticks:
        x = scale.x(t)
        parts.append(f'<line x1="{x}" x2="{x}" y1="{axis_y}" y2="{plot_bottom}" stroke="#e0e0e0"/>')
        parts.append(f'<line x1="{x}" x2="{x}" y1="{axis_y - 5}" y2="{axis_y}" stroke="#616161"/>')
        parts.append(f'<text x="{x}" y="{axis_y - 8}" text-anchor="middle" font-size="11">{_text(t.strftime(fmt))}</text>')
    parts.append(f'<text x="{LABEL_W - 8}" y="{axis_y - 8}" text-anchor="end" font-size="11" fill="#616161">time (UTC)</text>')
    parts += body
    if now is not None:
        x = scale.x(now)
        parts.append(f'<line x1="{x}" x2="{x}" y1="{axis_y}" y2="{plot_bottom}" stroke="#d32f2f" stroke-dasharray="5 4"><title>{_text(f"now: {_when(now)}")}</title></line>')
        parts.append(f'<text x="{x + 3}" y="{plot_bottom - 4}" fill="#d32f2f" font-size="11">now</text>')
    # legend
    lx = 12
    for state in (ClockState.met, ClockState.missed, ClockState.pending, ClockState.paused, ClockState.not_applicable):
        fill = "url(#paused)" if state is ClockState.paused else STATE_COLOURS[state]
        parts.append(f'<rect x="{lx}" y="{legend_y - 10}" width="18" height="{BAR_H}" fill="{fill}" stroke="{STATE_COLOURS[state]}"/>')
        parts.append(f'<text x="{lx + 24}" y="{legend_y}">{_text("clock " + state.value.replace("_", " "))}</text>')
        lx += 150
    legend_marks = [
        ("decision", lambda x: f'<path d="M {x} {legend_y - 11} l 6 6 l -6 6 l -6 -6 z" fill="#6a1b9a"/>'),
        ("refused", lambda x: f'<path d="M {x} {legend_y - 11} l 6 6 l -6 6 l -6 -6 z" fill="#fff" stroke="#c62828" stroke-width="2"/>'),
        ("reminder", lambda x: f'<path d="M {x} {legend_y + 1} l 5 -9 l -10 0 z" fill="#f9a825" stroke="#8d6e00"/>'),
        ("escalation", lambda x: f'<path d="M {x} {legend_y + 1} l 6 -9 l -12 0 z" fill="#d84315" stroke="#7f2704"/>'),
        ("missed", lambda x: f'<path d="M {x - 5} {legend_y - 11} l 10 12 M {x + 5} {legend_y - 11} l -10 12" stroke="#b71c1c" stroke-width="2.5"/>'),
        ("done", lambda x: f'<line x1="{x}" x2="{x}" y1="{legend_y - 11}" y2="{legend_y + 1}" stroke="#000" stroke-width="2"/>'),
    ]
    lx = 12
    legend_y += 22
    for label, draw in legend_marks:
        parts.append(draw(lx + 6))
        parts.append(f'<text x="{lx + 18}" y="{legend_y}">{_text(label)}</text>')
        lx += 110
    parts.append(f'<text x="12" y="{legend_y + 24}" font-size="11" fill="#616161">Stage bands are shaded behind the rows; grey dots are other events. Hover over any mark for its details.</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def chart(
    case: Annotated[str, typer.Argument(help="Breach id or workflow id.")],
    out_file: Annotated[Path, typer.Option("--out", "-o", help="SVG file to write, or - for standard output.", dir_okay=False, allow_dash=True)],
) -> None:
    """Draw a case's timeline as SVG: stages as bands, clocks as bars coloured by state, decision markers.

    Reads the case's details and timeline from Temporal (the running service). Open the file in a browser: every mark shows its details on hover.

    Example: breach chart api-CSIRC-INC-2026-88120 --out case.svg
    """
    settings = Settings()

    view, events = asyncio.run(fetch_case(settings, case))
    svg = render_timeline_svg(view, events, now=None if view.status == "concluded" else datetime.now(UTC))
    if str(out_file) == "-":
        typer.echo(svg, nl=False)
        return
    write_output(out_file, svg)
    typer.echo(f"wrote the timeline of {view.breach_id} ({len(events)} events, {len(view.clocks)} clocks) to {out_file}", err=True)

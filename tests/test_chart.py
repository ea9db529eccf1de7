"""`breach chart`: the timeline drawing is valid SVG that shows every stage, clock and decision."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import typer
from typer.testing import CliRunner

from models.case import CaseView, Clock, ClockKind, ClockState, Stage, SystemInfo, TimelineEvent
from starter.cli.chart import STATE_COLOURS, chart, render_timeline_svg

SVG = "{http://www.w3.org/2000/svg}"
T0 = datetime(2026, 11, 20, 13, 30, tzinfo=UTC)
H, D = timedelta(hours=1), timedelta(days=1)


def clock(name: str, start: timedelta, due: timedelta | None, state: ClockState, met: timedelta | None = None, **kw) -> Clock:
    return Clock(clock=name, started_at=T0 + start, due_at=T0 + due if due is not None else None, state=state, met_at=T0 + met if met is not None else None, source=f"rule for {name} <&>", **kw)


CLOCKS = [
    clock("csirc_report", timedelta(0), H, ClockState.met, met=timedelta(minutes=20)),
    clock("cisa_omb", 2 * H, 3 * H, ClockState.missed),
    clock("confirm_pii", timedelta(0), D, ClockState.met, met=4 * H, kind=ClockKind.service_level),
    clock("approve_response_plan", 3 * D, 6 * D, ClockState.missed, met=7 * D, kind=ClockKind.service_level),
    clock("hipaa_individuals", timedelta(0), 60 * D, ClockState.paused, paused_remaining=40 * D),
    clock("congress_oig", 2 * H, 7 * D + 2 * H, ClockState.pending),
    clock("hipaa_media", timedelta(0), 60 * D, ClockState.not_applicable),
    clock("law_enforcement_hold", 8 * D, None, ClockState.pending),
]

STAGES = [("report", timedelta(0)), ("confirm_pii", timedelta(minutes=5)), ("risk_assessment", 4 * H), ("cms_approval", 3 * D),
          ("hhs_approval", 5 * D), ("cms_approval", 5 * D + 6 * H), ("hhs_approval", 7 * D), ("notify", 9 * D)]


def events() -> list[TimelineEvent]:
    out = [TimelineEvent(at=T0 + at, kind="stage_entered", stage=name) for name, at in STAGES]
    out += [TimelineEvent(at=c.started_at, kind="deadline_set", clock=c.clock, due_at=c.due_at, detail=c.source) for c in CLOCKS]
    out += [
        TimelineEvent(at=T0 + 4 * H, kind="decision_accepted", decision="confirm_pii", role="cms_sop", by="Sam Ortiz", detail="claims extract & <PHI>"),
        TimelineEvent(at=T0 + 2 * D, kind="decision_refused", decision="approve_notification", role="cms_sop", by="Pat \x07Lee", detail="role cms_sop may not make approve_notification"),
        TimelineEvent(at=T0 + 5 * D + 6 * H, kind="decision_accepted", decision="reject_notification", role="hhs_brt", by="HHS BRT", detail="add the toll-free number"),
        TimelineEvent(at=T0 + 7 * D, kind="decision_accepted", decision="approve_response_plan", role="cms_brt", by="BRT"),
        TimelineEvent(at=T0 + 2 * H + timedelta(minutes=45), kind="reminder", clock="cisa_omb", due_at=T0 + 3 * H, detail="to hhs_brt: 15m left"),
        TimelineEvent(at=T0 + 3 * H, kind="deadline_missed", clock="cisa_omb", due_at=T0 + 3 * H),
        TimelineEvent(at=T0 + 6 * D, kind="escalation", clock="approve_response_plan", detail="escalated to the BRT chair (CMS SOP)"),
        TimelineEvent(at=T0 + 8 * D, kind="deadline_paused", clock="hipaa_individuals", detail="40d remaining"),
        TimelineEvent(at=T0 + 8 * D, kind="hold_started", clock="law_enforcement_hold", detail="oral instruction from FBI {field office}"),
        TimelineEvent(at=T0 + timedelta(minutes=30), kind="report_sent", detail="csirc_pim_initial_report -> outbox/a&b.json"),
    ]
    return out


def view(**changes) -> CaseView:
    values = dict(
        breach_id="api-CSIRC-INC-2026-88120&<x>", workflow_id="breach-api-CSIRC-INC-2026-88120", stage=Stage.notify, status="ongoing",
        system=SystemInfo(system_id="sys-1", known=True, name="Claims"), estimated_individuals=152_000, data_elements=["name", "ssn"],
        contractor_involved=False, hipaa_covered=True, risk_level="high", major_incident=True, awaiting="hhs_saop: lift_delay",
        clocks=CLOCKS, findings=[], outbox=[],
    )
    return CaseView(**(values | changes))


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg.encode("utf-8"))
    assert root.tag == f"{SVG}svg"
    return root


def labels(root: ET.Element) -> list[str]:
    """The visible text of the drawing (not the tooltips)."""
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def marks_titled(root: ET.Element, prefix: str, tag: str = "rect") -> list[ET.Element]:
    found = []
    for el in root.iter(f"{SVG}{tag}"):
        title = el.find(f"{SVG}title")
        if title is not None and (title.text or "").startswith(prefix):
            found.append(el)
    return found


def test_chart_is_valid_svg_naming_every_stage_clock_and_decision():
    now = T0 + 10 * D
    root = parse(render_timeline_svg(view(), events(), now=now))
    text = labels(root)
    for name in {s for s, _ in STAGES}:
        assert name in text, name
    for c in CLOCKS:
        assert f"{c.clock} ({c.state.value})" in text, c.clock
    for name in ("confirm_pii", "approve_notification", "reject_notification", "approve_response_plan"):
        assert name in text
    assert "Breach api-CSIRC-INC-2026-88120&<x>" in text  # escaped in the file, intact once parsed
    assert "now" in text and "time (UTC)" in text
    ticks = [t for t in text if re.fullmatch(r"\d{4}-\d{2}-\d{2}|\d{2}-\d{2} \d{2}:\d{2}", t)]
    assert len(ticks) >= 3


def test_clock_bars_are_coloured_by_state_and_placed_in_time():
    root = parse(render_timeline_svg(view(), events(), now=T0 + 10 * D))
    bars = {}
    for c in CLOCKS:
        (bar,) = marks_titled(root, f"{c.clock} (")
        fill = bar.get("fill")
        assert fill == ("url(#paused)" if c.state is ClockState.paused else STATE_COLOURS[c.state]), c.clock
        bars[c.clock] = (float(bar.get("x")), float(bar.get("x")) + float(bar.get("width")))
    # starts and due times keep their order on the axis
    assert bars["csirc_report"][0] == bars["confirm_pii"][0] < bars["cisa_omb"][0] < bars["approve_response_plan"][0]
    assert bars["cisa_omb"][1] < bars["congress_oig"][1] < bars["hipaa_individuals"][1]
    # the hold has no due time: it runs to "now"
    assert bars["law_enforcement_hold"][1] > bars["congress_oig"][1]
    # a tick where a clock was done, markers for the reminder, miss and escalation
    assert marks_titled(root, "csirc_report done", "line") and marks_titled(root, "approve_response_plan done", "line")
    paths = [el.find(f"{SVG}title").text for el in root.iter(f"{SVG}path") if el.find(f"{SVG}title") is not None]
    assert any(" reminder cisa_omb" in p for p in paths)
    assert any(" deadline_missed cisa_omb" in p for p in paths)
    assert any(" escalation approve_response_plan" in p for p in paths)
    assert any("approve_notification REFUSED" in p and "Pat \ufffdLee" in p for p in paths)


def test_a_stage_entered_twice_has_two_bands():
    root = parse(render_timeline_svg(view(), events(), now=T0 + 10 * D))
    assert len(marks_titled(root, "stage cms_approval:")) == 2
    assert len(marks_titled(root, "stage hhs_approval:")) == 2
    (report,) = marks_titled(root, "stage report:")
    assert float(report.get("width")) >= 3  # five minutes out of ten days is still visible


def test_concluded_case_without_now_and_an_empty_timeline():
    closed = events() + [TimelineEvent(at=T0 + 12 * D, kind="closed", stage="closed", detail="notified")]
    root = parse(render_timeline_svg(view(status="concluded", stage=Stage.closed, outcome="notified"), closed))
    assert "closed" in labels(root) and "now" not in labels(root)
    bare = parse(render_timeline_svg(view(clocks=[], stage=Stage.report), []))
    assert "report" in labels(bare)


def test_chart_help_and_an_unreachable_service(monkeypatch, tmp_path):
    app = typer.Typer()
    app.command("chart")(chart)
    app.command("other")(lambda: None)
    result = CliRunner().invoke(app, ["chart", "--help"])
    assert result.exit_code == 0 and "Example: breach chart" in result.output and "--out" in result.output
    monkeypatch.setenv("BREACH_TEMPORAL_ADDRESS", "127.0.0.1:9")
    monkeypatch.setenv("BREACH_DATA_DIR", str(tmp_path))
    failed = CliRunner().invoke(app, ["chart", "api-X", "--out", str(tmp_path / "x.svg")])
    assert failed.exit_code == 3 and "cannot reach Temporal" in failed.output
    assert not (tmp_path / "x.svg").exists()

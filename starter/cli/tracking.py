"""`breach tracking`: the Appendix A tracking reports from the register, as a table, CSV or JSON."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console, Group
from rich.table import Column, Table
from rich.text import Text
from sqlmodel import Session

from starter.cli.console import err, fail, open_register, out, write_output
from starter.tracking import formats, reports
from starter.tracking.periods import parse_when
from starter.tracking.reports import Totals, TrackingReport
from worker.config import Settings

tracking_app = typer.Typer(help="Tracking reports of the plan's Appendix A: cases over a period, the quarterly review, the annual summary.", no_args_is_help=True)


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="table (for reading), csv (one row per breach, then quarters and totals) or json.")]
OutOpt = Annotated[Path | None, typer.Option("--out", "-o", help="Write the report to this file instead of standard output.", dir_okay=False)]


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _totals_table(title: str, rows: list[tuple[str, Totals]]) -> Table:
    table = Table("", title=title, title_justify="left")
    for name in ("cases", "ongoing", "concluded", "individuals", "notified", "services", "CISA", "Congress", "CISA or Congress", "major"):
        table.add_column(name, justify="right")
    for label, t in rows:
        table.add_row(Text(label), *(str(v) for v in (t.cases, t.ongoing, t.concluded, f"{t.individuals:,}", t.notified, t.services_provided, t.reported_to_cisa, t.reported_to_congress, t.reported_to_cisa_or_congress, t.major_incident)))
    return table


def render_table(report: TrackingReport) -> Group:
    """The report for reading: the breaches, then totals (per quarter for the fiscal-year reports)."""
    cases = Table(title=Text(report.title), title_justify="left", caption=Text("; ".join(report.notes[1:])), caption_justify="left")
    for name in ("breach", "opened", "status", "individuals", "types of information", "notified", "services", "CISA", "Congress"):
        cases.add_column(name, justify="right" if name == "individuals" else "left")
    for line in report.cases:
        services = ", ".join(line.services) if line.services_provided else ("no" if not line.services else "approved, not yet provided")
        cases.add_row(
            Text(line.breach_id), line.opened_at.strftime("%Y-%m-%d"), line.status, f"{line.individuals:,}", Text(", ".join(line.data_elements) or "-"),
            _yes(line.notified), Text(services), _yes(line.reported_to_cisa), _yes(line.reported_to_congress),
        )
    totals = [(b.period.label, b.totals) for b in report.by_quarter] + [(f"total {report.period.label}" if report.fiscal_year else "total", report.totals)]
    parts = [cases, _totals_table("Totals", totals)]
    if report.totals.data_elements:
        kinds = Table("type of information", Column("breaches", justify="right"), title="Types of information potentially compromised", title_justify="left")
        for name, n in sorted(report.totals.data_elements.items(), key=lambda kv: (-kv[1], kv[0])):
            kinds.add_row(Text(name), str(n))
        parts.append(kinds)
    return Group(*parts)


def _emit(report: TrackingReport, fmt: Format, out_file: Path | None) -> None:
    if fmt is Format.table:
        if out_file is None:  # piped: wide enough that rows are not cut
            (out if out.is_terminal else Console(width=max(out.width, 200))).print(render_table(report))
            return
        buf = io.StringIO()
        Console(file=buf, width=200, color_system=None, force_terminal=False).print(render_table(report))
        text = buf.getvalue()
    else:
        text = formats.to_csv(report) if fmt is Format.csv else formats.to_json(report)
        if out_file is None:
            typer.echo(text, nl=False)
            return
    write_output(out_file, text)
    err.print(f"wrote {report.kind} report ({len(report.cases)} breaches) to {out_file}", highlight=False, markup=False)


def _run(build, fmt: Format, out_file: Path | None) -> None:
    engine = open_register(Settings())
    try:
        with Session(engine) as session:
            report = build(session, datetime.now(UTC))
    except ValueError as exc:
        raise fail(str(exc)) from None
    finally:
        engine.dispose()
    _emit(report, fmt, out_file)


def _when(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_when(value)
    except ValueError as exc:
        raise fail(f"{option}: {exc}") from None


@tracking_app.command("cases")
def cases_cmd(
    from_: Annotated[str | None, typer.Option("--from", metavar="DATE", help="Cases opened on or after this date (YYYY-MM-DD, 00:00 UTC) or ISO time.")] = None,
    to: Annotated[str | None, typer.Option("--to", metavar="DATE", help="Cases opened before this date (exclusive).")] = None,
    fmt: FormatOpt = Format.table,
    out_file: OutOpt = None,
) -> None:
    """Every breach opened in [FROM, TO) with its current status, and the totals for the period.

    Example: breach tracking cases --from 2026-10-01 --to 2027-01-01 --format csv --out q1.csv
    """
    start, end = _when(from_, "--from"), _when(to, "--to")
    _run(lambda session, now: reports.cases_report(session, start, end, now=now), fmt, out_file)


@tracking_app.command("quarterly")
def quarterly_cmd(
    fy: Annotated[int, typer.Option("--fy", min=2000, max=9998, help="Federal fiscal year (FY2027 starts 2026-10-01).")],
    quarter: Annotated[int, typer.Option("--quarter", "-q", min=1, max=4, help="Fiscal quarter 1-4 (Q1 is October-December).")],
    fmt: FormatOpt = Format.table,
    out_file: OutOpt = None,
) -> None:
    """The SOP's quarterly review: every breach of the fiscal year to the quarter's end, with its status then.

    Example: breach tracking quarterly --fy 2027 --quarter 1 --format json --out fy2027-q1.json
    """
    _run(lambda session, now: reports.quarterly_review(session, fy, quarter, now=now), fmt, out_file)


@tracking_app.command("annual")
def annual_cmd(
    fy: Annotated[int, typer.Option("--fy", min=2000, max=9998, help="Federal fiscal year (FY2027 is 2026-10-01 to 2027-09-30).")],
    fmt: FormatOpt = Format.table,
    out_file: OutOpt = None,
) -> None:
    """The annual summary of a fiscal year: every breach, status at the year's end, totals per quarter.

    Example: breach tracking annual --fy 2027 --format csv --out fy2027.csv
    """
    _run(lambda session, now: reports.annual_summary(session, fy, now=now), fmt, out_file)

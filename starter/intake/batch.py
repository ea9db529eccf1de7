"""Batch import: many reports from one JSON Lines or CSV file, each row its own case.

JSON Lines (``.jsonl``, ``.ndjson``): one report object per line, blank lines skipped; a
row's number is its line number.

CSV (``.csv``, UTF-8, with or without a BOM): a header row naming the contract's fields,
then one report per row; a row's number is its row in a spreadsheet (the header is row 1).

- nested fields are dotted columns: ``reported_by.name``, ``reported_by.email``,
  ``reported_by.organization``, ``reported_by.role``, ``contractor.name``,
  ``contractor.contract_number`` (all ``contractor.*`` cells empty = no contractor);
- lists (``data_elements``) are separated by ``;``: ``name;ssn;medical``; the cell ``[]``
  is the empty list (data elements not known yet);
- an empty cell means the field is absent (so an optional field takes its default, and a
  required one is reported missing);
- ``estimated_individuals`` is a whole number; ``encrypted`` and ``hipaa_covered`` take
  ``true``/``false`` (also ``yes``/``no``, ``1``/``0``);
- a column that is not a field of the contract is reported, like a misspelt JSON key.

Every row goes through the same validation and filing as every other intake route, so a
row that repeats an already filed source + external_id finds the existing case.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from models.intake import IntakeReport
from starter.intake.filing import FiledCase, InvalidReport, parse_for_filing, temporal_unreachable

MAX_ROW = 1024 * 1024
Format = Literal["jsonl", "csv"]
FORMATS: dict[str, Format] = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}


class BatchError(ValueError):
    """The file as a whole cannot be imported (unknown format, unreadable, not UTF-8)."""


def _kinds() -> dict[str, str]:
    """Top-level fields whose CSV cell needs converting: field -> array | integer | boolean."""
    kinds = {}
    for name, prop in IntakeReport.model_json_schema()["properties"].items():
        types = {prop.get("type")} | {alt.get("type") for alt in prop.get("anyOf", [])}
        for kind in ("array", "integer", "boolean"):
            if kind in types:
                kinds[name] = kind
    return kinds


KINDS = _kinds()
_INT = re.compile(r"^[+-]?\d+$")
_BOOLS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


@dataclass
class RowInput:
    row: int
    document: bytes | None = None
    problems: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class RowResult:
    row: int
    status: str  # filed | existing | invalid | not_filed
    breach_id: str | None = None
    workflow_id: str | None = None
    problems: list[tuple[str, str]] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"row": self.row, "status": self.status}
        if self.breach_id:
            out |= {"breach_id": self.breach_id, "workflow_id": self.workflow_id}
        if self.problems:
            out["problems"] = [{"field": f, "message": m} for f, m in self.problems]
        if self.flags:
            out["flags"] = self.flags
        if self.error:
            out["error"] = self.error
        return out


def detect_format(path: Path, given: str | None = None) -> Format:
    if given:
        if given not in ("jsonl", "csv"):
            raise BatchError(f"unknown format {given!r}; use jsonl or csv")
        return given  # type: ignore[return-value]
    found = FORMATS.get(path.suffix.lower())
    if not found:
        raise BatchError(f"cannot tell the format of {path.name}: name it .jsonl (JSON Lines) or .csv, or pass --format jsonl|csv")
    return found


def _text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BatchError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise BatchError(f"{path} is not UTF-8 text (line {line}, byte {exc.start}); save it as UTF-8") from None


def csv_cells_to_report(header: list[str], cells: list[str]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """One CSV record as the JSON object of the contract, plus problems found on the way."""
    doc: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    if len(cells) > len(header):
        extra = [c for c in cells[len(header):] if c.strip()]
        if extra:
            problems.append(("(row)", f"{len(cells)} cells but the header names {len(header)} columns"))
    for i, (column, cell) in enumerate(zip(header, cells)):
        if cell.strip() == "":
            continue  # empty cell = absent
        if not column:
            problems.append((f"(column {i + 1})", "this column has no name in the header row"))
            continue
        value: Any = cell
        kind = KINDS.get(column)
        if kind == "array":
            value = [] if cell.strip() == "[]" else [item.strip() for item in cell.split(";") if item.strip()]
        elif kind == "integer" and _INT.match(cell.strip()):
            value = int(cell.strip())
        elif kind == "boolean" and cell.strip().lower() in _BOOLS:
            value = _BOOLS[cell.strip().lower()]
        target = doc
        *parents, leaf = column.split(".")
        for part in parents:
            nxt = target.setdefault(part, {})
            if not isinstance(nxt, dict):
                problems.append((column, f"{part!r} is given both as a column and as a group of dotted columns"))
                break
            target = nxt
        else:
            if isinstance(target.get(leaf), dict):
                problems.append((column, f"{leaf!r} is given both as a column and as a group of dotted columns"))
            else:
                target[leaf] = value
    return doc, problems


def read_rows(path: Path, fmt: Format) -> Iterator[RowInput]:
    """The rows of the file, each as a JSON document to validate (or the problems that stop it)."""
    text = _text(path)
    if fmt == "jsonl":
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            data = line.encode()
            if len(data) > MAX_ROW:
                yield RowInput(number, problems=[("(row)", f"{len(data)} bytes; a report may have at most {MAX_ROW} bytes (1 MiB)")])
            else:
                yield RowInput(number, data)
        return
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return
    except csv.Error as exc:
        raise BatchError(f"{path}: the header row is not valid CSV: {exc}") from None
    record = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise BatchError(f"{path}: row {record + 3} is not valid CSV: {exc}") from None
        record += 1
        if not any(c.strip() for c in cells):
            continue
        doc, problems = csv_cells_to_report(header, cells)
        yield RowInput(record + 1, None if problems else json.dumps(doc).encode(), problems)


def count_rows(path: Path, fmt: Format) -> int:
    return sum(1 for _ in read_rows(path, fmt))


def summarize(results: list[RowResult]) -> dict[str, int]:
    summary = {"filed": 0, "existing": 0, "invalid": 0, "not_filed": 0}
    for r in results:
        summary[r.status] += 1
    return summary


async def import_rows(
    rows: Iterator[RowInput],
    file_one: Callable[[IntakeReport], Awaitable[FiledCase]],
    concurrency: int = 8,
    on_result: Callable[[RowResult], None] | None = None,
) -> list[RowResult]:
    """Validate and file every row, ``concurrency`` at a time; results in row order.

    The first failure to reach Temporal stops the import: the rows not yet filed are
    reported ``not_filed``, and running the same import again files them (the rows that
    were filed show up as ``existing``).
    """
    results: list[RowResult] = []
    stopped: list[str] = []

    def done(result: RowResult) -> None:
        results.append(result)
        if on_result:
            on_result(result)

    async def one(item: RowInput) -> None:
        if item.document is None:
            done(RowResult(item.row, "invalid", problems=item.problems))
            return
        try:
            report = parse_for_filing(item.document)
        except InvalidReport as exc:
            done(RowResult(item.row, "invalid", problems=exc.problems))
            return
        if stopped:
            done(RowResult(item.row, "not_filed", report.breach_id, report.workflow_id, error=stopped[0]))
            return
        try:
            filed = await file_one(report)
        except Exception as exc:  # noqa: BLE001 - Temporal unreachable: stop filing; refusing this row: invalid
            message = str(exc) or type(exc).__name__
            if not temporal_unreachable(exc):
                done(RowResult(item.row, "invalid", report.breach_id, report.workflow_id, problems=[("(report)", f"Temporal refused to start this case: {message}")]))
                return
            stopped.append(message)
            done(RowResult(item.row, "not_filed", report.breach_id, report.workflow_id, error=message))
            return
        done(RowResult(item.row, "filed" if filed.created else "existing", filed.breach_id, filed.workflow_id, flags=filed.flags))

    async def worker() -> None:
        for item in rows:  # one shared iterator: each row is taken by exactly one worker
            await one(item)

    await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
    return sorted(results, key=lambda r: r.row)

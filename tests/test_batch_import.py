"""`breach import`: JSON Lines and CSV batches, one case per valid row, per-row results, a
summary, exit code 1 when some rows are invalid, and a repeat import that finds the cases."""

from __future__ import annotations

import csv
import json

import pytest

from models import search
from starter.intake.batch import csv_cells_to_report
from tests.support import REPORTS, free_port

TEMPLATE = json.loads((REPORTS / "recon-misdirected-email.json").read_text())


def row(external_id: str, **changes) -> dict:
    return {**TEMPLATE, "external_id": external_id, **changes}


CSV_COLUMNS = [
    "external_id", "source", "reported_by.name", "reported_by.email", "reported_by.organization", "reported_by.role",
    "system_id", "discovered_at", "reported_at", "contractor.name", "contractor.contract_number", "summary",
    "data_elements", "estimated_individuals", "media", "encrypted", "intent", "recipient", "hipaa_covered",
]


def csv_row(external_id: str, **cells: str) -> dict[str, str]:
    base = {
        "external_id": external_id, "source": "batch", "reported_by.name": "Dana Whitfield",
        "reported_by.email": "dana.whitfield@contractor.example.com", "reported_by.organization": "Outreach Support Services LLC",
        "reported_by.role": "contractor", "system_id": "RECON", "discovered_at": "2026-11-18T09:12:00-05:00",
        "reported_at": "2026-11-18T09:47:00-05:00", "contractor.name": "Outreach Support Services LLC",
        "contractor.contract_number": "75FCMC23C0042", "summary": "A RECON export, with a comma, and \"quotes\",\nover two lines.",
        "data_elements": "name;email;phone", "estimated_individuals": "812", "media": "email", "encrypted": "false",
        "intent": "unintentional", "recipient": "known_external", "hipaa_covered": "",
    }
    return {**base, **cells}


def write_csv(path, rows: list[dict[str, str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8-sig") as out:  # with a BOM, as spreadsheets save it
        writer = csv.DictWriter(out, CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def test_csv_column_mapping():
    header = ["external_id", "reported_by.name", "reported_by.role", "data_elements", "estimated_individuals", "encrypted", "hipaa_covered", "contractor.name", "roster_uri"]
    doc, problems = csv_cells_to_report(header, ["X-1", "Pat", "employee", "name; ssn ;", "12", "Yes", "0", "", "  "])
    assert problems == []
    assert doc == {"external_id": "X-1", "reported_by": {"name": "Pat", "role": "employee"}, "data_elements": ["name", "ssn"], "estimated_individuals": 12, "encrypted": True, "hipaa_covered": False}
    doc, _ = csv_cells_to_report(["data_elements", "estimated_individuals", "encrypted"], ["[]", "many", "perhaps"])
    assert doc == {"data_elements": [], "estimated_individuals": "many", "encrypted": "perhaps"}, "left for validation to name"


@pytest.mark.e2e
def test_jsonl_import_with_one_invalid_row(stack, tmp_path):
    bad = row("BATCH-JSONL-2", media="fax", estimated_individuals="many")
    del bad["summary"]
    lines = [json.dumps(row("BATCH-JSONL-1")), "", json.dumps(bad), json.dumps(row("BATCH-JSONL-3", source="batch"))]
    path = tmp_path / "reports.jsonl"
    path.write_text("\n".join(lines) + "\n")

    first = stack.run_cli("import", str(path), "--json", timeout=120)
    assert first.returncode == 1, first.stderr
    result = json.loads(first.stdout)
    assert result["summary"] == {"filed": 2, "existing": 0, "invalid": 1, "not_filed": 0}
    rows = {r["row"]: r for r in result["rows"]}
    assert sorted(rows) == [1, 3, 4], "row numbers are line numbers; blank lines are skipped"
    assert rows[1] == {"row": 1, "status": "filed", "breach_id": "contractor-BATCH-JSONL-1", "workflow_id": "breach-contractor-BATCH-JSONL-1"}
    assert rows[4]["breach_id"] == "batch-BATCH-JSONL-3"
    assert rows[3]["status"] == "invalid" and "breach_id" not in rows[3]
    assert {p["field"] for p in rows[3]["problems"]} == {"media", "estimated_individuals", "summary"}

    again = stack.run_cli("import", str(path), timeout=120)
    assert again.returncode == 1
    assert "row 1: existing contractor-BATCH-JSONL-1" in again.stdout
    assert "row 3: invalid: " in again.stdout and "media: " in again.stdout and "summary: Field required" in again.stdout
    assert "3 row(s): 0 filed, 2 existing, 1 invalid" in again.stdout
    assert "3/3" in again.stderr, "the progress bar"


@pytest.mark.e2e
async def test_csv_import_with_one_invalid_row(stack, client, tmp_path):
    path = tmp_path / "reports.csv"
    write_csv(path, [
        csv_row("BATCH-CSV-1"),
        csv_row("BATCH-CSV-2", estimated_individuals="many", **{"reported_by.role": "boss", "reported_by.email": ""}),
        csv_row("BATCH-CSV-3", **{"contractor.name": "", "contractor.contract_number": "", "data_elements": "[]", "hipaa_covered": "true", "encrypted": ""}),
    ])
    result = stack.run_cli("import", str(path), "--json", timeout=120)
    assert result.returncode == 1, result.stderr
    body = json.loads(result.stdout)
    assert body["format"] == "csv"
    assert body["summary"] == {"filed": 2, "existing": 0, "invalid": 1, "not_filed": 0}
    rows = {r["row"]: r for r in body["rows"]}
    assert sorted(rows) == [2, 3, 4], "spreadsheet rows: the header is row 1"
    assert {p["field"] for p in rows[3]["problems"]} == {"estimated_individuals", "reported_by.role", "reported_by.email"}
    assert rows[2]["breach_id"] == "batch-BATCH-CSV-1" and rows[4]["breach_id"] == "batch-BATCH-CSV-3"

    with_contractor = await client.get_workflow_handle("breach-batch-BATCH-CSV-1").describe()
    attrs = with_contractor.typed_search_attributes
    assert attrs.get(search.CONTRACTOR_INVOLVED) is True and attrs.get(search.AFFECTED_INDIVIDUALS) == 812
    without = (await client.get_workflow_handle("breach-batch-BATCH-CSV-3").describe()).typed_search_attributes
    assert without.get(search.CONTRACTOR_INVOLVED) is False and without.get(search.HIPAA_COVERED) is True


@pytest.mark.e2e
def test_clean_batch_exits_zero_and_file_problems_are_clear(stack, tmp_path):
    path = tmp_path / "clean.jsonl"
    path.write_text(json.dumps(row("BATCH-CLEAN-1")) + "\n" + json.dumps(row("BATCH-CLEAN-1")) + "\n")
    clean = stack.run_cli("import", str(path), timeout=120)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "2 row(s): 1 filed, 1 existing, 0 invalid" in clean.stdout, "a row repeated in the batch finds its case"

    other = tmp_path / "reports.xml"
    other.write_text("<reports/>")
    unknown = stack.run_cli("import", str(other))
    assert unknown.returncode == 2 and "--format jsonl|csv" in unknown.stderr and "Traceback" not in unknown.stderr
    latin = tmp_path / "latin.csv"
    latin.write_bytes("external_id,summary\nX,caf\xe9\n".encode("latin-1"))
    not_utf8 = stack.run_cli("import", str(latin))
    assert not_utf8.returncode == 2 and "not UTF-8" in not_utf8.stderr

    away = dict(stack.env, BREACH_TEMPORAL_ADDRESS=f"127.0.0.1:{free_port()}")
    import subprocess

    from tests.support import breach_cli

    down = subprocess.run([breach_cli(), "import", str(path)], env=away, capture_output=True, text=True, timeout=60, check=False)
    assert down.returncode == 3 and "cannot reach Temporal" in down.stderr and "Traceback" not in down.stderr


async def test_import_stops_filing_when_temporal_goes_away(tmp_path):
    from temporalio.service import RPCError, RPCStatusCode

    from starter.intake.batch import import_rows, read_rows, summarize
    from starter.intake.filing import FiledCase

    path = tmp_path / "reports.jsonl"
    path.write_text("\n".join(json.dumps(row(f"BATCH-AWAY-{i}")) for i in range(1, 6)) + "\n{}\n")
    calls = []

    async def file_one(report):
        calls.append(report.external_id)
        if len(calls) >= 3:
            raise RPCError("tcp connect error", RPCStatusCode.UNAVAILABLE, b"")
        return FiledCase(report.breach_id, report.workflow_id, True, "")

    results = await import_rows(read_rows(path, "jsonl"), file_one, concurrency=1)
    assert [r.status for r in results] == ["filed", "filed", "not_filed", "not_filed", "not_filed", "invalid"]
    assert len(calls) == 3, "no row is tried once Temporal is known to be away"
    assert summarize(results) == {"filed": 2, "existing": 0, "invalid": 1, "not_filed": 3}
    assert "tcp connect error" in results[2].error

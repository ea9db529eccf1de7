"""The notification export on a generated 10,000-row roster, checked against an independent
count made with the csv module: duplicates merged, minors to guardians, the deceased to
their estates, people without an address counted (substitute notice), residents per state,
languages, large print, e-mail only to .gov/.mil when approved; and rows with problems
reported, not fatal."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pytest

from activities.notify.batch import EXPORT_COLUMNS
from activities.notify.person import COLUMNS
from activities.notify.roster import RosterError
from models.notification import MEDIA_NOTICE_THRESHOLD
from tests.test_notify_common import Independent, exporter, make_roster, read_rows, request

ROWS = 10_000


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("notify-export")
    make_roster(ROWS, folder / "rosters" / "roster.csv")
    return folder


@pytest.fixture(scope="module")
def truth(base) -> Independent:
    return Independent.of(base / "rosters" / "roster.csv")


@pytest.fixture(scope="module")
def result(base):
    return exporter(base).run(request("roster.csv"))


@pytest.fixture(scope="module")
def export_rows(result) -> list[dict[str, str]]:
    return read_rows(Path(result.export.path))


@pytest.fixture(scope="module")
def no_address_rows(result) -> list[dict[str, str]]:
    return read_rows(Path(result.no_address_list.path))


def test_duplicates_are_merged(result, truth, export_rows, no_address_rows):
    assert truth.rows == ROWS and len(truth.persons) < ROWS  # the generator does make duplicates
    assert result.counts.rows_read == ROWS
    assert result.counts.recipients == len(truth.persons)
    assert result.counts.duplicates_merged == ROWS - len(truth.persons)
    keys = [r["recipient_key"] for r in export_rows + no_address_rows]
    assert len(keys) == len(set(keys)) == len(truth.persons)
    # The letter goes to the first record of each person.
    firsts = {p["record_id"] for p in truth.people}
    assert {r["record_id"] for r in export_rows + no_address_rows} == firsts


def test_minors_go_to_guardians_and_the_deceased_to_their_estates(result, truth, export_rows):
    minors = truth.count(lambda p: p["is_minor"] == "true" and p["deceased"] != "true")
    deceased = truth.count(lambda p: p["deceased"] == "true")
    assert minors > 0 and deceased > 0
    assert result.counts.by_variant == {"adult": len(truth.persons) - minors - deceased, "estate": deceased, "guardian": minors}
    people = {p["record_id"]: p for p in truth.people}
    for row in export_rows:
        person = people[row["record_id"]]
        if row["variant"] == "guardian":
            lines = [row["address_line_1"], row["address_line_2"]]
            assert f"Parent or guardian of {person['first_name']}" in lines
            if person["guardian_name"]:
                assert row["address_line_1"] == person["guardian_name"]
            assert person["last_name"] not in row["address_line_2"]  # the envelope names only the child's first name
        elif row["variant"] == "estate":
            assert row["address_line_1"] == f"To the estate or next of kin of {person['first_name']} {person['last_name']}"
        else:
            assert row["address_line_1"] == f"{person['first_name']} {person['last_name']}"
            assert row["address_line_2"] == person["address_line1"]


def test_missing_addresses_are_counted_and_trigger_substitute_notice(result, truth, export_rows, no_address_rows):
    missing = truth.count(lambda p: p["address_line1"] == "")
    assert missing >= 10
    assert result.counts.no_address == result.counts.unreachable == len(no_address_rows) == missing
    assert result.counts.exported == len(export_rows) == truth.with_address
    assert result.substitute_notice_required and "substitute notice is required" in result.substitute_notice_reason
    notice = Path(result.substitute_notice.path).read_text()
    assert "1-800-555-0100" in notice and "at least 90 days" in notice and "AVISO" in notice  # English and Spanish
    assert {r["reason"] for r in no_address_rows} == {"no address"}


def test_residents_per_state_and_media_notice(result, truth):
    assert result.counts.by_state == dict(sorted(truth.by_state().items()))
    assert result.media_notice_states == sorted(s for s, n in truth.by_state().items() if n > MEDIA_NOTICE_THRESHOLD)
    manifest = json.loads(Path(result.manifest.path).read_text())
    assert manifest["media_notice"]["states"] == {s: truth.by_state()[s] for s in result.media_notice_states}
    assert Path(result.media_notice.path).read_text().count("residents") == len(result.media_notice_states)


def test_languages_and_large_print(result, truth, export_rows):
    spanish = truth.count(lambda p: p["language"] == "es")
    others = {}
    for p in truth.people:
        if p["language"] not in ("en", "es"):
            others[p["language"]] = others.get(p["language"], 0) + 1
    assert result.counts.by_language == {"en": len(truth.persons) - spanish, "es": spanish}
    assert result.counts.untranslated_languages == dict(sorted(others.items()))
    assert result.counts.large_print == truth.count(lambda p: p["large_print"] == "true")
    for row in export_rows:
        assert row["language"] == ("es" if row["requested_language"] == "es" else "en")
        assert row["large_print"] in ("true", "false")


def test_the_export_holds_no_ssn_mbi_or_birth_date(result, truth, export_rows):
    assert list(export_rows[0]) == list(EXPORT_COLUMNS)
    assert not {"ssn", "mbi", "date_of_birth"} & set(EXPORT_COLUMNS)
    text = Path(result.export.path).read_text()
    assert not re.search(r"\b9\d\d-\d\d-\d{4}\b", text)  # the generator's SSNs
    dobs = {p["date_of_birth"] for p in truth.people}
    assert not any(d in text for d in list(dobs)[:500])
    assert {r["method"] for r in export_rows} == {"first_class_mail"}


def test_result_and_manifest_carry_no_personal_data(result, truth):
    payload = result.model_dump_json() + Path(result.manifest.path).read_text()
    sample = truth.people[:200]
    for p in sample:
        for column in ("ssn", "mbi", "date_of_birth", "address_line1", "email", "phone"):
            if p[column]:
                assert p[column] not in payload
    assert result.roster_sha256 in payload and result.export.sha256 in payload


def same_round_elsewhere(base: Path, name: str) -> Path:
    """A new base folder with the same roster and person key, so a second run must write the same files."""
    other = base / name
    (other / "work" / "cms-BR-TEST-1").mkdir(parents=True)
    (other / "rosters").mkdir()
    shutil.copy(base / "rosters" / "roster.csv", other / "rosters" / "roster.csv")
    shutil.copy(base / "work" / "cms-BR-TEST-1" / "person-key", other / "work" / "cms-BR-TEST-1" / "person-key")
    return other


def test_the_per_row_path_gives_the_same_files(base, result):
    """The column-wise fast path only accepts rows the per-row rules treat the same way."""
    slow_base = same_round_elsewhere(base, "slow")
    slow = exporter(slow_base, fast=False).run(request("roster.csv"))
    assert slow.export.sha256 == result.export.sha256
    assert slow.no_address_list.sha256 == result.no_address_list.sha256
    assert slow.counts == result.counts


def test_email_only_to_official_addresses_when_approved(base, truth):
    approved = exporter(base).run(request("roster.csv", out="out-email", breach="cms-BR-TEST-EMAIL", email_allowed=True))
    rows = read_rows(Path(approved.export.path))
    emailed = [r for r in rows if r["method"] == "email"]
    official = truth.count(lambda p: p["email"].endswith((".gov", ".mil")))
    assert official > 0 and len(emailed) == official == approved.counts.by_method["email"]
    assert all(r["email"].endswith((".gov", ".mil")) for r in emailed)
    assert all(r["email"] == "" for r in rows if r["method"] == "first_class_mail")


# ------------------------------------------------------------------ row problems and bad rosters


def test_row_problems_go_to_the_error_report(tmp_path):
    make_roster(300, tmp_path / "rosters" / "clean.csv")
    with open(tmp_path / "rosters" / "clean.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    header, data = rows[0], rows[1:]
    col = {name: header.index(name) for name in header}
    data[9][col["first_name"]] = ""  # row 10
    data[19][col["date_of_birth"]] = "1950-02-30"  # row 20
    data[29][col["state"]] = "ZZ"  # row 30
    data[39] = data[39][:5]  # row 40: too few fields
    data[49][col["ssn"]] = ""
    data[49][col["mbi"]] = ""  # row 50
    data[59][col["is_minor"]] = "maybe"  # row 60
    data[69][col["first_name"]] = "  Ana  "  # row 70: spaces are trimmed, not an error
    with open(tmp_path / "rosters" / "roster.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([header, *data[:80], [], *data[80:]])  # and a blank line
    result = exporter(tmp_path).run(request("roster.csv"))
    errors = read_rows(Path(result.error_report.path))
    assert [(e["row"], e["problem"]) for e in errors] == [
        ("10", "missing first_name"),
        ("20", "date_of_birth is not a valid past date (YYYY-MM-DD)"),
        ("30", "state is not a USPS state or territory code"),
        ("40", f"wrong number of fields (5, the header has {len(COLUMNS)})"),
        ("50", "neither ssn nor mbi is given"),
        ("60", "is_minor is not true or false"),
    ]
    assert [e["record_id"] for e in errors] == [data[i][0] for i in (9, 19, 29, 39, 49, 59)]
    report = Path(result.error_report.path).read_text()
    for i in (9, 19, 29, 49, 59):  # no personal data beyond the record id
        assert data[i][col["last_name"]] not in report and data[i][col["address_line1"]] not in report
    assert result.counts.errors == 6 and result.counts.rows_read == 300
    ana = next(r for r in read_rows(Path(result.export.path)) + read_rows(Path(result.no_address_list.path))
               if r["record_id"] == data[69][0])
    assert ("address_line_1" not in ana) or ana["address_line_1"].startswith("Ana ")


def test_a_wrong_header_names_the_missing_columns(tmp_path):
    make_roster(20, tmp_path / "rosters" / "clean.csv")
    text = (tmp_path / "rosters" / "clean.csv").read_text().replace("date_of_birth", "dob", 1).replace("state", "province", 1)
    (tmp_path / "rosters" / "roster.csv").write_text(text)
    with pytest.raises(RosterError, match=r"lacks the column\(s\) date_of_birth, state; the header must name record_id"):
        exporter(tmp_path).run(request("roster.csv"))
    (tmp_path / "rosters" / "empty.csv").write_text("")
    with pytest.raises(RosterError, match="empty: no header row"):
        exporter(tmp_path).run(request("empty.csv", out="o2"))


def test_columns_in_another_order_are_read_by_name(tmp_path):
    make_roster(500, tmp_path / "rosters" / "clean.csv")
    with open(tmp_path / "rosters" / "clean.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    order = list(reversed(range(len(rows[0]))))
    with open(tmp_path / "rosters" / "reordered.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([[r[i] for i in order] + ["extra"] for r in rows])
    for breach in ("A", "B"):
        (tmp_path / "work" / breach).mkdir(parents=True)
        (tmp_path / "work" / breach / "person-key").write_bytes(b"k" * 32)
    one = exporter(tmp_path).run(request("clean.csv", out="a", breach="A"))
    two = exporter(tmp_path).run(request("reordered.csv", out="b", breach="B"))
    # Same people, same keys (the breach id is part of the key, so compare the key-free columns too).
    assert [r["record_id"] for r in read_rows(Path(one.export.path))] == [r["record_id"] for r in read_rows(Path(two.export.path))]
    assert one.counts == two.counts


def test_roster_references_are_resolved_under_the_rosters_folder(tmp_path):
    make_roster(50, tmp_path / "rosters" / "roster.csv")
    ok = exporter(tmp_path).run(request(f"file://{tmp_path / 'rosters' / 'roster.csv'}", out="a", breach="A"))
    assert ok.counts.rows_read == 50
    with pytest.raises(RosterError, match="resolves outside the folder"):
        exporter(tmp_path).run(request("../elsewhere.csv", out="b", breach="B"))
    with pytest.raises(RosterError, match="unsupported scheme"):
        exporter(tmp_path).run(request("s3://bucket/roster.csv", out="c", breach="C"))
    with pytest.raises(RosterError, match="does not exist"):
        exporter(tmp_path).run(request("file:missing.csv", out="d", breach="D"))
    with pytest.raises(RosterError, match=f"not the expected {'0' * 64}"):
        exporter(tmp_path).run(request("roster.csv", out="e", breach="E", roster_sha256="0" * 64))
    good = exporter(tmp_path).run(request("roster.csv", out="f", breach="F", roster_sha256=ok.roster_sha256))
    assert good.roster_sha256 == ok.roster_sha256


def test_a_reader_process_gives_the_same_files(base, result):
    """Large rosters are prepared by a reader process; the files are the same as in process."""
    piped_base = same_round_elsewhere(base, "piped")
    piped = exporter(piped_base, pipeline_min_bytes=0).run(request("roster.csv"))
    assert piped.export.sha256 == result.export.sha256
    assert piped.no_address_list.sha256 == result.no_address_list.sha256
    assert piped.error_report.sha256 == result.error_report.sha256
    assert piped.counts == result.counts


def test_a_round_held_by_another_attempt_is_busy(tmp_path):
    from activities.notify.files import RoundLayout, RoundLock
    from activities.notify.round_errors import RoundBusy

    make_roster(50, tmp_path / "rosters" / "roster.csv")
    layout = RoundLayout.of(tmp_path / "work", tmp_path / "out", "cms-BR-TEST-1", 1)
    with RoundLock(layout.lock):
        with pytest.raises(RoundBusy, match="being worked on by another process"):
            exporter(tmp_path).run(request("roster.csv"))
    assert exporter(tmp_path).run(request("roster.csv")).counts.rows_read == 50


def test_a_roster_uri_resolves_only_under_the_rosters_folder(tmp_path):
    """Issue 14, item 10: a report's roster_uri names a file in ``<notify_dir>/rosters`` and
    nothing else: not the work folder (the person key behind every recipient key), not
    another case's outputs, not a hidden folder, whether by ``..``, an absolute path or a
    symlink that leads out."""
    from activities.notify.export import Exporter
    from activities.notify.letters import Letters

    rosters = tmp_path / "rosters"
    make_roster(50, rosters / "roster.csv")
    run = Exporter(Letters(), tmp_path, tmp_path / ".notify-work").run  # the work folder where the worker keeps it
    first = run(request("file:roster.csv", out="A", breach="A"))
    assert first.counts.rows_read == 50 and Path(first.export.path).is_relative_to(tmp_path / "A")
    assert run(request(f"file://{rosters / 'roster.csv'}", out="B", breach="B")).counts.rows_read == 50
    secret = tmp_path / ".notify-work" / "A" / "person-key"
    assert secret.is_file()
    (rosters / "key.csv").symlink_to(secret)
    (rosters / "their-export.csv").symlink_to(Path(first.export.path))
    (rosters / ".hidden").mkdir()
    shutil.copy(rosters / "roster.csv", rosters / ".hidden" / "roster.csv")
    outside = {
        "file:.notify-work/A/person-key": "hidden",
        "file:../.notify-work/A/person-key": "outside",
        f"file://{secret}": "outside",
        str(secret): "outside",
        f"file://{first.export.path}": "outside",
        "file:../A/round-1/mailhouse.csv": "outside",
        "file:sub/../../roster.csv": "outside",
        "file:key.csv": "outside",
        "file:their-export.csv": "outside",
        "file:.hidden/roster.csv": "hidden",
    }
    for n, (uri, why) in enumerate(outside.items()):
        with pytest.raises(RosterError, match=f"{why}.*rosters are read only from {re.escape(str(rosters))}") as refused:
            run(request(uri, out=f"X{n}", breach=f"X{n}"))
        assert secret.read_bytes().hex() not in str(refused.value)

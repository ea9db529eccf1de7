"""Exactly once across rounds and attempts: a follow-up round reaches the same people once
each without repeating round 1, a finished round is not redone, an interrupted round
resumes from its last checkpoint (the partial file cut back to it); returned mail and
on-demand letters work from a finished round; and the two CLI commands."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from activities.notify.activities import NotifyActivities
from activities.notify.letters import LetterError, Letters
from activities.notify.lookup import find_round, letter_for_record
from activities.notify.returned import ReturnedFileError, process_returned
from activities.notify.roster import RosterError
from activities.notify.round_errors import ExportError, RequestConflict
from activities.notify.round_files import EXPORT
from activities.notify.workdb import read_progress
from models.mailing import LetterKind
from starter.cli.notify import letter, returned_mail
from tests.test_notify_common import FACTS, Independent, exporter, make_roster, read_rows, request


class Crash(Exception):
    """Stands in for a worker that dies right after a checkpoint."""


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("notify-rounds")
    make_roster(6_000, folder / "rosters" / "roster.csv")
    return folder


@pytest.fixture(scope="module")
def round1(base):
    return exporter(base).run(request("roster.csv", checkpoint_every=1000))


@pytest.fixture(scope="module")
def round2(base, round1):
    return exporter(base).run(request("roster.csv", round_=2, checkpoint_every=1000))


def _keys(result) -> list[str]:
    return [r["recipient_key"] for r in read_rows(Path(result.export.path)) + read_rows(Path(result.no_address_list.path))]


def test_follow_up_goes_to_the_same_people_once_without_repeating_round_1(base, round1, round2):
    truth = Independent.of(base / "rosters" / "roster.csv")
    one, two = _keys(round1), _keys(round2)
    assert len(one) == len(set(one)) == len(truth.persons)
    assert len(two) == len(set(two)) == len(truth.persons)  # each person gets one follow-up
    assert not set(one) & set(two)  # round 2 is a new letter, not round 1 again
    assert round2.letter is LetterKind.follow_up and round2.counts.not_in_previous_round == 0
    rows = read_rows(Path(round2.export.path))
    assert {r["letter"] for r in rows} == {"follow_up"} and {r["round"] for r in rows} == {"2"}
    # Same population: the same first records, routed the same way.
    first = {r["record_id"]: r["variant"] for r in read_rows(Path(round1.export.path))}
    assert {r["record_id"]: r["variant"] for r in rows} == first


def test_rerunning_a_finished_round_adds_nothing(base, round1, round2):
    before = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in (base / "out").rglob("*") if p.is_file()}
    again1 = exporter(base).run(request("roster.csv", checkpoint_every=1000))
    again2 = exporter(base).run(request("roster.csv", round_=2, checkpoint_every=3000))  # the interval does not matter
    assert again1.already_done and again2.already_done
    assert again1.model_copy(update={"already_done": False}) == round1
    assert again2.export == round2.export
    after = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in (base / "out").rglob("*") if p.is_file()}
    assert after == before


def test_a_changed_request_for_a_started_round_is_refused(base, round1):
    changed = FACTS.model_copy(update={"what_happened": "Something else happened."})
    with pytest.raises(RequestConflict, match="a changed notification is a new round"):
        exporter(base).run(request("roster.csv").model_copy(update={"facts": changed}))


def test_a_follow_up_needs_a_finished_previous_round(tmp_path):
    make_roster(100, tmp_path / "rosters" / "roster.csv")
    with pytest.raises(ExportError, match="round 2 is a follow-up to round 1, which was never run"):
        exporter(tmp_path).run(request("roster.csv", round_=2))


def test_an_interrupted_round_resumes_from_its_checkpoint_exactly_once(tmp_path):
    make_roster(12_000, tmp_path / "rosters" / "roster.csv")
    truth = Independent.of(tmp_path / "rosters" / "roster.csv")
    seen: list[int] = []

    def crash_after_five(cursor: int) -> None:
        seen.append(cursor)
        if len(seen) == 5:
            raise Crash

    with pytest.raises(Crash):
        exporter(tmp_path).run(request("roster.csv", checkpoint_every=1000), heartbeat=crash_after_five)
    state = read_progress(tmp_path / "work" / "cms-BR-TEST-1" / "round-1" / "work.sqlite")
    assert state.cursor == 5000 == seen[-1]
    # The worker died after writing more than its last checkpoint recorded: a half-written line.
    partial = tmp_path / "out" / "round-1" / f"{EXPORT}.partial"
    assert partial.stat().st_size == state.offsets[EXPORT]
    with open(partial, "ab") as fh:
        fh.write(b"deadbeef,R999,1,initial,adult,en,en,fal")
    result = exporter(tmp_path).run(request("roster.csv", checkpoint_every=1000))
    assert result.resumed_from_row == 5000
    export, missing = read_rows(Path(result.export.path)), read_rows(Path(result.no_address_list.path))
    keys = [r["recipient_key"] for r in export + missing]
    assert len(keys) == len(set(keys)) == len(truth.persons)
    assert len(export) == truth.with_address and "deadbeef" not in Path(result.export.path).read_text()
    assert result.counts.recipients == len(truth.persons) and result.counts.rows_read == 12_000
    # The same roster done in one go gives the same file.
    (tmp_path / "b" / "work" / "cms-BR-TEST-1").mkdir(parents=True)
    shutil.copy(tmp_path / "work" / "cms-BR-TEST-1" / "person-key", tmp_path / "b" / "work" / "cms-BR-TEST-1" / "person-key")
    (tmp_path / "b" / "rosters").mkdir()
    shutil.copy(tmp_path / "rosters" / "roster.csv", tmp_path / "b" / "rosters" / "roster.csv")
    whole = exporter(tmp_path / "b").run(request("roster.csv", checkpoint_every=1000))
    assert whole.export.sha256 == result.export.sha256 and whole.counts == result.counts


def test_a_roster_changed_between_attempts_is_refused(tmp_path):
    make_roster(3000, tmp_path / "rosters" / "roster.csv")

    def crash(cursor: int) -> None:
        raise Crash

    with pytest.raises(Crash):
        exporter(tmp_path).run(request("roster.csv", checkpoint_every=1000), heartbeat=crash)
    with open(tmp_path / "rosters" / "roster.csv", "a") as fh:
        fh.write("R9,Zed,Doe,1960-01-01,900-11-2222,,1 Main St,,Austin,TX,78701,,,en,false,false,,false\n")
    with pytest.raises(RosterError, match="changed since round 1 started"):
        exporter(tmp_path).run(request("roster.csv", checkpoint_every=1000))


# ------------------------------------------------------------------ on-demand letters


def test_a_letter_on_demand_for_any_record(base, round1):
    found = find_round(base / "out", 1)
    letters = Letters()
    people = {r["record_id"]: r for r in read_rows(base / "rosters" / "roster.csv")}
    guardian = next(r for r in read_rows(Path(round1.export.path)) if r["variant"] == "guardian")
    child = people[guardian["record_id"]]
    result = letter_for_record(letters, found, guardian["record_id"])
    assert result.recipient_key == guardian["recipient_key"] and result.sent_under_record == guardian["record_id"]
    assert f"Dear Parent or Guardian of {child['first_name']}:" in result.text
    assert f"Reference number: {guardian['recipient_key']}" in result.text
    # A second record of a merged person gets the letter that was sent under the first.
    with open(base / "rosters" / "roster.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    seen: dict[tuple, str] = {}
    for r in rows:
        key = (r["first_name"], r["last_name"], r["date_of_birth"], r["ssn"])
        if key in seen:
            duplicate, original = r["record_id"], seen[key]
            break
        seen[key] = r["record_id"]
    merged = letter_for_record(letters, found, duplicate)
    assert merged.sent_under_record == original
    with pytest.raises(LetterError, match="is not in the roster of round 1"):
        letter_for_record(letters, found, "R-NOBODY")


def test_cli_letter_prints_text_or_writes_a_pdf(base, round1, tmp_path):
    app = typer.Typer()
    app.command()(letter)
    runner = CliRunner()
    record = read_rows(Path(round1.export.path))[0]["record_id"]
    shown = runner.invoke(app, [str(base / "out"), record, "--round", "1"])
    assert shown.exit_code == 0, shown.output
    assert "## What happened" in shown.stdout and "Reference number: " in shown.stdout
    pdf = tmp_path / "letter.pdf"
    written = runner.invoke(app, [str(base / "out" / "round-1"), record, "--pdf", str(pdf)])
    assert written.exit_code == 0, written.output
    assert pdf.read_bytes().startswith(b"%PDF-")
    missing = runner.invoke(app, [str(tmp_path), record])
    assert missing.exit_code == 2 and "holds no manifest.json" in missing.output


# ------------------------------------------------------------------ returned mail


def _returned(path: Path, header: str, values: list[str]) -> Path:
    path.write_text("\n".join([f"{header},postal_reason", *(f"{v},insufficient address" for v in values)]) + "\n")
    return path


def test_returned_mail_gets_secondary_notice(base, round1, tmp_path):
    rows = read_rows(Path(round1.export.path))
    keys = [r["recipient_key"] for r in rows[:12]]
    returned = _returned(tmp_path / "returned.csv", "recipient_key", [*keys, keys[0], "ffff0000ffff0000ffff0000ffff0000"])
    found = find_round(base / "out", 1)
    result = process_returned(Letters(), found, returned)
    assert (result.returned_rows, result.matched, result.repeated, result.unknown) == (14, 12, 1, 1)
    assert result.substitute_notice_required
    notice = Path(result.substitute_notice.path).read_text()
    assert "1-800-555-0100" in notice and "90 days" in notice
    addendum = read_rows(Path(result.addendum.path))
    assert sorted(r["recipient_key"] for r in addendum) == sorted(keys)
    roster = {r["record_id"]: r for r in read_rows(base / "rosters" / "roster.csv")}
    assert all(r["phone"] == roster[r["record_id"]]["phone"] for r in addendum)
    assert sum(result.by_state.values()) == 12
    assert read_rows(Path(result.unmatched.path))[0]["identifier"] == "ffff0000ffff0000ffff0000ffff0000"
    again = process_returned(Letters(), found, returned)
    assert again.already_done and again.addendum == result.addendum


def test_few_returned_letters_are_listed_for_other_means(base, round1, tmp_path):
    rows = read_rows(Path(round1.export.path))
    returned = _returned(tmp_path / "few.csv", "record_id", [r["record_id"] for r in rows[20:23]])
    result = process_returned(Letters(), find_round(base / "out", 1), returned)
    assert result.matched == 3 and not result.substitute_notice_required and result.substitute_notice is None
    (tmp_path / "bad.csv").write_text("name,reason\nx,y\n")
    with pytest.raises(ReturnedFileError, match="neither a recipient_key nor a record_id column"):
        process_returned(Letters(), find_round(base / "out", 1), tmp_path / "bad.csv")


def test_returned_mail_activity_and_cli(base, round1, tmp_path):
    rows = read_rows(Path(round1.export.path))
    _returned(base / "returned-activity.csv", "recipient_key", [r["recipient_key"] for r in rows[40:45]])
    from models.notification import ReturnedMailRequest

    result = NotifyActivities(base, base / "work").returned_mail(
        ReturnedMailRequest(breach_id="cms-BR-TEST-1", round=1, out_folder="out", returned_uri="returned-activity.csv"))
    assert result.matched == 5
    app = typer.Typer()
    app.command()(returned_mail)
    cli = CliRunner().invoke(app, [str(base / "out" / "round-1"), str(_returned(tmp_path / "r.csv", "record_id", [rows[50]["record_id"]]))])
    assert cli.exit_code == 0, cli.output
    assert "recipients matched: 1" in cli.output and "fewer than 10 returned" in cli.output

"""The notify activities as Temporal runs them (``ActivityEnvironment``): results are
references and counts, heartbeats carry only the cursor, and problems a retry cannot fix
are non-retryable errors whose type names the problem."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.notify.activities import NotifyActivities
from activities.notify.letters import TEMPLATE_DIR
from models.notification import PrepareRequest
from tests.support import REPO
from tests.test_notify_common import FACTS, make_roster, request


LETTERHEAD = REPO / "worker" / "defaults" / "letterhead.toml"


def prepare_request(**changes) -> PrepareRequest:
    """The facts a case supplies for its letters (the sample's dates, data types and guidance)."""
    base = dict(
        breach_id="cms-BR-1", out_folder="case", languages=["en", "es", "ko"], breach_from=FACTS.breach_from, breach_to=FACTS.breach_to,
        discovered_on=FACTS.discovered_on, what_happened=FACTS.what_happened, data_elements=["name", "ssn", "medicare_id", "ssn"],
        encrypted=False, guidance=FACTS.guidance, services=FACTS.services,
    )
    return PrepareRequest(**{**base, **changes})


def test_prepare_builds_the_facts_checks_the_templates_and_writes_the_preview(tmp_path):
    notify = NotifyActivities(tmp_path, letterhead=LETTERHEAD)
    prepared = ActivityEnvironment().run(notify.prepare, prepare_request())
    facts = prepared.facts
    assert facts.pii_types == ["Full name", "Social Security number", "Medicare number"]  # labelled, duplicates dropped
    assert facts.protection.startswith("The information was not encrypted")
    assert facts.contact.toll_free == "1-800-633-4227" and facts.notifying_official == "The CMS Notifying Official"
    assert (prepared.check.languages, prepared.check.untranslated) == (["en"], ["es", "ko"])  # the case's facts are in English only
    pdf = Path(prepared.preview.pdf.path)
    assert pdf == (tmp_path / "case" / "round-1" / "preview.pdf").resolve()
    assert hashlib.sha256(pdf.read_bytes()).hexdigest() == prepared.preview.pdf.sha256
    assert prepared.preview.letters >= 4 and prepared.preview.pages >= prepared.preview.letters
    named = ActivityEnvironment().run(notify.prepare, prepare_request(notifying_official="Jordan Example", guidance=[]))
    assert named.facts.notifying_official == "Jordan Example"
    assert named.facts.guidance[0].title == "Review your statements"  # the letterhead's default guidance


def test_prepare_refuses_a_template_missing_an_element_a_bad_letterhead_and_a_path_outside(tmp_path):
    broken = tmp_path / "templates"
    shutil.copytree(TEMPLATE_DIR, broken)
    letter = broken / "en" / "letter.txt.j2"
    letter.write_text(letter.read_text().replace("{% block what_we_are_doing %}", "{% block not_it %}"))
    with pytest.raises(ApplicationError) as refused:
        ActivityEnvironment().run(NotifyActivities(tmp_path, template_dir=broken, letterhead=LETTERHEAD).prepare, prepare_request())
    assert refused.value.type == "TemplateRefused" and refused.value.non_retryable
    assert "element 6 (what_we_are_doing:" in refused.value.message
    bad = tmp_path / "letterhead.toml"
    bad.write_text(LETTERHEAD.read_text().replace('toll_free = "1-800-633-4227"', 'toll_free = "410-555-0100"'))
    with pytest.raises(ApplicationError) as refused:
        ActivityEnvironment().run(NotifyActivities(tmp_path, letterhead=bad).prepare, prepare_request())
    assert refused.value.type == "LetterheadError" and "contact.toll_free" in refused.value.message
    with pytest.raises(ApplicationError) as refused:
        ActivityEnvironment().run(NotifyActivities(tmp_path, letterhead=LETTERHEAD).prepare, prepare_request(out_folder="../elsewhere"))
    assert refused.value.type == "PathRefused" and refused.value.non_retryable


def test_export_round_heartbeats_the_cursor_and_returns_no_rows(tmp_path):
    make_roster(3000, tmp_path / "rosters" / "roster.csv")
    env = ActivityEnvironment()
    beats: list = []
    env.on_heartbeat = lambda *details: beats.append(details)
    result = env.run(NotifyActivities(tmp_path).export_round, request("roster.csv", checkpoint_every=1000))
    assert beats == [(1000,), (2000,), (3000,)]
    assert result.counts.rows_read == 3000 and Path(result.export.path).is_file()
    assert (tmp_path / ".notify-work" / "cms-BR-TEST-1" / "round-1" / "work.sqlite").is_file()
    (tmp_path / "rosters" / "bad.csv").write_text("record_id,name\nR1,x\n")
    with pytest.raises(ApplicationError) as refused:
        ActivityEnvironment().run(NotifyActivities(tmp_path).export_round, request("bad.csv", breach="other"))
    assert refused.value.type == "RosterError" and refused.value.non_retryable
    assert "lacks the column(s) first_name, last_name" in refused.value.message

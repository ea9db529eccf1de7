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
from models.notification import PreviewRequest, TemplateCheckRequest
from tests.test_notify_common import FACTS, make_roster, request


def test_check_templates(tmp_path):
    check = ActivityEnvironment().run(NotifyActivities(tmp_path).check_templates, TemplateCheckRequest(facts=FACTS, languages=["en", "es", "ko"]))
    assert (check.languages, check.untranslated) == (["en", "es"], ["ko"])
    broken = tmp_path / "templates"
    shutil.copytree(TEMPLATE_DIR, broken)
    letter = broken / "en" / "letter.txt.j2"
    letter.write_text(letter.read_text().replace("{% block what_we_are_doing %}", "{% block not_it %}"))
    with pytest.raises(ApplicationError) as refused:
        ActivityEnvironment().run(NotifyActivities(tmp_path, template_dir=broken).check_templates, TemplateCheckRequest(facts=FACTS))
    assert refused.value.type == "TemplateRefused" and refused.value.non_retryable
    assert "element 6 (what_we_are_doing:" in refused.value.message


def test_preview_writes_a_pdf_and_returns_its_checksum(tmp_path):
    result = ActivityEnvironment().run(NotifyActivities(tmp_path).preview,
                                       PreviewRequest(breach_id="cms-BR-1", facts=FACTS, languages=["en", "es"], out_folder="case"))
    pdf = Path(result.pdf.path)
    assert pdf == (tmp_path / "case" / "round-1" / "preview.pdf").resolve()
    assert hashlib.sha256(pdf.read_bytes()).hexdigest() == result.pdf.sha256
    assert result.letters == 8 and result.pages >= 8
    with pytest.raises(ApplicationError) as refused:
        ActivityEnvironment().run(NotifyActivities(tmp_path).preview,
                                  PreviewRequest(breach_id="cms-BR-1", facts=FACTS, out_folder="../elsewhere"))
    assert refused.value.type == "PathRefused" and refused.value.non_retryable


def test_export_round_heartbeats_the_cursor_and_returns_no_rows(tmp_path):
    make_roster(3000, tmp_path / "roster.csv")
    env = ActivityEnvironment()
    beats: list = []
    env.on_heartbeat = lambda *details: beats.append(details)
    result = env.run(NotifyActivities(tmp_path).export_round, request("roster.csv", checkpoint_every=1000))
    assert beats == [(1000,), (2000,), (3000,)]
    assert result.counts.rows_read == 3000 and Path(result.export.path).is_file()
    assert (tmp_path / ".notify-work" / "cms-BR-TEST-1" / "round-1" / "work.sqlite").is_file()
    (tmp_path / "bad.csv").write_text("record_id,name\nR1,x\n")
    with pytest.raises(ApplicationError) as refused:
        ActivityEnvironment().run(NotifyActivities(tmp_path).export_round, request("bad.csv", breach="other"))
    assert refused.value.type == "RosterError" and refused.value.non_retryable
    assert "lacks the column(s) first_name, last_name" in refused.value.message

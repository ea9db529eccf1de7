"""Policy as data: versioned files, digests, refusals of incoherent policies, and stored
assessments that no later policy version can change."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

import activities.risk.policy as policy_module
from activities.risk import PolicyError, assess, available_versions, load_policy, render_markdown
from activities.risk.policy import POLICIES_DIR, parse_policy
from models.intake import IntakeReport
from models.risk import MisuseEvidence, Rating, RiskAnswers, RiskAssessment, facts_from_report

V1 = POLICIES_DIR / "v1.toml"
REPORTS = Path(__file__).parents[2] / "shared" / "fixtures" / "reports"
WHEN = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


def qecp():
    report = IntakeReport.model_validate_json((REPORTS / "qecp-public-pdfs.json").read_text())
    answers = RiskAnswers(populations=[], sensitive_context=False, misuse_evidence=MisuseEvidence.none_found)
    return facts_from_report(report), answers


def write_v2(folder: Path, *replacements: tuple[str, str]) -> Path:
    text = V1.read_text().replace("version = 1", "version = 2", 1)
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    path = folder / "v2.toml"
    path.write_text(text)
    return path


def test_default_is_the_newest_shipped_version_and_records_its_digest():
    newest = load_policy()
    assert newest.version == available_versions()[-1]
    v1 = load_policy(1)
    assert v1.version == 1 and load_policy("v1") == v1 and load_policy("1") == v1
    assert v1.sha256 == hashlib.sha256(V1.read_bytes()).hexdigest()
    assert v1.notify_at == Rating.moderate and v1.major_incident_individuals == 100_000


def test_unknown_version_is_a_clear_error(tmp_path):
    with pytest.raises(PolicyError, match="version 9 not found"):
        load_policy(9)
    with pytest.raises(PolicyError, match="must be a number"):
        load_policy("latest")
    with pytest.raises(PolicyError, match="no policy files"):
        load_policy(policies_dir=tmp_path)


def test_new_version_never_changes_a_stored_assessment(tmp_path, monkeypatch):
    shutil.copy(V1, tmp_path / "v1.toml")
    facts, answers = qecp()
    stored = assess(facts, answers, load_policy(policies_dir=tmp_path), assessed_by="BRT", assessed_at=WHEN)
    assert stored.policy_version == 1
    saved = stored.model_dump_json()
    document = render_markdown(stored)

    # The agency publishes v2: notify only from high, and likelihood bands moved.
    write_v2(tmp_path, ('notify_at = "moderate"', 'notify_at = "high"'), ("high_at = 16", "high_at = 20"))
    v2 = load_policy(policies_dir=tmp_path)
    assert v2.version == 2 and v2.sha256 != stored.policy_sha256
    fresh = assess(facts, answers, v2, assessed_by="BRT", assessed_at=WHEN)
    assert (fresh.level, fresh.notify) != (stored.level, stored.notify)  # v2 really decides differently

    # Re-rendering the stored record reads no policy at all, so it cannot change.
    def no_policy(*args, **kwargs):
        raise AssertionError("rendering a stored assessment must not read a policy")

    monkeypatch.setattr(policy_module, "load_policy", no_policy)
    monkeypatch.setattr(policy_module, "parse_policy", no_policy)
    reloaded = RiskAssessment.model_validate_json(saved)
    assert reloaded == stored
    assert render_markdown(reloaded) == document
    assert (reloaded.level, reloaded.notify, reloaded.policy_version) == (Rating.moderate, True, 1)
    monkeypatch.undo()
    # v1 stays loadable, byte for byte the policy the stored assessment names.
    assert load_policy(1, policies_dir=tmp_path).sha256 == reloaded.policy_sha256
    again = assess(facts, answers, load_policy(1, policies_dir=tmp_path), assessed_by="BRT", assessed_at=WHEN)
    assert again.model_dump_json() == saved


@pytest.mark.parametrize(("old", "new", "message"), [
    ('high     = { low = "moderate", moderate = "high",     high = "high" }',
     'high     = { low = "moderate", moderate = "low",      high = "high" }', "matrix is not monotone"),
    ("weights = { data_elements = 3,", "weights = { data_elements = -1,", "greater than or equal to 0"),
    ("vulnerable_populations = 2, permanence = 1 }", "vulnerable_populations = 2 }",
     "factors without a weight: ['permanence']"),
    ('unintentional = "low", unknown = "high" }', 'unintentional = "moderate", unknown = "low" }',
     "must not rate below unintentional"),
    ("moderate_at = 5 ", "moderate_at = 15 ", "high_at must not be below moderate_at"),
    ("low = 0\nmoderate = 1\nhigh = 2", "low = 2\nmoderate = 1\nhigh = 0", "points must not decrease"),
    ('website            = { sensitivity = "low",      private = "low",      permanence = "low" }\n', "",
     "elements has no entry for ['website']"),
    ('always = true', 'always = false', "has no condition"),
    ('id = "fraud_alert"', 'id = "credit_freeze"', "duplicate rule ids"),
])
def test_incoherent_policies_are_refused(tmp_path, old, new, message):
    write_v2(tmp_path, (old, new))
    with pytest.raises(PolicyError) as refused:
        load_policy(2, policies_dir=tmp_path)
    assert message in str(refused.value)
    assert "v2.toml" in str(refused.value)


def test_file_name_and_version_must_agree(tmp_path):
    (tmp_path / "v3.toml").write_text(V1.read_text())
    with pytest.raises(PolicyError, match="file says version = 1, its name says 3"):
        load_policy(3, policies_dir=tmp_path)


def test_bad_toml_and_smuggled_digest_are_refused():
    with pytest.raises(PolicyError, match="not valid TOML"):
        parse_policy(b"version = = 1")
    with pytest.raises(PolicyError, match="sha256 is computed by the loader"):
        parse_policy(b'sha256 = "abc"\n' + V1.read_bytes())


def test_unknown_keys_are_refused(tmp_path):
    write_v2(tmp_path, ('notify_at = "moderate"', 'notify_at = "moderate"\nnotfy_at = "high"'))
    with pytest.raises(PolicyError, match="notfy_at"):
        load_policy(2, policies_dir=tmp_path)


def test_tuned_policy_changes_new_assessments(tmp_path):
    # An agency that treats every unknown population as high sees it in the next assessment.
    write_v2(tmp_path, ('vulnerable_populations = "moderate"\nencryption', 'vulnerable_populations = "high"\nencryption'))
    shutil.copy(V1, tmp_path / "v1.toml")
    facts, _ = qecp()
    v1 = assess(facts, None, load_policy(1, policies_dir=tmp_path), assessed_by="BRT", assessed_at=WHEN)
    v2 = assess(facts, None, load_policy(policies_dir=tmp_path), assessed_by="BRT", assessed_at=WHEN)
    assert [v.policy_version for v in (v1, v2)] == [1, 2]
    assert v1.line("vulnerable_populations").rating == Rating.moderate
    assert v2.line("vulnerable_populations").rating == Rating.high
    assert json.loads(v2.model_dump_json())["policy_sha256"] == load_policy(2, policies_dir=tmp_path).sha256

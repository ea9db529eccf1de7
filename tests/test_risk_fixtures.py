"""The three sample reports, assessed as a BRT would: first the preview from the report
alone (cautious defaults for every missing fact), then with the answers a BRT would give
from the report's summary. Each expected level is justified in the comments."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from activities.risk import AnswersRefused, assess, load_policy, render_markdown
from models.intake import IntakeReport
from models.risk import FactorAnswer, FactorName, MisuseEvidence, Rating, RiskAnswers, facts_from_report

REPORTS = Path(__file__).parents[2] / "shared" / "fixtures" / "reports"
EXAMPLE_ANSWERS = Path(__file__).parents[1] / "examples" / "risk-answers" / "laptop-claims-major.json"
POLICY = load_policy(1)


def load(name: str) -> IntakeReport:
    return IntakeReport.model_validate_json((REPORTS / f"{name}.json").read_text())


def run(name: str, answers: RiskAnswers | None = None):
    report = load(name)
    return assess(facts_from_report(report), answers, POLICY, assessed_by="BRT", assessed_at=report.reported_at)


# The answers a BRT would record from the reports' summaries.
QECP_ANSWERS = RiskAnswers(
    populations=[],                 # qualified-entity officers acting in their professional role
    sensitive_context=False,        # attestation forms: being on them reveals nothing private
    misuse_evidence=MisuseEvidence.none_found,  # 3 downloads are access, not evidence of misuse
)
RECON_ANSWERS = RiskAnswers(
    populations=[],                 # partner organisations' contact people
    sensitive_context=False,        # an outreach contact list
    recipient_confirmed_deletion=True,  # "The recipient replied that they deleted it."
    exposure_hours=17,              # sent 16:30, deletion confirmed the next morning
    misuse_evidence=MisuseEvidence.none_found,
)


def test_laptop_claims_extract_is_high_and_a_major_incident():
    # An unencrypted laptop holding SSNs, Medicare numbers, dates of birth and diagnosis
    # codes of 152,000 beneficiaries, stolen from a car and not recovered. Impact is high on
    # three counts (SSNs alone; diagnoses are private; a claims extract reveals health care),
    # likelihood is high (no encryption, readable media, still exposed, theft), so the level
    # is high: notify, offer credit and identity monitoring, and it is a major incident
    # (152,000 >= 100,000). HIPAA applies and nothing shows a low probability of compromise.
    for answers in (None, RiskAnswers.model_validate_json(EXAMPLE_ANSWERS.read_text())):
        a = run("laptop-claims-major", answers)
        assert (a.impact.level, a.likelihood.level, a.level) == (Rating.high, Rating.high, Rating.high)
        assert a.notify and a.major_incident
        assert {"credit_monitoring", "identity_monitoring"} <= {s.id for s in a.services} and a.services_offered
        assert {"irs_form_14039", "fraud_alert", "free_credit_report", "medical_statements"} <= {g.id for g in a.guidance}
        assert {"reissue_medicare_ids", "law_enforcement_referral", "disable_device"} <= {c.id for c in a.countermeasures}
        assert a.hipaa_four_factor is not None and a.hipaa_four_factor.notification_required
    # The example answers review every factor, add the deceased beneficiaries (deceased alert),
    # and override one suggestion (recipient) with a rationale.
    answered = run("laptop-claims-major", RiskAnswers.model_validate_json(EXAMPLE_ANSWERS.read_text()))
    assert answered.unreviewed_factors == []
    assert answered.line(FactorName.recipient).source == "overridden"
    assert answered.line(FactorName.intent).rating == Rating.moderate  # the laptop, not the data, was the target
    assert "deceased_alert" in {g.id for g in answered.guidance}


def test_qecp_attestation_pdfs_are_moderate_once_answered_and_high_in_the_preview():
    # 37 officers' names, business e-mails and phones and their signed attestations were
    # readable by any logged-in external user for four days, and 3 were downloaded.
    # Likelihood is high: no encryption, a web page, 100 hours, intent unknown (possibly
    # intentional), unknown outside recipients. Impact, once the BRT records that these are
    # professionals in a non-sensitive context, is low: business contact data and a signature
    # (moderate element) with nothing private. High likelihood x low impact = moderate:
    # notify the officers with guidance (phishing, IdentityTheft.gov); no services, because
    # no available service mitigates these data, a decision recorded apart from notifying.
    a = run("qecp-public-pdfs", QECP_ANSWERS)
    assert (a.impact.level, a.likelihood.level, a.level) == (Rating.low, Rating.high, Rating.moderate)
    assert a.notify and not a.major_incident
    assert a.services == [] and not a.services_offered and a.no_services_reason
    assert {"phishing_caution", "identitytheft_gov"} <= {g.id for g in a.guidance}
    assert "close_exposure" in {c.id for c in a.countermeasures}
    assert a.line(FactorName.duration_of_exposure).rating == Rating.high  # 100.75 h reported window
    # Before those answers, population and context are unknown and default to moderate,
    # which lifts impact to moderate and the preview to high: caution until the BRT answers.
    preview = run("qecp-public-pdfs")
    assert (preview.impact.level, preview.level) == (Rating.moderate, Rating.high)
    assert set(preview.unreviewed_factors) == set(FactorName)


def test_recon_misdirected_email_is_low():
    # Partner contact data (names, business e-mail, phone, organisation address) e-mailed by
    # mistake to a known partner organisation that confirmed deletion: the plan's own example
    # of a low-risk breach ("inadvertently sent to an individual outside HHS ... known to HHS
    # ... permanently deleted"). Impact low (directory data), the recipient caps likelihood
    # at low: low, no notification, report within HHS and close through PIM.
    a = run("recon-misdirected-email", RECON_ANSWERS)
    assert (a.impact.level, a.likelihood.level, a.level) == (Rating.low, Rating.low, Rating.low)
    assert not a.notify and not a.major_incident and a.hipaa_four_factor is None
    assert a.line(FactorName.recipient).rating == Rating.low
    # Even the preview, with deletion unconfirmed, stays low: these data carry low impact.
    preview = run("recon-misdirected-email")
    assert preview.level == Rating.low and preview.likelihood.level == Rating.moderate
    assert "confirm_deletion" in {c.id for c in preview.countermeasures}


def test_override_without_rationale_is_refused_naming_the_factor():
    bare = RiskAnswers(factors={FactorName.security_safeguards: FactorAnswer(rating=Rating.low, rationale="  ", by="Sam")})
    with pytest.raises(AnswersRefused) as refused:
        run("laptop-claims-major", bare)
    assert refused.value.problems[0][0] == FactorName.security_safeguards
    assert "security_safeguards" in str(refused.value) and "rationale" in str(refused.value)
    # Several at once: every offending factor is named.
    two = RiskAnswers(factors={FactorName.intent: FactorAnswer(rating=Rating.low, by="Sam"),
                               FactorName.recipient: FactorAnswer(rating=Rating.low, by="Sam")})
    with pytest.raises(AnswersRefused) as refused:
        run("laptop-claims-major", two)
    assert [f for f, _ in refused.value.problems] == [FactorName.intent, FactorName.recipient]


def test_confirmation_needs_no_rationale_and_override_with_one_is_recorded():
    confirm = RiskAnswers(factors={FactorName.security_safeguards: FactorAnswer(rating=Rating.high, by="Lee Chen")})
    line = run("laptop-claims-major", confirm).line(FactorName.security_safeguards)
    assert (line.source, line.by, line.rating) == ("confirmed", "Lee Chen", Rating.high)
    assert line.rationale == line.suggestion_basis
    why = "Recipient called back: deleted unread."
    override = RiskAnswers(factors={FactorName.recipient: FactorAnswer(rating=Rating.low, rationale=why, by="Ana")})
    a = run("recon-misdirected-email", override)
    line = a.line(FactorName.recipient)
    assert (line.source, line.suggested, line.rating, line.by, line.rationale) == ("overridden", Rating.moderate, Rating.low, "Ana", why)
    doc = render_markdown(a)
    assert "changed from moderate by Ana. Why: Recipient called back: deleted unread." in doc


def test_document_shows_every_factor_its_contribution_and_the_policy():
    a = run("qecp-public-pdfs", QECP_ANSWERS)
    doc = render_markdown(a)
    for line in a.factors:
        assert f"### {a.factors.index(line) + 1}. {line.title}" in doc
        assert f"points {line.points} × weight {line.weight} = {line.contribution}" in doc
    assert f"Weighted score {a.impact.score} of {a.impact.max_score}" in doc
    assert f"sha256 `{a.policy_sha256}`" in doc and "version 1" in doc
    assert "**Overall risk level: MODERATE**" in doc
    assert a.assessed_at.isoformat() in doc
    # The assessment is plain JSON, and survives a round trip unchanged.
    again = type(a).model_validate(json.loads(a.model_dump_json()))
    assert again == a and render_markdown(again) == doc

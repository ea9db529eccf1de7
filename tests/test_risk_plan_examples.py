"""The plan's own examples (Attachment A), as table tests of the risk engine."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from activities.risk import assess, load_policy, suggest
from models.intake import DataElement as E
from models.intake import Intent, Media, Recipient
from models.risk import (
    CaseFacts,
    EncryptionDegree,
    EncryptionLevel,
    FactorName,
    MisuseEvidence,
    Population,
    Rating,
    RiskAnswers,
)

POLICY = load_policy(1)
WHEN = datetime(2026, 11, 20, 13, 30, tzinfo=UTC)
L, M, H = Rating.low, Rating.moderate, Rating.high


def facts(elements, media=Media.email, *, encrypted=False, intent=Intent.unintentional,
          recipient=Recipient.unknown, individuals=1, hipaa=False, window=None) -> CaseFacts:
    return CaseFacts(breach_id="api-PLAN-1", system_id="SYS", data_elements=list(elements), individuals=individuals,
                     media=media, encrypted=encrypted, intent=intent, recipient=recipient, hipaa_covered=hipaa,
                     exposure_window_hours=window)


def run(f: CaseFacts, **answers):
    return assess(f, RiskAnswers(**answers), POLICY, assessed_by="Tester", assessed_at=WHEN)


# Typical identity data: moderate impact on its own (name + date of birth + address).
IDENTITY = [E.name, E.date_of_birth, E.mailing_address, E.phone]


def test_hhs_employee_emails_pii_to_another_hhs_employee_without_need_to_know_is_low():
    # "One common type of low-risk breach ... it may be reasonable to conclude that there
    # is a negligible risk of harm": low even with an SSN, because the recipient is inside HHS.
    a = run(facts([E.name, E.ssn], Media.email, recipient=Recipient.hhs_internal))
    assert a.impact.level == H
    assert a.line(FactorName.recipient).rating == L
    assert a.likelihood.level == L
    assert a.level == L
    assert a.notify is False
    assert [c.factor for c in a.likelihood.caps] == [FactorName.recipient]
    # The services the SSN calls for are listed, and the decision not to offer them is recorded on its own.
    assert "credit_monitoring" in [s.id for s in a.services]
    assert a.services_offered is False and "not notified" in (a.no_services_reason or "")


def test_known_outside_recipient_who_confirmed_deletion_is_low_and_without_confirmation_is_not():
    f = facts(IDENTITY, Media.email, recipient=Recipient.known_external)
    assert run(f, recipient_confirmed_deletion=True).level == L
    assert run(f, recipient_confirmed_deletion=True).line(FactorName.recipient).rating == L
    assert run(f).line(FactorName.recipient).rating == M


def test_pii_in_the_hands_of_a_party_that_exploits_it_is_high():
    # "If analysis reveals that the PII is under the control of a group or person ... known
    # to exploit compromised information, the risk of harm ... is considerably higher."
    exploited = run(facts(IDENTITY, Media.database, intent=Intent.intentional, recipient=Recipient.malicious))
    assert exploited.line(FactorName.evidence_of_misuse).rating == H
    assert exploited.likelihood.level == H
    assert exploited.level == H
    assert exploited.notify
    # The same data, kept within HHS, is low: the recipient makes the difference.
    assert run(facts(IDENTITY, Media.database, recipient=Recipient.hhs_internal)).level == L


@pytest.mark.parametrize(("media", "short", "long"), [
    (Media.paper, 1, 72),                # briefcase in a hotel lobby: an hour vs three days
    (Media.web_application, 1, 24 * 7),  # public web page: an hour vs a week
])
def test_longer_exposure_never_rates_lower(media, short, long):
    f = facts(IDENTITY, media, recipient=Recipient.unknown)
    brief, extended = run(f, exposure_hours=short), run(f, exposure_hours=long)
    assert brief.line(FactorName.duration_of_exposure).rating == L
    assert extended.line(FactorName.duration_of_exposure).rating == H
    assert extended.level.rank > brief.level.rank  # moderate vs high for these facts
    # Over a sweep of durations, the factor and the level never go down.
    sweep = [run(f, exposure_hours=h) for h in (0, 0.5, 1, 2, 3, 12, 48, 49, 72, 168, 10_000)]
    for earlier, later in zip(sweep, sweep[1:]):
        assert later.line(FactorName.duration_of_exposure).rating.rank >= earlier.line(FactorName.duration_of_exposure).rating.rank
        assert later.level.rank >= earlier.level.rank


def test_web_exposure_window_from_the_report_counts_as_the_duration():
    hour = run(facts(IDENTITY, Media.web_application, window=1))
    week = run(facts(IDENTITY, Media.web_application, window=24 * 7))
    assert (hour.line(FactorName.duration_of_exposure).rating, week.line(FactorName.duration_of_exposure).rating) == (L, H)
    assert week.level.rank >= hour.level.rank


@pytest.mark.parametrize("intent", list(Intent))
def test_unencrypted_laptop_with_ssns_is_high(intent):
    a = run(facts([E.name, E.ssn], Media.laptop, encrypted=False, intent=intent))
    assert a.line(FactorName.security_safeguards).rating == H
    assert a.level == H
    assert a.notify
    assert "credit_monitoring" in [s.id for s in a.services] and a.services_offered


def test_encrypted_device_whose_keys_were_not_compromised_has_low_likelihood():
    f = facts([E.name, E.ssn], Media.laptop, encrypted=True, intent=Intent.intentional)
    safe = run(f, keys_controlled=True, encryption_degree=EncryptionDegree.fips_validated,
               encryption_level=EncryptionLevel.device)
    assert safe.line(FactorName.security_safeguards).rating == L
    assert safe.likelihood.level == L
    assert safe.level == L
    # Keys compromised, or encryption only in transit: the encryption no longer protects it.
    assert run(f, keys_controlled=False).likelihood.level == H
    assert run(f, keys_controlled=True, encryption_degree=EncryptionDegree.fips_validated,
               encryption_level=EncryptionLevel.in_transit).line(FactorName.security_safeguards).rating == H
    # Encrypted, but nothing known about the keys: moderate, not low.
    assert run(f).line(FactorName.security_safeguards).rating == M


def test_forensics_showing_the_pii_was_not_accessed_lowers_likelihood_and_misuse_raises_it():
    f = facts(IDENTITY, Media.laptop, intent=Intent.intentional)
    assert run(f, misuse_evidence=MisuseEvidence.ruled_out).likelihood.level == L
    confirmed = run(f, misuse_evidence=MisuseEvidence.confirmed, keys_controlled=True)
    assert confirmed.likelihood.level == H  # a floor: misuse beats every cap


def test_usb_spreadsheet_versus_backup_tape():
    usb = suggest(facts(IDENTITY, Media.removable_media), POLICY)[FactorName.format_media]
    tape = suggest(facts(IDENTITY, Media.backup_tape), POLICY)[FactorName.format_media]
    assert (usb.rating, tape.rating) == (H, L)
    # "If the PII is particularly valuable, its value may outweigh the difficulty."
    valuable_tape = suggest(facts([E.ssn], Media.backup_tape), POLICY)[FactorName.format_media]
    assert valuable_tape.rating == M


@pytest.mark.parametrize("element", [E.ssn, E.passport, E.drivers_license, E.state_id, E.bank_account,
                                     E.password, E.alien_registration, E.biometric])
def test_elements_sensitive_alone(element):
    s = suggest(facts([element]), POLICY)[FactorName.data_elements]
    assert s.rating == H
    assert element.value in s.basis


def test_date_and_place_of_birth_address_and_gender_together_raise_the_rating():
    together = [E.date_of_birth, E.place_of_birth, E.mailing_address, E.gender]
    for element in together:
        assert suggest(facts([element]), POLICY)[FactorName.data_elements].rating == L
    assert suggest(facts(together[:3]), POLICY)[FactorName.data_elements].rating == L
    s = suggest(facts(together), POLICY)[FactorName.data_elements]
    assert s.rating == H and "Together" in s.basis


def test_elements_from_an_earlier_breach_count_in_the_combination():
    f = facts([E.place_of_birth, E.gender])
    alone = suggest(f, POLICY, RiskAnswers())[FactorName.data_elements]
    linked = suggest(f, POLICY, RiskAnswers(previously_breached_elements=[E.date_of_birth, E.mailing_address]))
    assert alone.rating == L
    assert linked[FactorName.data_elements].rating == H
    assert "earlier breach" in linked[FactorName.data_elements].basis


def test_context_mental_health_list_is_sensitive():
    # Office phone numbers alone are not sensitive; on a list of people in mental-health
    # counselling they are.
    phone_list = facts([E.name, E.phone])
    assert run(phone_list, sensitive_context=False, populations=[]).impact.level == L
    counselling = run(phone_list, sensitive_context=True, populations=[])
    assert counselling.line(FactorName.context).rating == H
    assert counselling.impact.level == H


def test_unknown_intent_is_treated_as_possibly_intentional():
    s = suggest(facts(IDENTITY, intent=Intent.unknown), POLICY)[FactorName.intent]
    assert s.rating == H and "possibly intentional" in s.basis
    device_only = suggest(facts(IDENTITY, intent=Intent.unknown), POLICY, RiskAnswers(information_targeted=False))
    assert device_only[FactorName.intent].rating == M
    assert suggest(facts(IDENTITY, intent=Intent.unintentional), POLICY)[FactorName.intent].rating == L


def test_missing_facts_say_no_information_and_default_cautiously():
    s = suggest(facts(IDENTITY, Media.other, encrypted=None), POLICY)
    assert s[FactorName.security_safeguards].rating == H
    assert "No information on encryption, default high" in s[FactorName.security_safeguards].basis
    assert "No information on the population, default moderate" in s[FactorName.vulnerable_populations].basis
    assert s[FactorName.vulnerable_populations].defaults_used == ["populations"]
    assert suggest(facts([]), POLICY)[FactorName.data_elements].rating == H
    # Stated facts replace the defaults.
    known = suggest(facts(IDENTITY), POLICY, RiskAnswers(populations=[]))
    assert known[FactorName.vulnerable_populations].rating == L
    assert known[FactorName.vulnerable_populations].defaults_used == []


def test_medicare_numbers_imply_seniors_and_people_with_disabilities():
    s = suggest(facts([E.name, E.medicare_id]), POLICY)[FactorName.vulnerable_populations]
    assert s.rating == M and "seniors" in s.basis


@pytest.mark.parametrize(("population", "guidance"), [
    (Population.children, "child_credit_freeze"),
    (Population.active_military, "active_duty_alert"),
    (Population.deceased, "deceased_alert"),
])
def test_guidance_for_the_population(population, guidance):
    f = facts(IDENTITY)
    assert guidance in [g.id for g in run(f, populations=[population]).guidance]
    assert guidance not in [g.id for g in run(f, populations=[]).guidance]


@pytest.mark.parametrize(("element", "expected"), [
    (E.ssn, {"irs_form_14039", "fraud_alert", "free_credit_report", "credit_freeze"}),
    (E.password, {"password_change_mfa"}),
    (E.bank_account, {"close_accounts", "fraud_alert", "free_credit_report"}),
])
def test_guidance_for_the_data(element, expected):
    ids = {g.id for g in run(facts([E.name, element])).guidance}
    assert expected <= ids
    assert "identitytheft_gov" in ids
    assert not expected & {g.id for g in run(facts([E.name, E.phone])).guidance}


def test_services_follow_the_data():
    medical = run(facts([E.name, E.medicare_id, E.medical], Media.laptop))
    assert [s.id for s in medical.services] == ["identity_monitoring", "identity_restoration"]
    contact = run(facts([E.name, E.email], Media.web_application, recipient=Recipient.external_unknown))
    assert contact.notify and contact.services == [] and contact.services_offered is False
    assert "No service is called for" in contact.no_services_reason
    declined = run(facts([E.name, E.ssn], Media.laptop), services_declined_reason="Card numbers already reissued.")
    assert declined.notify and declined.services and not declined.services_offered
    assert "Card numbers already reissued." in declined.no_services_reason


def test_countermeasures():
    passwords = run(facts([E.email, E.password], Media.web_application))
    assert "force_password_reset" in [c.id for c in passwords.countermeasures]
    beneficiaries = run(facts([E.name, E.medicare_id], Media.paper, intent=Intent.intentional))
    assert {"watch_change_of_address", "law_enforcement_referral"} <= {c.id for c in beneficiaries.countermeasures}


def test_major_incident_by_the_100000_rule():
    assert run(facts(IDENTITY, individuals=100_000)).major_incident is True
    assert run(facts(IDENTITY, individuals=99_999)).major_incident is False
    unknown = run(facts(IDENTITY, individuals=0))
    assert unknown.major_incident is False and "not yet known" in unknown.major_incident_reason


def test_hipaa_four_factor_summary():
    phi = [E.name, E.medicare_id, E.medical]
    assert run(facts(phi)).hipaa_four_factor is None  # not HIPAA-covered
    misdirected = run(facts(phi, Media.email, recipient=Recipient.hhs_internal, hipaa=True),
                      recipient_confirmed_deletion=True, misuse_evidence=MisuseEvidence.ruled_out)
    h = misdirected.hipaa_four_factor
    assert h is not None and [f.name for f in h.factors] == ["nature_and_extent", "unauthorized_person",
                                                             "acquired_or_viewed", "mitigation"]
    assert h.low_probability_of_compromise and not h.notification_required and not misdirected.notify
    # Not shown to be low: HIPAA requires notice even when the risk level alone would not.
    unclear = run(facts(phi, Media.email, recipient=Recipient.hhs_internal, hipaa=True))
    assert unclear.level == L
    assert unclear.hipaa_four_factor.notification_required and unclear.notify
    assert "HIPAA" in unclear.notify_reason
    # Encrypted to the HHS standard with controlled keys: secured PHI.
    secured = run(facts(phi, Media.laptop, encrypted=True, intent=Intent.intentional, hipaa=True),
                  keys_controlled=True, encryption_degree=EncryptionDegree.fips_validated)
    assert secured.hipaa_four_factor.secured_phi and not secured.hipaa_four_factor.notification_required

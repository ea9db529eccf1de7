"""Services, guidance, countermeasures and the HIPAA four-factor summary.

Why separate from scoring: these follow from the data, the population and the level
through the policy's rule lists (plan: Countermeasures, Guidance, Services; Attachment
B), not from arithmetic. Every recommendation carries its text and the reason it
applies, copied into the assessment so it reads the same years later.
"""

from __future__ import annotations

from models.risk import (
    CaseFacts,
    FactorName,
    HipaaFactor,
    HipaaFourFactor,
    Population,
    Rating,
    Recommendation,
    RiskAnswers,
    max_rating,
    min_rating,
)

from .policy import Policy, Rule
from .suggestions import effective_encryption


def matching(rules: list[Rule], facts: CaseFacts, populations: list[Population], level: Rating) -> list[Recommendation]:
    """The rules whose conditions all hold, in policy order, each with why it applies."""
    out = []
    for rule in rules:
        reasons: list[str] = []
        checks = (
            (rule.elements_any, facts.data_elements, "data involve"),
            (rule.populations_any, populations, "population includes"),
            (rule.media_any, [facts.media], "media is"),
            (rule.intents_any, [facts.intent], "intent is"),
            (rule.recipients_any, [facts.recipient], "recipient is"),
        )
        ok = True
        for wanted, present, label in checks:
            if not wanted:
                continue
            hits = [p for p in present if p in wanted]
            if not hits:
                ok = False
                break
            reasons.append(f"{label} {', '.join(h.value for h in hits)}")
        if ok and rule.min_level is not None:
            ok = level.rank >= rule.min_level.rank
            reasons.append(f"risk level is {level.value} (applies from {rule.min_level.value})")
        if not ok:
            continue
        if not reasons:
            reasons.append("always given")
        out.append(Recommendation(id=rule.id, title=rule.title, text=rule.text, source=rule.source,
                                  reason="; ".join(reasons)))
    return out


def services_decision(services: list[Recommendation], notify: bool, answers: RiskAnswers) -> tuple[bool, str | None]:
    """Whether services are offered, and if not, why: a decision separate from notifying."""
    if not services:
        return False, ("No service is called for: no SSN, financial account number, medical or other identity data "
                       "are involved, and available services mainly mitigate financial and identity theft (plan: Services).")
    if answers.services_declined_reason:
        return False, f"The BRT recommends not offering services: {answers.services_declined_reason}"
    if not notify:
        return False, ("Individuals are not notified at this risk level, and services can only be offered with a "
                       "notification; the services listed are what the data would call for.")
    return True, None


def hipaa_four_factor(facts: CaseFacts, answers: RiskAnswers, ratings: dict[FactorName, Rating],
                      policy: Policy) -> HipaaFourFactor:
    """45 CFR 164.402: a breach of unsecured PHI is presumed unless a low probability of
    compromise is shown; here each HIPAA factor is read off the Attachment A ratings."""
    h = policy.hipaa
    factors = []
    for name, rule in h.factors.items():
        values = [ratings[f] for f in rule.from_factors]
        rating = max_rating(*values) if rule.combine == "max" else min_rating(*values)
        factors.append(HipaaFactor(name=name, title=rule.title, rating=rating, from_factors=list(rule.from_factors),
                                   combine=rule.combine, must_be_low=name in h.must_be_low))
    low_probability = all(f.rating == Rating.low for f in factors if f.must_be_low)
    enc = effective_encryption(facts, answers)
    degree = answers.encryption_degree
    secured = bool(enc) and answers.keys_controlled is True and degree in h.secured_degrees
    if secured:
        secured_reason = (f"Encrypted ({degree.value}) with controlled keys: secured PHI, to which the breach "
                          "notification rule does not apply.")
    elif enc is None:
        secured_reason = "Not known to be encrypted: treated as unsecured PHI."
    elif not enc:
        secured_reason = "Not encrypted: unsecured PHI."
    elif answers.keys_controlled is not True:
        secured_reason = "Encrypted, but key control is not confirmed: treated as unsecured PHI."
    else:
        secured_reason = (f"Encrypted, but the degree ({degree.value if degree else 'not recorded'}) is not one "
                          "recognised as securing PHI: treated as unsecured PHI.")
    required = not secured and not low_probability
    blocking = [f.name for f in factors if f.must_be_low and f.rating != Rating.low]
    if secured:
        summary = "Secured PHI: HIPAA breach notification is not required."
    elif low_probability:
        summary = "Low probability of compromise demonstrated: HIPAA breach notification is not required (document and keep)."
    else:
        summary = ("Low probability of compromise not demonstrated (" + ", ".join(blocking) + " not low): "
                   "HIPAA breach notification is required (45 CFR 164.404-408).")
    return HipaaFourFactor(factors=factors, secured_phi=secured, secured_reason=secured_reason,
                           low_probability_of_compromise=low_probability, notification_required=required,
                           summary=summary)

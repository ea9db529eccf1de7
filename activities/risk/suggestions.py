"""Suggested factor ratings, pre-filled from the intake facts and the operator's answers.

Why suggestions: the plan asks for a documented rating with a rationale for every
factor; starting each from the facts saves the BRT work and makes the reasoning
uniform. Each suggestion says what it rests on, and when a fact is missing it says so
("no information on ..., default X") and uses the policy's cautious default: the plan
says err on the side of caution. Pure functions of (facts, answers, policy).
"""

from __future__ import annotations

from models.intake import DataElement, Intent, Recipient
from models.risk import (
    CaseFacts,
    EncryptionLevel,
    FactorName,
    Population,
    Rating,
    RiskAnswers,
    Suggestion,
    max_rating,
)

from .policy import Policy

F = FactorName


def _names(items) -> str:
    return ", ".join(i.value if hasattr(i, "value") else str(i) for i in items)


def _hours(h: float) -> str:
    return f"{h:g} hour" + ("" if h == 1 else "s")


def suggest(facts: CaseFacts, policy: Policy, answers: RiskAnswers | None = None) -> dict[FactorName, Suggestion]:
    """A suggestion for every factor, in the plan's order."""
    answers = answers or RiskAnswers()
    data = _data_elements(facts, answers, policy)
    out = {
        F.data_elements: data,
        F.context: _context(facts, answers, policy),
        F.private_information: _private(facts, policy),
        F.vulnerable_populations: _vulnerable(facts, answers, policy),
        F.permanence: _permanence(facts, policy),
        F.security_safeguards: _safeguards(facts, answers, policy),
        F.format_media: _format_media(facts, policy, data.rating),
        F.duration_of_exposure: _duration(facts, answers, policy),
        F.evidence_of_misuse: _misuse(facts, answers, policy),
        F.intent: _intent(facts, answers, policy),
        F.recipient: _recipient(facts, answers, policy),
    }
    return {f: out[f] for f in FactorName}


def effective_populations(facts: CaseFacts, answers: RiskAnswers, policy: Policy) -> tuple[list[Population], bool]:
    """The populations to plan for, and whether they were stated by the operator (else implied)."""
    order = list(Population)
    if answers.populations is not None:
        return sorted(set(answers.populations), key=order.index), True
    implied = {p for e in facts.data_elements for p in policy.populations_implied.get(e, [])}
    return sorted(implied, key=order.index), False


def effective_encryption(facts: CaseFacts, answers: RiskAnswers) -> bool | None:
    return answers.encryption_in_effect if answers.encryption_in_effect is not None else facts.encrypted


def _data_elements(facts: CaseFacts, answers: RiskAnswers, policy: Policy) -> Suggestion:
    order = list(DataElement)
    earlier = sorted(set(answers.previously_breached_elements) - set(facts.data_elements), key=order.index)
    elements = list(facts.data_elements) + earlier
    if not elements:
        r = policy.unknown.data_elements
        return Suggestion(factor=F.data_elements, rating=r, defaults_used=["data elements"],
                          basis=f"No data elements reported: no information, default {r.value}.")
    rating = max_rating(*(policy.elements[e].sensitivity for e in elements))
    top = [e for e in elements if policy.elements[e].sensitivity == rating]
    parts = [f"Most sensitive element(s): {_names(top)} ({rating.value}"
             + (f": {policy.elements[top[0]].note}" if policy.elements[top[0]].note else "") + ")."]
    if earlier:
        parts.append(f"Also considered, from an earlier breach: {_names(earlier)}.")
    present = set(elements)
    for combo in policy.combinations:
        if set(combo.elements) <= present:
            parts.append(f"Together {' + '.join(e.value for e in combo.elements)}: {combo.rating.value} ({combo.note}).")
            rating = max_rating(rating, combo.rating)
    return Suggestion(factor=F.data_elements, rating=rating, basis=" ".join(parts))


def _context(facts: CaseFacts, answers: RiskAnswers, policy: Policy) -> Suggestion:
    revealing = [(e, policy.elements[e].context) for e in facts.data_elements if policy.elements[e].context]
    from_elements = max_rating(*(r for _, r in revealing)) if revealing else Rating.low
    parts = ["The data themselves reveal the context: " + ", ".join(f"{e.value} ({r.value})" for e, r in revealing) + "."
             ] if revealing else []
    defaults: list[str] = []
    if answers.sensitive_context is True:
        rating = Rating.high
        parts.insert(0, "The operator says the purpose of collection itself reveals something sensitive (high).")
    elif answers.sensitive_context is False:
        rating = from_elements
        parts.insert(0, "The operator says the purpose of collection is not sensitive in itself.")
    else:
        default = policy.unknown.context
        rating = max_rating(from_elements, default)
        defaults.append("context")
        parts.append(f"No information on the purpose of collection, default {default.value}.")
    return Suggestion(factor=F.context, rating=rating, basis=" ".join(parts), defaults_used=defaults)


def _by_element(facts: CaseFacts, policy: Policy, factor: FactorName, attr: str, what: str, none: str) -> Suggestion:
    if not facts.data_elements:
        return Suggestion(factor=factor, rating=Rating.low, basis="No data elements reported (see data elements).")
    rating = max_rating(*(getattr(policy.elements[e], attr) for e in facts.data_elements))
    if rating == Rating.low:
        return Suggestion(factor=factor, rating=rating, basis=f"{none} (low).")
    top = [e for e in facts.data_elements if getattr(policy.elements[e], attr) == rating]
    return Suggestion(factor=factor, rating=rating, basis=f"{what}: {_names(top)} ({rating.value}).")


def _private(facts: CaseFacts, policy: Policy) -> Suggestion:
    return _by_element(facts, policy, F.private_information, "private", "Most private element(s)",
                       "None of the elements is information an individual would usually keep private")


def _permanence(facts: CaseFacts, policy: Policy) -> Suggestion:
    return _by_element(facts, policy, F.permanence, "permanence", "Longest-lasting element(s)",
                       "Every element can be changed or loses its use with time")


def _vulnerable(facts: CaseFacts, answers: RiskAnswers, policy: Policy) -> Suggestion:
    pops, stated = effective_populations(facts, answers, policy)
    rated = max_rating(*(policy.populations[p] for p in pops)) if pops else Rating.low
    if stated:
        basis = (f"The operator names: {_names(pops)} ({rated.value})." if pops
                 else "The operator says no vulnerable population is among the individuals.")
        return Suggestion(factor=F.vulnerable_populations, rating=rated, basis=basis)
    default = policy.unknown.vulnerable_populations
    basis = f"Implied by the data: {_names(pops)} ({rated.value}). " if pops else ""
    basis += f"No information on the population, default {default.value}."
    return Suggestion(factor=F.vulnerable_populations, rating=max_rating(rated, default), basis=basis,
                      defaults_used=["populations"])


def _safeguards(facts: CaseFacts, answers: RiskAnswers, policy: Policy) -> Suggestion:
    s = policy.safeguards
    enc = effective_encryption(facts, answers)
    said = "the operator" if answers.encryption_in_effect is not None else "the intake report"
    if enc is None:
        r = policy.unknown.encryption
        return Suggestion(factor=F.security_safeguards, rating=r, defaults_used=["encryption"],
                          basis=f"No information on encryption, default {r.value} (treated as unencrypted).")
    if enc is False:
        if answers.remote_wipe_confirmed:
            return Suggestion(factor=F.security_safeguards, rating=s.unencrypted_remote_wiped,
                              basis=f"Not encrypted (per {said}), but a remote wipe was confirmed ({s.unencrypted_remote_wiped.value}).")
        return Suggestion(factor=F.security_safeguards, rating=s.unencrypted,
                          basis=f"Not encrypted (per {said}) ({s.unencrypted.value}).")
    if answers.keys_controlled is False:
        return Suggestion(factor=F.security_safeguards, rating=s.keys_compromised,
                          basis=f"Encrypted, but the decryption keys or credentials were compromised ({s.keys_compromised.value}).")
    if answers.encryption_level == EncryptionLevel.in_transit and facts.media in s.at_rest_media:
        r = s.in_transit_only_at_rest
        return Suggestion(factor=F.security_safeguards, rating=r,
                          basis=f"Encrypted in transit only, which does not protect data at rest on {facts.media.value} ({r.value}).")
    parts = [f"Encrypted (per {said})" + (f", at {answers.encryption_level.value} level" if answers.encryption_level else "") + "."]
    defaults = []
    if answers.keys_controlled:
        key_r = s.keys_controlled
        parts.append(f"Keys controlled and not compromised ({key_r.value}).")
    else:
        key_r = policy.unknown.key_control
        defaults.append("key control")
        parts.append(f"No information on key control, default {key_r.value}.")
    if answers.encryption_degree is not None:
        deg_r = s.degree[answers.encryption_degree]
        parts.append(f"Degree: {answers.encryption_degree.value} ({deg_r.value}).")
    else:
        deg_r = policy.unknown.encryption_degree
        defaults.append("encryption degree")
        parts.append(f"No information on the degree of encryption, default {deg_r.value}.")
    return Suggestion(factor=F.security_safeguards, rating=max_rating(key_r, deg_r), basis=" ".join(parts),
                      defaults_used=defaults)


def _format_media(facts: CaseFacts, policy: Policy, data_rating: Rating) -> Suggestion:
    m = policy.media[facts.media]
    basis = f"{facts.media.value}: {m.note} ({m.rating.value})."
    rating = m.rating
    floor = policy.valuable_data_media_floor
    if data_rating == Rating.high and rating.rank < floor.rank:
        rating = floor
        basis += f" The data are highly sensitive, and their value may outweigh the difficulty ({floor.value})."
    return Suggestion(factor=F.format_media, rating=rating, basis=basis)


def duration_band(hours: float, policy: Policy) -> Rating:
    """Longer exposure never rates lower (the plan's briefcase and web-page examples)."""
    if hours <= policy.duration.low_max_hours:
        return Rating.low
    if hours <= policy.duration.moderate_max_hours:
        return Rating.moderate
    return Rating.high


def _duration(facts: CaseFacts, answers: RiskAnswers, policy: Policy) -> Suggestion:
    d = policy.duration
    bands = f"(low up to {_hours(d.low_max_hours)}, moderate up to {_hours(d.moderate_max_hours)})"
    if answers.exposure_ongoing:
        return Suggestion(factor=F.duration_of_exposure, rating=Rating.high,
                          basis="The operator says the information is still exposed (high).")
    if answers.exposure_hours is not None:
        r = duration_band(answers.exposure_hours, policy)
        return Suggestion(factor=F.duration_of_exposure, rating=r,
                          basis=f"Exposed about {_hours(answers.exposure_hours)} per the operator: {r.value} {bands}.")
    if facts.media in d.window_media and facts.exposure_window_hours is not None:
        r = duration_band(facts.exposure_window_hours, policy)
        return Suggestion(factor=F.duration_of_exposure, rating=r,
                          basis=f"Exposed for the reported window of {_hours(facts.exposure_window_hours)}: {r.value} {bands}.")
    if facts.media in d.device_media:
        r = policy.unknown.duration_device_not_recovered
        return Suggestion(factor=F.duration_of_exposure, rating=r, defaults_used=["duration of exposure"],
                          basis=f"No information on recovery: a lost or stolen {facts.media.value} "
                                f"is presumed still exposed, default {r.value}.")
    r = policy.unknown.duration_of_exposure
    return Suggestion(factor=F.duration_of_exposure, rating=r, defaults_used=["duration of exposure"],
                      basis=f"No information on the duration of exposure, default {r.value}.")


def _misuse(facts: CaseFacts, answers: RiskAnswers, policy: Policy) -> Suggestion:
    m = policy.misuse
    malicious = facts.recipient == Recipient.malicious
    mal_text = "The PII is in the hands of a party known to exploit it, itself evidence of misuse"
    if answers.misuse_evidence is not None:
        r = m.ratings[answers.misuse_evidence]
        basis = f"Evidence of misuse: {answers.misuse_evidence.value.replace('_', ' ')} per the operator ({r.value})."
        if malicious and m.malicious_recipient.rank > r.rank:
            r = m.malicious_recipient
            basis += f" {mal_text} ({r.value})."
        return Suggestion(factor=F.evidence_of_misuse, rating=r, basis=basis)
    if malicious:
        return Suggestion(factor=F.evidence_of_misuse, rating=m.malicious_recipient,
                          basis=f"{mal_text} ({m.malicious_recipient.value}).")
    r = policy.unknown.evidence_of_misuse
    return Suggestion(factor=F.evidence_of_misuse, rating=r, defaults_used=["evidence of misuse"],
                      basis=f"No information on misuse, default {r.value}.")


def _intent(facts: CaseFacts, answers: RiskAnswers, policy: Policy) -> Suggestion:
    r = policy.intent.ratings[facts.intent]
    if facts.intent == Intent.unknown:
        basis = f"Intent unknown: treated as possibly intentional ({r.value})."
    else:
        basis = f"{facts.intent.value.capitalize()} ({r.value})."
    if facts.intent != Intent.unintentional and answers.information_targeted is False:
        r = policy.intent.not_targeted
        basis += f" The operator says the device, not the information, was the target; the risk may be lower but remains ({r.value})."
    elif facts.intent != Intent.unintentional and answers.information_targeted:
        basis += " The operator says the information was the target."
    return Suggestion(factor=F.intent, rating=r, basis=basis)


_RECIPIENT_TEXT = {
    Recipient.hhs_internal: "Received within HHS only",
    Recipient.known_external: "Received by a known party outside HHS",
    Recipient.external_unknown: "Received by an unknown party outside HHS, who cannot be presumed trustworthy",
    Recipient.malicious: "In the hands of a party known to exploit compromised information",
    Recipient.unknown: "Not known who, if anyone, received it; the other factors decide",
}


def _recipient(facts: CaseFacts, answers: RiskAnswers, policy: Policy) -> Suggestion:
    rule = policy.recipient[facts.recipient]
    deleted = answers.recipient_confirmed_deletion
    basis = _RECIPIENT_TEXT[facts.recipient]
    if deleted is True:
        r, basis = rule.deleted, basis + ", who confirmed deletion"
    elif deleted is False:
        r, basis = rule.not_deleted, basis + ", who has not deleted it"
    else:
        r = rule.default
        if facts.recipient in (Recipient.hhs_internal, Recipient.known_external):
            basis += "; no confirmation of deletion recorded"
    return Suggestion(factor=F.recipient, rating=r, basis=f"{basis} ({r.value}).")

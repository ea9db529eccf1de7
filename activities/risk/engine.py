"""The risk-of-harm engine: suggestions in, a documented, reproducible assessment out.

The scoring, and why it has this shape:

* Each Attachment A factor ends with an ordinal rating (low < moderate < high): the
  suggestion, confirmed or overridden (with a rationale) by the operator.
* Two dimensions, as in the plan's grouping and in NIST SP 800-122 / ENISA: *impact*
  (nature and sensitivity) and *likelihood* (access and use, type of breach). Each is
  ``max(min(band(weighted sum), caps), floors)``: the weighted sum lets several
  moderate factors add up; a floor lets one decisive factor (an SSN, mental-health data,
  proven misuse) set the level alone; a cap lets one containing factor (encryption with
  controlled keys, an HHS-internal recipient, forensics showing no access) hold the
  likelihood down, as the plan's own low-risk examples do.
* The level is ``matrix[likelihood][impact]``.

Weights are non-negative and the matrix, bands, caps and floors all rise with their
inputs, so raising any factor never lowers the level (the policy loader enforces it).
No clock, no randomness, no I/O: the same inputs and policy give the same assessment.
"""

from __future__ import annotations

from datetime import datetime

from models.risk import (
    FACTOR_GROUP,
    FACTOR_QUESTION,
    FACTOR_TITLE,
    RATINGS_ASCENDING,
    Bound,
    CaseFacts,
    DimensionResult,
    FactorLine,
    FactorName,
    Rating,
    RiskAnswers,
    RiskAssessment,
    Suggestion,
    max_rating,
    min_rating,
)

from .mitigation import hipaa_four_factor, matching, services_decision
from .policy import Dimension, Policy
from .suggestions import effective_populations, suggest

__all__ = ["AnswersRefused", "assess", "check_answers", "score", "suggest"]


class AnswersRefused(ValueError):
    """The operator's answers cannot be accepted; ``problems`` name each factor and why."""

    def __init__(self, problems: list[tuple[FactorName, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{factor.value}: {message}" for factor, message in problems))


def check_answers(suggestions: dict[FactorName, Suggestion], answers: RiskAnswers) -> list[tuple[FactorName, str]]:
    """Refusals, one per factor: an override (a rating other than the suggestion) needs a rationale."""
    problems = []
    for factor in FactorName:
        answer = answers.factors.get(factor)
        if answer is None:
            continue
        suggested = suggestions[factor].rating
        if answer.rating != suggested and not answer.rationale.strip():
            problems.append((factor, f"overriding the suggested {suggested.value} with {answer.rating.value} "
                                     f"needs a rationale (by {answer.by})"))
    return problems


def _line(factor: FactorName, s: Suggestion, answers: RiskAnswers, policy: Policy) -> FactorLine:
    answer = answers.factors.get(factor)
    if answer is None:
        rating, source, by, why = s.rating, "suggested", None, s.basis
    elif answer.rating == s.rating:
        rating, source, by, why = s.rating, "confirmed", answer.by, answer.rationale.strip() or s.basis
    else:
        rating, source, by, why = answer.rating, "overridden", answer.by, answer.rationale.strip()
    dimension = policy.dimension(factor)
    weight = getattr(policy, dimension).weights[factor]
    points = policy.points[rating]
    return FactorLine(factor=factor, title=FACTOR_TITLE[factor], group=FACTOR_GROUP[factor],
                      question=FACTOR_QUESTION[factor], dimension=dimension,
                      suggested=s.rating, suggestion_basis=s.basis, defaults_used=list(s.defaults_used), rating=rating,
                      source=source, by=by, rationale=why, points=points, weight=weight, contribution=points * weight)


def _dimension(name: str, dim: Dimension, rating: dict[FactorName, Rating], policy: Policy) -> DimensionResult:
    total = sum(policy.points[rating[f]] * w for f, w in dim.weights.items())
    max_score = sum(dim.weights.values()) * max(policy.points.values())
    banded = Rating.high if total >= dim.high_at else Rating.moderate if total >= dim.moderate_at else Rating.low
    caps = [Bound(factor=c.factor, factor_rating=rating[c.factor], kind="cap", level=c.level)
            for c in dim.caps if rating[c.factor].rank <= c.when_at_most.rank]
    level = min_rating(banded, *(c.level for c in caps))
    floors = [Bound(factor=f.factor, factor_rating=rating[f.factor], kind="floor", level=f.level)
              for f in dim.floors if rating[f.factor].rank >= f.when_at_least.rank]
    level = max_rating(level, *(f.level for f in floors))
    return DimensionResult(name=name, score=total, max_score=max_score, moderate_at=dim.moderate_at,
                           high_at=dim.high_at, banded=banded, caps=caps, floors=floors, level=level)


def score(ratings: dict[FactorName, Rating], policy: Policy) -> tuple[DimensionResult, DimensionResult, Rating]:
    """Impact, likelihood and the overall level from the final factor ratings alone."""
    impact = _dimension("impact", policy.impact, ratings, policy)
    likelihood = _dimension("likelihood", policy.likelihood, ratings, policy)
    return impact, likelihood, policy.matrix[likelihood.level][impact.level]


def _major(facts: CaseFacts, policy: Policy) -> tuple[bool, str]:
    limit = policy.major_incident_individuals
    n = facts.individuals
    if n >= limit:
        return True, f"{n:,} individuals is at or above {limit:,}: a major incident (OMB M-17-12)."
    if n == 0:
        return False, f"Number of individuals not yet known; re-assess against {limit:,} when it is."
    return False, (f"{n:,} individuals is below {limit:,}; the CMS BRT may still determine a major incident, "
                   "with HHS SAOP approval, on other grounds.")


def assess(facts: CaseFacts, answers: RiskAnswers | None, policy: Policy, *, assessed_by: str,
           assessed_at: datetime) -> RiskAssessment:
    """Score the case under ``policy``; raises ``AnswersRefused`` naming each bad factor answer."""
    answers = answers or RiskAnswers()
    suggestions = suggest(facts, policy, answers)
    problems = check_answers(suggestions, answers)
    if problems:
        raise AnswersRefused(problems)
    lines = [_line(f, suggestions[f], answers, policy) for f in FactorName]
    impact, likelihood, level = score({line.factor: line.rating for line in lines}, policy)

    hipaa = None
    if facts.hipaa_covered:
        hipaa = hipaa_four_factor(facts, answers, {line.factor: line.rating for line in lines}, policy)
    by_level = level.rank >= policy.notify_at.rank
    notify = by_level or bool(hipaa and hipaa.notification_required)
    if by_level:
        notify_reason = f"Risk level {level.value} is at or above the notification level ({policy.notify_at.value})."
    elif notify:
        notify_reason = (f"Risk level {level.value} is below the notification level ({policy.notify_at.value}), "
                         "but HIPAA requires notice: a low probability of compromise is not demonstrated.")
    else:
        notify_reason = (f"Risk level {level.value} is below the notification level ({policy.notify_at.value}); "
                         "report within HHS and close through PIM.")

    populations, _ = effective_populations(facts, answers, policy)
    services = matching(policy.services, facts, populations, level)
    offered, no_services_reason = services_decision(services, notify, answers)
    major, major_reason = _major(facts, policy)
    return RiskAssessment(
        breach_id=facts.breach_id, facts=facts, answers=answers, factors=lines,
        unreviewed_factors=[line.factor for line in lines if line.source == "suggested"],
        impact=impact, likelihood=likelihood, level=level,
        matrix={lik: {imp: policy.matrix[lik][imp] for imp in RATINGS_ASCENDING} for lik in RATINGS_ASCENDING},
        notify=notify, notify_reason=notify_reason, major_incident=major, major_incident_reason=major_reason,
        services=services, services_offered=offered, no_services_reason=no_services_reason,
        guidance=matching(policy.guidance, facts, populations, level),
        countermeasures=matching(policy.countermeasures, facts, populations, level),
        hipaa_four_factor=hipaa, policy_version=policy.version, policy_title=policy.title,
        policy_sha256=policy.sha256, assessed_at=assessed_at, assessed_by=assessed_by,
    )

"""Properties the risk engine promises for every input (hypothesis).

Monotone (raising a factor never lowers the level), cautious about unknown intent,
services by default for SSNs and financial account numbers, and deterministic.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activities.risk import assess, load_policy, render_markdown
from models.intake import DataElement, Intent, Media, Recipient
from models.risk import (
    RATINGS_ASCENDING,
    CaseFacts,
    EncryptionDegree,
    EncryptionLevel,
    FactorAnswer,
    FactorName,
    MisuseEvidence,
    Population,
    Rating,
    RiskAnswers,
)

POLICY = load_policy(1)
WHEN = datetime(2026, 11, 20, 13, 30, tzinfo=UTC)
FINANCIAL = [DataElement.ssn, DataElement.bank_account, DataElement.credit_card]
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

maybe_bool = st.one_of(st.none(), st.booleans())


def facts_strategy(elements=st.lists(st.sampled_from(list(DataElement)), unique=True, max_size=8),
                   intent=st.sampled_from(list(Intent))):
    return st.builds(
        CaseFacts,
        breach_id=st.just("api-PROP-1"),
        system_id=st.just("SYS"),
        data_elements=elements,
        individuals=st.integers(0, 300_000),
        media=st.sampled_from(list(Media)),
        encrypted=maybe_bool,
        intent=intent,
        recipient=st.sampled_from(list(Recipient)),
        hipaa_covered=st.booleans(),
        contractor_involved=st.booleans(),
        exposure_window_hours=st.one_of(st.none(), st.floats(0, 2000, allow_nan=False)),
    )


situation = st.fixed_dictionaries({
    "populations": st.one_of(st.none(), st.lists(st.sampled_from(list(Population)), unique=True, max_size=3)),
    "sensitive_context": maybe_bool,
    "previously_breached_elements": st.lists(st.sampled_from(list(DataElement)), unique=True, max_size=3),
    "encryption_in_effect": maybe_bool,
    "encryption_degree": st.one_of(st.none(), st.sampled_from(list(EncryptionDegree))),
    "encryption_level": st.one_of(st.none(), st.sampled_from(list(EncryptionLevel))),
    "keys_controlled": maybe_bool,
    "remote_wipe_confirmed": maybe_bool,
    "exposure_hours": st.one_of(st.none(), st.floats(0, 2000, allow_nan=False)),
    "exposure_ongoing": maybe_bool,
    "misuse_evidence": st.one_of(st.none(), st.sampled_from(list(MisuseEvidence))),
    "information_targeted": maybe_bool,
    "recipient_confirmed_deletion": maybe_bool,
    "services_declined_reason": st.one_of(st.none(), st.just("No service mitigates this risk.")),
})
# Either a rating for every factor or for some (the rest keep their suggestion).
rating = st.sampled_from(RATINGS_ASCENDING)
ratings = st.one_of(st.fixed_dictionaries({f: rating for f in FactorName}),
                    st.dictionaries(st.sampled_from(list(FactorName)), rating))


def answers_with(sit: dict, factor_ratings: dict[FactorName, Rating]) -> RiskAnswers:
    return RiskAnswers(**sit, factors={f: FactorAnswer(rating=r, rationale="set by the test", by="Tester")
                                       for f, r in factor_ratings.items()})


def run(facts: CaseFacts, answers: RiskAnswers):
    return assess(facts, answers, POLICY, assessed_by="Tester", assessed_at=WHEN)


@SETTINGS
@given(facts=facts_strategy(), sit=situation, chosen=ratings, factor=st.sampled_from(list(FactorName)))
def test_raising_any_factor_never_lowers_the_level(facts, sit, chosen, factor):
    base = run(facts, answers_with(sit, chosen))
    start = base.line(factor).rating
    for higher in RATINGS_ASCENDING[start.rank + 1:]:
        raised = run(facts, answers_with(sit, {**chosen, factor: higher}))
        assert raised.line(factor).rating == higher
        assert raised.level.rank >= base.level.rank, (factor, start, higher)
        assert raised.impact.level.rank >= base.impact.level.rank
        assert raised.likelihood.level.rank >= base.likelihood.level.rank
        assert raised.notify or not base.notify, "raising a factor must not withdraw notification"


@SETTINGS
@given(facts=facts_strategy(intent=st.just(Intent.unknown)), sit=situation, chosen=ratings)
def test_unknown_intent_never_scores_below_unintentional(facts, sit, chosen):
    chosen = {f: r for f, r in chosen.items() if f != FactorName.intent}  # the intent rating is the suggestion's
    answers = answers_with(sit, chosen)
    unknown = run(facts, answers)
    unintentional = run(facts.model_copy(update={"intent": Intent.unintentional}), answers)
    assert unknown.line(FactorName.intent).rating.rank > unintentional.line(FactorName.intent).rating.rank
    assert unknown.level.rank >= unintentional.level.rank
    assert unknown.likelihood.score >= unintentional.likelihood.score
    assert unknown.notify or not unintentional.notify


@SETTINGS
@given(facts=facts_strategy(), extra=st.sampled_from(FINANCIAL), sit=situation, chosen=ratings)
def test_ssn_or_financial_account_always_brings_credit_monitoring(facts, extra, sit, chosen):
    with_it = facts.model_copy(update={"data_elements": [*(e for e in facts.data_elements if e != extra), extra]})
    result = run(with_it, answers_with(sit, chosen))
    assert "credit_monitoring" in [s.id for s in result.services]
    assert "credit monitoring" in render_markdown(result).lower()
    # ...and only those elements bring it: the rule is not simply always on.
    without = facts.model_copy(update={"data_elements": [e for e in facts.data_elements if e not in FINANCIAL]})
    assert "credit_monitoring" not in [s.id for s in run(without, answers_with(sit, chosen)).services]


@SETTINGS
@given(facts=facts_strategy(), sit=situation, chosen=ratings)
def test_same_inputs_and_policy_version_give_the_same_output(facts, sit, chosen):
    first = run(facts, answers_with(sit, chosen))
    again = assess(facts.model_copy(), answers_with(dict(sit), dict(chosen)), load_policy(1),
                   assessed_by="Tester", assessed_at=WHEN)
    assert first.model_dump_json() == again.model_dump_json()
    assert render_markdown(first) == render_markdown(again)


def test_scoring_is_monotone_exhaustively():
    """Every rating combination of each dimension's factors, every single-step raise: the
    dimension and the level never go down (the hypothesis test above samples whole cases)."""
    from itertools import product

    from activities.risk import score

    for dimension in (POLICY.impact, POLICY.likelihood):
        involved = sorted({*dimension.weights, *(c.factor for c in dimension.caps), *(f.factor for f in dimension.floors)})
        base = {f: Rating.moderate for f in FactorName}
        results = {}
        for combo in product(RATINGS_ASCENDING, repeat=len(involved)):
            ratings_ = {**base, **dict(zip(involved, combo))}
            impact, likelihood, level = score(ratings_, POLICY)
            results[combo] = (impact.level.rank, likelihood.level.rank, level.rank)
        for combo, here in results.items():
            for i, r in enumerate(combo):
                if r != Rating.high:
                    up = combo[:i] + (RATINGS_ASCENDING[r.rank + 1],) + combo[i + 1:]
                    assert all(a <= b for a, b in zip(here, results[up])), (involved[i], combo)
        assert len({v[2] for v in results.values()}) > 1, "the level must actually vary"


_SCRIPT = """
import json, sys
from datetime import datetime, UTC
from activities.risk import assess, load_policy, render_markdown
from models.risk import CaseFacts, RiskAnswers
facts = CaseFacts.model_validate_json(sys.argv[1])
answers = RiskAnswers.model_validate_json(sys.argv[2])
a = assess(facts, answers, load_policy(1), assessed_by="T", assessed_at=datetime(2026, 1, 2, tzinfo=UTC))
print(a.model_dump_json())
print(render_markdown(a))
"""


def test_output_does_not_depend_on_the_process_hash_seed():
    """Sets iterate in a different order under another PYTHONHASHSEED; the output must not."""
    facts = CaseFacts(breach_id="api-X", system_id="S", data_elements=list(reversed(list(DataElement))),
                      individuals=5, media=Media.laptop, intent=Intent.unknown, recipient=Recipient.malicious,
                      hipaa_covered=True)
    answers = RiskAnswers(populations=list(Population), previously_breached_elements=[DataElement.ssn])
    root = Path(__file__).parents[1]
    outputs = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(root)}
        done = subprocess.run([sys.executable, "-c", _SCRIPT, facts.model_dump_json(), answers.model_dump_json()],
                              capture_output=True, text=True, env=env, cwd=root, check=True)
        outputs.add(done.stdout)
    assert len(outputs) == 1
    assert json.loads(next(iter(outputs)).splitlines()[0])["level"] == "high"

"""The assessment as a Markdown document, for the BRT, HHS and the case file.

Why it reads only the assessment: the document must be reproducible from the stored
record alone, years later and after new policy versions, so everything it shows (factor
questions, recommendation texts, thresholds, the matrix, the policy version and digest)
is already in the ``RiskAssessment``. Every factor's contribution is shown, so a reader
can redo the arithmetic by hand.
"""

from __future__ import annotations

from models.risk import RATINGS_ASCENDING, DimensionResult, FactorLine, Recommendation, RiskAssessment


def _inline(text: str) -> str:
    return " ".join(str(text).split())


def _cell(text: str) -> str:
    return _inline(text).replace("|", "\\|")


def _label(value: str) -> str:
    return value.replace("_", " ")


def _yes(flag: bool | None) -> str:
    return "unknown" if flag is None else "yes" if flag else "no"


def _who(line: FactorLine) -> str:
    if line.source == "suggested":
        return "not reviewed"
    return f"{line.source} by {line.by}"


def _facts(a: RiskAssessment) -> list[str]:
    f, ans = a.facts, a.answers
    out = [
        f"- Data elements: {', '.join(_label(e.value) for e in f.data_elements) or 'none reported'}",
        f"- Individuals: {f.individuals:,}" + (" (not yet known)" if f.individuals == 0 else ""),
        f"- Media: {_label(f.media.value)}; encrypted (intake report): {_yes(f.encrypted)}",
        f"- Intent: {f.intent.value}; recipient: {_label(f.recipient.value)}",
        f"- HIPAA covered: {_yes(f.hipaa_covered)}; contractor involved: {_yes(f.contractor_involved)}",
    ]
    if f.exposure_window_hours is not None:
        out.append(f"- Reported window of the breach: {f.exposure_window_hours:g} hours")
    given = ans.model_dump(mode="json", exclude={"factors"}, exclude_defaults=True)
    if given:
        out.append("")
        out.append("Operator's answers:")
        for key, value in given.items():
            if isinstance(value, bool):
                shown = _yes(value)
            elif isinstance(value, list):
                shown = ", ".join(_label(str(v)) for v in value)
            else:
                shown = _label(str(value))
            out.append(f"- {_label(key)}: {_inline(shown) or 'none'}")
    return out


def _factor_table(a: RiskAssessment) -> list[str]:
    out = ["| # | Factor | Dimension | Suggested | Final | Who | Points × weight |", "|---|---|---|---|---|---|---|"]
    for i, line in enumerate(a.factors, 1):
        out.append(f"| {i} | {_cell(line.title)} | {line.dimension} | {line.suggested.value} | "
                   f"**{line.rating.value}** | {_cell(_who(line))} | {line.points} × {line.weight} = {line.contribution} |")
    return out


def _factor_detail(i: int, line: FactorLine) -> list[str]:
    out = [f"### {i}. {_inline(line.title)} ({line.group.value})", "", f"*{line.question}*", "",
           f"- Suggested: **{line.suggested.value}**. {_inline(line.suggestion_basis)}"]
    if line.source == "suggested":
        out.append(f"- Final: **{line.rating.value}**, not yet reviewed: the suggestion stands.")
    elif line.source == "confirmed":
        out.append(f"- Final: **{line.rating.value}**, confirmed by {_inline(line.by or '')}: {_inline(line.rationale)}")
    else:
        out.append(f"- Final: **{line.rating.value}**, changed from {line.suggested.value} by "
                   f"{_inline(line.by or '')}. Why: {_inline(line.rationale)}")
    if line.defaults_used:
        out.append(f"- Missing facts defaulted: {', '.join(line.defaults_used)}.")
    out.append(f"- Contribution to {line.dimension}: points {line.points} × weight {line.weight} = {line.contribution}.")
    return out + [""]


def _dimension(d: DimensionResult, titles: dict) -> list[str]:
    out = [f"### {d.name.capitalize()}", "",
           f"- Weighted score {d.score} of {d.max_score} (moderate from {d.moderate_at}, high from {d.high_at}): "
           f"{d.banded.value}."]
    for c in d.caps:
        out.append(f"- Cap: {titles[c.factor]} is {c.factor_rating.value}, so at most {c.level.value}.")
    for f in d.floors:
        out.append(f"- Floor: {titles[f.factor]} is {f.factor_rating.value}, so at least {f.level.value}.")
    out += [f"- **{d.name.capitalize()}: {d.level.value}**", ""]
    return out


def _matrix(a: RiskAssessment) -> list[str]:
    out = ["| likelihood \\ impact | " + " | ".join(r.value for r in RATINGS_ASCENDING) + " |",
           "|---|" + "---|" * len(RATINGS_ASCENDING)]
    for lik in RATINGS_ASCENDING:
        cells = []
        for imp in RATINGS_ASCENDING:
            value = a.matrix[lik][imp].value
            chosen = lik == a.likelihood.level and imp == a.impact.level
            cells.append(f"**[{value}]**" if chosen else value)
        out.append(f"| {lik.value} | " + " | ".join(cells) + " |")
    return out


def _recommendations(items: list[Recommendation], empty: str) -> list[str]:
    if not items:
        return [empty]
    return [f"- **{_inline(r.title)}**: {_inline(r.text)} *Why: {_inline(r.reason)}. Source: {_inline(r.source)}.*"
            for r in items]


def render_markdown(assessment: RiskAssessment) -> str:
    """The assessment document. Depends on nothing but ``assessment``."""
    a = assessment
    titles = {line.factor: line.title for line in a.factors}
    level = a.level.value.upper()
    out = [
        f"# Risk-of-harm assessment: {a.breach_id}", "",
        "| | |", "|---|---|",
        f"| System | {_cell(a.facts.system_id)} |",
        f"| Assessed | {a.assessed_at.isoformat()} by {_cell(a.assessed_by)} |",
        f"| Policy | version {a.policy_version}, {_cell(a.policy_title)} (sha256 `{a.policy_sha256}`) |",
        "",
        "## Result", "",
        f"- **Overall risk level: {level}** (likelihood {a.likelihood.level.value}, impact {a.impact.level.value}).",
        f"- Notify individuals: **{_yes(a.notify)}**. {a.notify_reason}",
        f"- Major incident: **{_yes(a.major_incident)}**. {a.major_incident_reason}",
        f"- Services offered: **{_yes(a.services_offered)}**."
        + (f" {_inline(a.no_services_reason)}" if a.no_services_reason else ""),
    ]
    if a.hipaa_four_factor is not None:
        out.append(f"- HIPAA: {a.hipaa_four_factor.summary}")
    if a.unreviewed_factors:
        out.append(f"- Not yet reviewed (suggestion stands): {', '.join(titles[f] for f in a.unreviewed_factors)}.")
    else:
        out.append("- Every factor was reviewed.")
    out += ["", "## Case facts", "", *_facts(a), "", "## Factors", "", *_factor_table(a), ""]
    for i, line in enumerate(a.factors, 1):
        out += _factor_detail(i, line)
    out += ["## How the level was reached", "", *_dimension(a.impact, titles), *_dimension(a.likelihood, titles),
            "### Matrix", "", *_matrix(a), "",
            f"Likelihood {a.likelihood.level.value} and impact {a.impact.level.value} give **{a.level.value}**.", ""]
    out += ["## Services", ""]
    if a.services and not a.services_offered:
        out += ["Called for by the data, but not offered:", ""]
    out += _recommendations(a.services, "None.")
    if a.no_services_reason:
        out += ["", f"Decision not to offer services: {_inline(a.no_services_reason)}"]
    out += ["", "## Guidance for individuals", "", *_recommendations(a.guidance, "None."),
            "", "## Countermeasures", "", *_recommendations(a.countermeasures, "None."), ""]
    h = a.hipaa_four_factor
    if h is not None:
        out += ["## HIPAA four-factor assessment (45 CFR 164.402)", "",
                "| HIPAA factor | Rating | Read from | Must be low |", "|---|---|---|---|"]
        for f in h.factors:
            source = f"{f.combine} of " + ", ".join(_label(x.value) for x in f.from_factors)
            out.append(f"| {_cell(f.title)} | {f.rating.value} | {source} | {_yes(f.must_be_low)} |")
        out += ["", f"- {h.secured_reason}",
                f"- Low probability of compromise: **{_yes(h.low_probability_of_compromise)}**.",
                f"- HIPAA notification required: **{_yes(h.notification_required)}**. {h.summary}", ""]
    out += ["---", f"Policy version {a.policy_version}, sha256 {a.policy_sha256}; assessment schema {a.schema_version}.", ""]
    return "\n".join(out)


__all__ = ["render_markdown"]

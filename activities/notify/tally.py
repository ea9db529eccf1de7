"""What a notification round counts, kept small enough to commit with every checkpoint.

Why one counter over combinations: counting each person under six headings (variant,
language, method, state...) costs six increments per person and six counters to save. A
person's attributes are instead one compact combination (bounded by variants x languages
x states, not by people), so each person costs one increment, the whole tally fits in the
progress row of the work database, and the round's ``NotifyCounts`` are derived from it
when the round ends (or is read back).
"""

from __future__ import annotations

from collections import Counter

from activities.notify.person import UNKNOWN_STATE
from models.notification import NotifyCounts


class Tally:
    """Counts of one round: one counter over combinations of (variant, language, requested
    untranslated language, large print, delivery method, state, no address)."""

    def __init__(self, saved: dict | None = None) -> None:
        saved = saved or {}
        self.rows_read = saved.get("rows_read", 0)
        self.errors = saved.get("errors", 0)
        self.duplicates = saved.get("duplicates", 0)
        self.not_in_previous = saved.get("not_in_previous", 0)
        self.cleaned = saved.get("cleaned", 0)  # error-report notes of removed characters (rows, and the letter facts)
        self.removed = saved.get("removed", 0)  # the characters removed
        self.combos: Counter = Counter({tuple(k): v for k, v in saved.get("combos", [])})

    def dump(self) -> dict:
        return {
            "rows_read": self.rows_read,
            "errors": self.errors,
            "duplicates": self.duplicates,
            "not_in_previous": self.not_in_previous,
            "cleaned": self.cleaned,
            "removed": self.removed,
            "combos": sorted([list(k), v] for k, v in self.combos.items()),
        }

    def counts(self, follow_up: bool) -> NotifyCounts:
        by_variant, by_language, by_method, by_state, untranslated = Counter(), Counter(), Counter(), Counter(), Counter()
        large = no_address = unreachable = exported = recipients = 0
        for (variant, language, requested_untranslated, large_print, method, state, has_no_address), n in self.combos.items():
            recipients += n
            by_variant[variant] += n
            by_language[language] += n
            by_state[state] += n
            if requested_untranslated:
                untranslated[requested_untranslated] += n
            if large_print:
                large += n
            if method:
                by_method[method] += n
                exported += n
            else:
                unreachable += n
            if has_no_address:
                no_address += n
        return NotifyCounts(
            rows_read=self.rows_read, recipients=recipients, exported=exported, duplicates_merged=self.duplicates,
            errors=self.errors, no_address=no_address, unreachable=unreachable, large_print=large,
            by_variant=dict(sorted(by_variant.items())), by_language=dict(sorted(by_language.items())),
            by_method=dict(sorted(by_method.items())), by_state=dict(sorted(by_state.items())),
            untranslated_languages=dict(sorted(untranslated.items())),
            not_in_previous_round=self.not_in_previous if follow_up else None,
            cleaned=self.cleaned, characters_removed=self.removed,
        )

    def unreachable_states(self) -> list[str]:
        """The known states of the people neither mail nor e-mail reaches (for the substitute notice)."""
        return sorted({state for (_, _, _, _, method, state, _), n in self.combos.items() if not method and state != UNKNOWN_STATE})

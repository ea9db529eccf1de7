"""The facts a case's letters state, from the case and the agency's letterhead.

Why here and not in the workflow: the letterhead is a file the agency edits (its call
center, addresses and standing wording), so reading it is I/O; the case supplies the
breach's own facts in a ``PrepareRequest``. The wording is English; a case's letters in
another approved language fall back to English (counted as untranslated) unless a
translation of these facts exists, which the agency adds to its templates' facts.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import ValidationError

from models.intake import ELEMENT_LABELS
from models.notification import Letterhead, LetterFacts, PrepareRequest


PROTECTION = {
    True: "The information was encrypted.",
    False: "The information was not encrypted or otherwise protected.",
    None: "We do not yet know whether the information was encrypted; we will tell you if we learn it was protected.",
}


class LetterheadError(Exception):
    """The letterhead file is missing or invalid; the message names the file and the field."""


def load_letterhead(path: Path) -> Letterhead:
    try:
        return Letterhead.model_validate(tomllib.loads(Path(path).read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise LetterheadError(f"letterhead file {path} does not exist (setting BREACH_LETTERHEAD_FILE)") from None
    except tomllib.TOMLDecodeError as exc:
        raise LetterheadError(f"letterhead file {path} is not valid TOML: {exc}") from None
    except ValidationError as exc:
        fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False))
        raise LetterheadError(f"letterhead file {path}: {fields}") from None


def case_facts(req: PrepareRequest, letterhead: Letterhead) -> LetterFacts:
    """The letter facts of one round: the case's facts over the letterhead's standing wording."""
    labels = list(dict.fromkeys(ELEMENT_LABELS.get(e, e.replace("_", " ").capitalize()) for e in req.data_elements))
    return LetterFacts(
        breach_from=req.breach_from,
        breach_to=req.breach_to,
        discovered_on=req.discovered_on,
        agency=letterhead.agency,
        notifying_official=req.notifying_official or letterhead.notifying_official,
        notifying_official_title=letterhead.notifying_official_title,
        contact=letterhead.contact,
        what_happened=req.what_happened,
        pii_types=labels,
        protection=PROTECTION[req.encrypted],
        guidance=req.guidance or letterhead.default_guidance,
        countermeasures=req.countermeasures,
        services=req.services,
        mitigation_steps=letterhead.mitigation_steps,
        follow_up_reason=req.follow_up_reason,
    )

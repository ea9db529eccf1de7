"""What a round publishes once its whole roster is exported: the CSV files under their final
names, the notices the law asks for, the request and the manifest, and the stored result.

Which notices (45 CFR 164.404(d)(2), 164.406 and Attachment C): a call-center sheet always;
a substitute notice when 10 or more people can be reached neither by mail nor by approved
e-mail (in every approved language it is translated into); a media notice for the states
with more than 500 residents among the recipients. Each is written whole and atomically
(``files.write_file``), then the manifest names every file with its checksum, so the
round's folder can be handed over and verified later. Closing runs again harmlessly on a
re-run that finds the export complete; the stored result makes later runs return at once.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import structlog

from activities.notify.files import RoundLayout, file_ref, write_file, write_json
from activities.notify.letters import Letters
from activities.notify.person import UNKNOWN_STATE
from activities.notify.round_files import ERRORS, EXPORT, NO_ADDRESS, RoundFiles
from activities.notify.tally import Tally
from activities.notify.workdb import WorkDB
from models.mailing import BASE_LANGUAGE
from models.notification import (
    MEDIA_NOTICE_THRESHOLD,
    SUBSTITUTE_NOTICE_DAYS,
    SUBSTITUTE_NOTICE_THRESHOLD,
    LetterFacts,
    NotifyRequest,
    NotifyResult,
)

log = structlog.get_logger("breach.notify")

CALL_CENTER, SUBSTITUTE, MEDIA = "call-center.txt", "substitute-notice.txt", "media-notice.txt"
_LANGUAGE_BREAK = "\n" + "=" * 72 + "\n\n"


def substitute_notice_decision(unreachable: int) -> tuple[bool, str, str]:
    """(required, reason, action) under 45 CFR 164.404(d)(2) and Attachment C."""
    if unreachable >= SUBSTITUTE_NOTICE_THRESHOLD:
        return True, (
            f"{unreachable} people cannot be reached by mail or approved e-mail ({SUBSTITUTE_NOTICE_THRESHOLD} or more): "
            f"substitute notice is required: a conspicuous web posting or major print and broadcast media, with a toll-free "
            f"number kept for at least {SUBSTITUTE_NOTICE_DAYS} days (45 CFR 164.404(d)(2))"
        ), "substitute_notice"
    if unreachable:
        return False, (
            f"{unreachable} people cannot be reached by mail (fewer than {SUBSTITUTE_NOTICE_THRESHOLD}): reach each by another "
            f"written notice, telephone or other means (listed in {NO_ADDRESS})"
        ), "alternative_contact"
    return False, "every recipient has a usable postal address or an approved e-mail address", "none"


def substitute_notice(letters: Letters, facts: LetterFacts, languages: list[str], states: list[str], **context) -> bytes:
    """The substitute notice in each of ``languages`` it has a template in (English when none
    has), one after the other; ``context`` gives breach_id, round and follow_up."""
    def render(code: str) -> str:
        return letters.render_document("substitute-notice", facts, code, states=states, days=SUBSTITUTE_NOTICE_DAYS,
                                       threshold=SUBSTITUTE_NOTICE_THRESHOLD, **context)

    parts = [render(code) for code in languages if letters.has_document("substitute-notice", code)] or [render(BASE_LANGUAGE)]
    return _LANGUAGE_BREAK.join(parts).encode()


def close_round(letters: Letters, req: NotifyRequest, roster: Path, sha: str, layout: RoundLayout, db: WorkDB) -> NotifyResult:
    """Publish the finished round and record its result as done in the work database."""
    RoundFiles.publish(layout)
    progress = db.progress()
    assert progress is not None
    tally = Tally(progress.counts)
    counts = tally.counts(req.round > 1)
    export = file_ref(layout.final(EXPORT), rows=counts.exported)
    no_address = file_ref(layout.final(NO_ADDRESS), rows=counts.unreachable)
    errors = file_ref(layout.final(ERRORS), rows=counts.errors + counts.cleaned)  # refusals, and notes of removed characters
    required, reason, action = substitute_notice_decision(counts.unreachable)
    media_states = sorted(s for s, n in counts.by_state.items() if n > MEDIA_NOTICE_THRESHOLD and s != UNKNOWN_STATE)
    translated = letters.translated(req.languages, req.facts)
    facts = req.facts
    common = {"breach_id": req.breach_id, "round": req.round, "follow_up": req.round > 1}
    call_center = write_file(layout.final(CALL_CENTER), letters.render_document(
        "call-center", facts, BASE_LANGUAGE, counts=counts, substitute_notice=required, days=SUBSTITUTE_NOTICE_DAYS, **common).encode())
    substitute = None
    if required:
        substitute = write_file(layout.final(SUBSTITUTE), substitute_notice(letters, facts, translated, tally.unreachable_states(), **common))
    media = None
    if media_states:
        rows = [{"state": s, "residents": counts.by_state[s]} for s in media_states]
        media = write_file(layout.final(MEDIA), letters.render_document(
            "media-notice", facts, BASE_LANGUAGE, states=rows, threshold=MEDIA_NOTICE_THRESHOLD, days=SUBSTITUTE_NOTICE_DAYS, **common).encode())
    write_json(layout.request, req.model_dump(mode="json"))
    resumed_from = int(db.get("resumed_from") or 0)
    manifest = write_json(layout.manifest, {
        "schema_version": 1,
        "breach_id": req.breach_id,
        "round": req.round,
        "letter": req.letter_kind.value,
        "roster": {"uri": req.roster_uri, "path": str(roster), "sha256": sha, "rows": counts.rows_read},
        "work_dir": str(layout.work.resolve()),
        "templates_sha256": letters.sha256,
        "facts_sha256": hashlib.sha256(req.facts.model_dump_json().encode()).hexdigest(),
        "languages_approved": req.languages,
        "languages_translated": translated,
        "email_allowed": req.email_allowed,
        "counts": counts.model_dump(mode="json"),
        "substitute_notice": {"required": required, "reason": reason, "no_address_action": action,
                              "threshold": SUBSTITUTE_NOTICE_THRESHOLD, "toll_free_days": SUBSTITUTE_NOTICE_DAYS,
                              "toll_free": facts.contact.toll_free},
        "media_notice": {"threshold": MEDIA_NOTICE_THRESHOLD, "states": {s: counts.by_state[s] for s in media_states}},
        "files": {
            "export": export.model_dump(), "no_address_list": no_address.model_dump(), "error_report": errors.model_dump(),
            "call_center_sheet": call_center.model_dump(),
            **({"substitute_notice": substitute.model_dump()} if substitute else {}),
            **({"media_notice": media.model_dump()} if media else {}),
        },
        "resumed_from_row": resumed_from,
        "attempts": progress.attempts,
        "started_at": db.get("started_at"),
        "completed_at": db.get("completed_at"),
        "notes": {
            "row": "error report rows count data rows from 1, after the header",
            "error_report": "refused rows, and notes of control or bidirectional-override characters removed (a row's, or with no row the letter facts')",
            "no_address_list": "people with neither a usable postal address nor an approved e-mail address",
        },
    })
    result = NotifyResult(
        breach_id=req.breach_id, round=req.round, letter=req.letter_kind, roster_sha256=sha, counts=counts,
        substitute_notice_required=required, substitute_notice_reason=reason, media_notice_states=media_states,
        export=export, manifest=manifest, no_address_list=no_address, error_report=errors, call_center_sheet=call_center,
        substitute_notice=substitute, media_notice=media, resumed_from_row=resumed_from,
    )
    db.put(status="done", result=result.model_dump_json())
    db.finish()
    log.info("notify round finished", breach_id=req.breach_id, round=req.round, recipients=counts.recipients,
             exported=counts.exported, duplicates=counts.duplicates_merged, errors=counts.errors, unreachable=counts.unreachable,
             substitute_notice=required)
    return result

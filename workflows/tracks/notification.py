"""The notification driver: the letters checked for the approvers, the mail-house export
of each notice round, the round's outcome, and the Notifying Official's record of a
mailing made by hand (plan: "Notification to individuals"; 45 CFR 164.404).

A case whose report names a roster exports it itself once HHS approves notification: the
letters are checked (templates, letterhead, facts) while CMS approves them, and again
before each round; the export runs as one long activity the main loop starts and
collects (``work``), paused by a hold and resumed from its checkpoint. A step that fails
for a reason no retry can fix stops the notification until ``breach notify-retry``.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import ValidationError

from models.case import ClockState, Stage
from models.decisions import Decision, RecordNotificationSent
from models.notification import LetterItem, NotifyRequest, NotifyResult, PrepareRequest
from models.records import RoundEntry
from workflows.case import Case
from workflows.details import span
from workflows.effects import ExportPaused, StepFailed
from workflows.tracks.closure import close
from workflows.ledger import CLOCK_FIXES
from workflows.tracks.hipaa import ocr_document, ocr_open
from workflows.view import export_round


def letters_due(case: Case) -> None:
    """Have the main loop check the letters (so the decision need not wait for the PDF);
    a new check replaces an earlier refusal."""
    case.s.letters_stale, case.s.notify_problem = True, None


def stopped(case: Case, finding: str, problem: str) -> None:
    """A notification step failed for a reason a retry cannot fix: hold the step until `notify-retry`."""
    case.s.notify_problem = problem
    case.ledger.finding(finding, f"{problem}; fix it, then run `breach notify-retry {case.s.report.breach_id}`")
    case.ledger.publish()


async def prepare_letters(case: Case) -> None:
    """Build the letters' facts, check every template variant and write the PDF preview."""
    s = case.s
    s.preparing_letters = True
    try:
        prepared = await case.fx.prepare_letters(prepare_request(case), summary=f"Check the letters of round {export_round(s)} and write their PDF preview")
    except StepFailed as exc:
        stopped(case, "letters_refused", str(exc))
        return
    finally:
        s.preparing_letters = False
    s.letters = prepared
    check = prepared.check
    untranslated = f"; sent in English to speakers of {', '.join(check.untranslated)}" if check.untranslated else ""
    case.ledger.event("letters_checked", detail=f"round {export_round(s)}: {check.letters_checked} letters rendered with every required element ({', '.join(v.value for v in check.variants)}); preview {prepared.preview.pdf.path}{untranslated}")
    case.ledger.publish()


def prepare_request(case: Case) -> PrepareRequest:
    s, r, a = case.s, case.s.report, case.s.assessment

    def items(recs) -> list[LetterItem]:
        return [LetterItem.from_recommendation(x) for x in recs]

    what = r.summary if len(r.summary) <= 5000 else r.summary[:4999] + "…"
    return PrepareRequest(
        breach_id=r.breach_id,
        round=export_round(s),
        out_folder=r.breach_id,
        languages=s.notification.languages if s.notification else ["en"],
        breach_from=(r.occurred_from or r.discovered_at).date(),
        breach_to=r.occurred_to.date() if r.occurred_to else None,
        discovered_on=r.discovered_at.date(),
        what_happened=what,
        data_elements=[e.value for e in s.data_elements] or ["other"],
        encrypted=r.encrypted,
        guidance=items(a.guidance) if a else [],
        countermeasures=items(a.countermeasures) if a else [],
        services=items(a.services) if a and a.services_offered else [],
        notifying_official=s.notification.notifying_official if s.notification else None,
        follow_up_reason=s.follow_up_reason if export_round(s) > 1 else None,
    )


async def work(case: Case) -> None:
    """The main loop's notification step: check the letters when due, collect a finished
    export, start the export when the case is ready for it."""
    s, ledger = case.s, case.ledger
    while s.letters_stale and s.stage is Stage.cms_approval and not s.notify_problem:
        s.letters_stale = False
        await prepare_letters(case)
    if ledger.export is not None and ledger.export.done():
        task, ledger.export = ledger.export, None
        s.notify_progress = None
        try:
            result = await case.fx.finish_export(task)
        except ExportPaused:
            ledger.event("notification_export_paused", detail=f"round {export_round(s)} stopped by a hold; it resumes from its last checkpoint when the hold ends")
            ledger.publish()
        except StepFailed as exc:
            stopped(case, "notification_export_failed", str(exc))
        else:
            await round_done(case, result)
            await case.sync()  # the register learns the round's outcome: notified, and closed when the round closed the case
    if ledger.export_due():
        if s.export_request is None or s.export_request.round != export_round(s):
            await prepare_letters(case)
            if s.notify_problem or not ledger.export_due():
                return
            n = s.notification
            try:
                s.export_request = NotifyRequest(
                    breach_id=s.report.breach_id, round=export_round(s), roster_uri=s.report.roster_uri, facts=s.letters.facts,
                    languages=n.languages, email_allowed="email" in n.method, out_folder=s.report.breach_id,
                )
            except ValidationError as exc:  # e.g. a language code the letters cannot name: refused, not a stuck task
                stopped(case, "notification_export_failed", "the export request is invalid: " + "; ".join(e["msg"] for e in exc.errors(include_url=False)))
                return
        ledger.export = case.fx.start_export(s.export_request, summary=f"Export round {s.export_request.round} of the letters to the mail house")
        ledger.event("notification_export_started", detail=f"round {s.export_request.round} from {s.report.roster_uri}")
        ledger.publish()


async def round_done(case: Case, result: NotifyResult) -> None:
    s, ledger, c = case.s, case.ledger, result.counts
    await case.record_round(RoundEntry(result=result, completed_at=case.now()), summary=f"Register round {result.round}: {c.recipients} recipients")
    s.rounds.append(result)
    if result.substitute_notice_required:
        until = (case.now() + timedelta(days=90)).date().isoformat()
        ledger.finding("substitute_notice_required", f"{result.substitute_notice_reason}. Notice text: {result.substitute_notice.path if result.substitute_notice else '-'}; keep the toll-free number until at least {until}")
    elif c.unreachable:
        ledger.event("alternative_contact", detail=result.substitute_notice_reason)
    if result.media_notice_states:
        ledger.event("media_notice_prepared", detail=f"more than 500 residents in {', '.join(result.media_notice_states)}: media notice {result.media_notice.path if result.media_notice else '-'}")
    if c.untranslated_languages:
        ledger.event("letters_untranslated", detail="; ".join(f"{lang}: {n} sent in English" for lang, n in sorted(c.untranslated_languages.items())))
    detail = f"{c.recipients} of {c.recipients} unique recipients notified ({c.exported} exported, {c.duplicates_merged} duplicates merged, {c.errors} rows refused); export {result.export.path} sha256 {result.export.sha256}"
    await notified(case, c.recipients, bool(result.media_notice_states), detail)


async def notified(case: Case, individuals: int, media_notice: bool, detail: str) -> None:
    """A notice round is done: settle the notification clocks, tell OCR, close when in notify."""
    s, ledger = case.s, case.ledger
    tell_ocr = s.report.hipaa_covered and ocr_open(case)
    s.notice_rounds += 1
    s.individuals_notified = max(s.individuals_notified, individuals)
    ledger.settle("record_notification_sent")
    for name in ("hipaa_individuals", "hipaa_ocr"):
        ledger.settle(name)  # on time: met; already missed: the late date is recorded
    if "hipaa_media" in s.clocks:
        if media_notice:
            ledger.settle("hipaa_media")
        elif s.clocks["hipaa_media"].state is not ClockState.met:
            ledger.not_applicable("hipaa_media", "no state has more than 500 affected residents")
    ledger.event("notification_batch_done", detail=f"round {s.notice_rounds}: {detail}")
    before_fix = s.report.hipaa_covered and s.notice_rounds == 1 and "hipaa_ocr" in s.clocks  # also sent when the clock was retired
    if tell_ocr if tell_ocr == before_fix or ledger.patched(CLOCK_FIXES) else before_fix:
        await case.send("hipaa_ocr_notice", ocr_document(case), summary="Notify HHS OCR with the individual notice (45 CFR 164.408)")
    if s.stage is Stage.notify:  # new information during the export reopened the assessment: a follow-up round comes
        await close(case, "notified")
    else:
        ledger.publish()


def can_record_sent(case: Case, d: Decision, p: RecordNotificationSent) -> str | None:
    s = case.s
    reason = case.ledger.need_stage(Stage.notify)
    if not reason and s.report.roster_uri:
        reason = f"the case exports its roster ({s.report.roster_uri}) to the mail house and records the mailing itself"
    if not reason and s.hold:
        reason = f"notification is held for another {span(s.clocks['law_enforcement_hold'].due_at - case.now())} ({s.hold.authority})"
    return reason


async def record_sent(case: Case, d: Decision, p: RecordNotificationSent) -> str:
    await notified(case, p.individuals_notified, p.media_notice, f"{p.individuals_notified} individuals notified")
    return f"notification round {case.s.notice_rounds} recorded"


async def retry(case: Case) -> str:
    """Run the failed notification step again once its cause is fixed (template, letterhead, roster)."""
    s = case.s
    problem, s.notify_problem = s.notify_problem, None
    case.ledger.event("notification_retried", detail=f"after: {problem}")
    case.ledger.wake = True
    if s.stage is Stage.cms_approval:
        await prepare_letters(case)
        return "letters checked again: " + (f"refused: {s.notify_problem}" if s.notify_problem else "ready for CMS approval")
    return "the export will run again"

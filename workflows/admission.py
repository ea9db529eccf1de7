"""Admitting a decision: is this message a decision of a registered operator, and may the
case take it now?

Two kinds of "no", kept apart (issue "Trust nothing unauthenticated", item 6):
- ``message_problem``: the message is not attributable — an unknown decision name, an
  undecodable envelope, no signature, an unknown operator, a signature that does not
  match, one made too far from the case's clock, or a decision id already applied. The
  workflow's validator rejects these, so they leave no history (there is nobody to
  attribute them to); the HTTP API and the CLI log them. ``busy`` joins them: a case a
  moment away from taking the decision says "try again in a moment" without a record.
- ``authorize``: a signed decision of a registered operator that the case refuses (role,
  stage, payload, guard). It raises ``DecisionRefused(recorded=True)``; the workflow puts
  the refusal on record (history, timeline, audit trail) with its reason.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from models.decisions import Decision, DecisionRefused
from models.operators import signature_valid, signing_bytes
from workflows.case import Case
from workflows.decision_table import DECISIONS, DecisionRow
from workflows.details import span


def read(name: str, args: Sequence[Any], decode: Callable[[Any], Decision]) -> tuple[DecisionRow, Decision]:
    """The decision's table row and its envelope; ``ValueError`` when either is missing or unreadable."""
    row = DECISIONS.get(name)
    if row is None:
        raise ValueError(f"unknown decision {name!r}; known decisions: {', '.join(sorted(DECISIONS))}")
    if len(args) != 1:
        raise ValueError(f"{name}: expected one decision argument, got {len(args)}")
    try:
        return row, decode(args[0])
    except ValidationError as exc:
        raise ValueError(f"{name}: malformed decision: {_fields(exc)}") from None
    except Exception as exc:  # noqa: BLE001 - any undecodable payload is a rejection, not a task failure
        raise ValueError(f"{name}: undecodable decision: {exc}") from None


def message_problem(case: Case, workflow_id: str, name: str, decision: Decision) -> str | None:
    """Why this message cannot be attributed to a registered operator (or is a replay), if it cannot."""
    s, actor, now = case.s, decision.actor, case.now()
    if not decision.signature or decision.signed_at is None:
        return "unsigned decision: every decision must be signed with the operator's key (the breach CLI signs)"
    operator = s.operators.get(actor.name)
    if operator is None:
        return f"{actor.name} is not an operator of this case"
    message = signing_bytes(workflow_id, name, decision.decision_id, actor.model_dump(mode="json"), decision.rationale, decision.payload, decision.signed_at)
    if not signature_valid(operator.public_key, decision.signature, message):
        return f"the signature does not match {actor.name}'s key: the decision was forged or altered"
    skew = abs(now - decision.signed_at)
    if skew > s.config.signature_window:
        return f"the decision was signed {span(skew)} away from the case's clock (more than {span(s.config.signature_window)}); sign it again"
    done = next((d for d in s.decisions if d.decision_id == decision.decision_id), None)
    if done:
        return f"decision id {decision.decision_id} was already applied ({done.decision} by {done.by}, {span(now - done.at)} ago)"
    return None


def authorize(case: Case, name: str, row: DecisionRow, decision: Decision) -> BaseModel:
    """The decision's payload when the case may take it now; else ``DecisionRefused(recorded=True)``."""
    s, actor = case.s, decision.actor

    def refuse(reason: str) -> DecisionRefused:
        return DecisionRefused(reason, recorded=True)

    if actor.role not in row.roles:
        raise refuse(f"{name} may be made by {', '.join(sorted(r.value for r in row.roles))}, not by role {actor.role.value}")
    operator = s.operators.get(actor.name)
    if operator is None:  # message_problem refuses it first; kept so this check stands on its own
        raise refuse(f"{actor.name} is not an operator of this case")
    if actor.role not in operator.roles:
        raise refuse(f"{actor.name} does not hold role {actor.role.value} in this case (holds {', '.join(r.value for r in operator.roles)})")
    if s.closed:
        raise refuse(f"the case is closed ({s.main_outcome}); no further decisions")
    if s.main_outcome and not row.after_outcome:
        raise refuse(f"the case's outcome ({s.main_outcome}) is recorded; it closes once every major-incident report is sent")
    try:
        payload = row.payload.model_validate(decision.payload)
    except ValidationError as exc:
        raise refuse(f"{name}: malformed decision: {_fields(exc)}") from None
    if reason := row.guard(case, decision, payload):
        raise refuse(f"{name}: {reason}")
    if reason := busy(case, name, row):  # became busy since validation (a rival decision)
        raise refuse(reason)
    return payload


def busy(case: Case, name: str, row: DecisionRow) -> str | None:
    """"Try again in a moment": the validator rejects it without a record (not a refusal of substance)."""
    reason = row.busy(case) if row.busy else None
    return f"{name}: {reason}" if reason else None


def _fields(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'payload'}: {e['msg']}" for e in exc.errors(include_url=False))

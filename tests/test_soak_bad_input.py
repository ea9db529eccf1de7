"""Soak on bad input: random sequences of valid and invalid decisions against running cases.

Hypothesis drives each example as one new case on the time-skipping test server with the
real worker. Every step is one of: the decision the case awaits, properly signed (so
cases move through their stages); the same with one flaw (any role, a bad signer, or an
applied decision id), where the stage would allow it; a random attempt (a decision name from DECISIONS or an
unknown one, any role, a payload valid for it, valid for another decision or garbage,
a signer who is the right person, a registered person without the role, an unregistered
name, a forged / missing / stale / tampered / misdirected signature, a fresh decision
id or one the case already applied); an exact resubmission of an accepted decision;
or a skip of simulated time (reminders, escalations, missed clocks fire meanwhile).

Checked at every step and after every example:

* the workflow never fails: no WorkflowTaskFailed event in its history, it is running
  or completed normally, and every accepted decision's update returns (no activity
  left retrying);
* it never accepts what it must refuse. The oracle is written here, independently of
  the workflow's code: an unknown decision name, a role not allowed for the decision
  (workflows/decision_table.py DECISIONS is the specification), a payload its model refuses,
  a signature that is missing, forged, stale, altered or for another case or decision,
  a signer who is not registered or does not hold the role, and a decision id the case
  already applied (unless it is the very same submission retried, which returns the
  first outcome and applies nothing twice);
* every refusal is explained: a non-empty reason that names the decision or one of
  the problems the oracle found; and a refusal changes nothing (the case's details
  before and after are equal);
* an accepted decision is recorded once in the case's decisions, with its name, role
  and signer.

Bounded: 25 examples of at most 16 steps, each example its own case (terminated at
its end); the module takes well under a minute.
"""

# ruff: noqa: F811 - pytest fixtures imported from tests.workflow_env are test parameters
from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError

from models.case import Stage
from models.decisions import Actor, Decision, DecisionOutcome, DecisionRefused, Role
from models.intake import DataElement
from starter.decisions import submit
from starter.signing import sign
from tests.workflow_env import (  # noqa: F401 (fixture)
    DAY,
    MINUTE,
    NOTIFICATION,
    Case,
    Harness,
    World,
    drive,
    skipping,
)
from workflows.decision_table import DECISIONS

NAMES = sorted(DECISIONS)
ROLES = list(Role)
# Not decisions: near misses, the workflow's own method names, a query, and its other update
# (refresh_operators, which a case with operators refuses).
UNKNOWN_NAMES = ["approve_everything", "Confirm_PII", "confirm-pii", "confirm_pii_", "_on_confirm_pii", "_can_close", "__init__", "details", "decide", "refresh_operators", "x" * 300, "é\u2028"]
SIGNERS = ["holder", "holder", "holder", "sam", "other_holder", "unregistered", "forged", "unsigned", "no_time", "stale", "tampered", "other_case", "other_decision"]
BAD_SIGNERS = [s for s in SIGNERS if s not in ("holder", "sam")]
UNREGISTERED = ["Mallory", "test cms_sop", "Test CMS_SOP", "Test cms_sop\u200b", "Sam  Ortiz"]
STEP_TIMEOUT = 30  # seconds for one decision's round trip; an accepted decision whose activity keeps failing never returns

# How a run may end other than running on or completing (closing the case).
CLOSED_BADLY = {"EVENT_TYPE_WORKFLOW_EXECUTION_FAILED", "EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT", "EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED", "EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED"}
SIGNATURE_WORDS = ["unsigned", "not an operator", "does not hold role", "signature does not match", "sign it again"]
ALL_PROBLEM_WORDS = ["unknown decision", "malformed decision", "undecodable", "not by role", *SIGNATURE_WORDS, "already applied", "case is closed", "outcome"]


# ---------------------------------------------------------------------------- payloads

texts = st.text(min_size=1, max_size=40).filter(lambda s: s.strip())
json_scalars = st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)
comments = st.fixed_dictionaries({"comments": texts})
counts = st.integers(0, 2**40)  # beyond 2**63: see the tests at the end


def valid_payload(name: str, now: datetime) -> st.SearchStrategy[dict]:
    """Payloads the decision's payload model accepts (checked again by the oracle, not assumed)."""
    elements = st.lists(st.sampled_from(list(DataElement)).map(lambda e: e.value), max_size=3, unique=True)
    return {
        "confirm_pii": st.fixed_dictionaries({"is_pii": st.sampled_from([True, True, True, False])}, optional={"federal_data": st.booleans(), "data_elements": elements, "compliance_docs": st.lists(texts, max_size=2)}),
        "co_acknowledge": st.just({}),
        "co_request_information": st.fixed_dictionaries({"request": texts}),
        "co_record_contractor_response": st.fixed_dictionaries({"summary": texts}, optional={"artifacts": st.lists(texts, max_size=3)}),
        "co_complete_review": st.fixed_dictionaries({"contractor_cooperated": st.booleans(), "obligations": texts}),
        "submit_risk_assessment": st.just({"answers": {}}) | st.fixed_dictionaries({"answers": st.fixed_dictionaries({}, optional={"exposure_hours": st.floats(0, 10_000), "encryption_in_effect": st.booleans(), "misuse_evidence": st.sampled_from(["none", "suspected", "confirmed"])})}),
        "determine_major_incident": st.fixed_dictionaries({"is_major": st.booleans(), "rationale": texts}),
        "approve_major_incident": st.just({}) | comments,
        "reject_major_incident": comments,
        "approve_response_plan": st.just({}) | comments,
        "reject_response_plan": comments,
        "approve_notification": st.just(NOTIFICATION) | st.fixed_dictionaries({"method": st.lists(st.sampled_from(["first_class_mail", "email", "telephone", "substitute_notice"]), min_size=1, max_size=2), "notifying_official": texts}),
        "reject_notification": comments,
        "approve_outbound_report": st.fixed_dictionaries({"kind": st.sampled_from(["cisa_omb", "congress_oig", "supplemental_30d"])}),
        "delay_notification": st.fixed_dictionaries({
            "until": st.timedeltas(timedelta(minutes=1), timedelta(days=3650)).map(lambda d: (now + d).isoformat()),
            "authority": texts,
            "written": st.booleans(),
        }),
        "lift_delay": st.just({}) | comments,
        "pim_approve_closure": st.just({}) | comments,
        "pim_request_more_info": st.fixed_dictionaries({"request": texts}),
        "respond_to_pim": st.fixed_dictionaries({"response": texts}),
        "new_information": st.fixed_dictionaries({}, optional={"data_elements_added": elements, "individuals_delta": st.integers(-200, 200_000), "misuse_evidence": st.booleans()}),
        "record_notification_sent": st.fixed_dictionaries({"individuals_notified": counts}, optional={"media_notice": st.booleans()}),
        "update_operators": st.just("ROSTER"),  # replaced by the case's own roster (or one without a cms_sop)
    }[name]


def mutated(payload: dict) -> st.SearchStrategy[dict]:
    """A payload with one field added, removed or given a random value."""
    extra = st.tuples(st.text(min_size=1, max_size=10), json_values).map(lambda kv: {**payload, kv[0]: kv[1]})
    options = [extra]
    if payload:
        keys = sorted(payload)
        options.append(st.sampled_from(keys).map(lambda k: {x: v for x, v in payload.items() if x != k}))
        options.append(st.tuples(st.sampled_from(keys), json_values).map(lambda kv: {**payload, kv[0]: kv[1]}))
    return st.one_of(options)


def payload_ok(name: str, payload: Any) -> bool:
    row = DECISIONS.get(name)
    if row is None or not isinstance(payload, dict):
        return False
    try:
        row.payload.model_validate(payload)
    except ValidationError:
        return False
    return True


# ---------------------------------------------------------------------------- one attempt


@dataclass
class Attempt:
    name: str
    role: Role
    signer: str
    payload: Any
    decision_id: str
    rationale: str | None
    reuses_applied_id: bool = False

    def problems(self) -> dict[str, list[str]]:
        """What the oracle knows must make the case refuse this attempt, with the words a reason would use."""
        found: dict[str, list[str]] = {}
        row = DECISIONS.get(self.name)
        if self.name == "refresh_operators":  # the workflow's other update: it takes nothing, and only while a case has no operators
            found["not a decision; the case has operators"] = ["already has operators"]
            return found
        if row is None:
            found["unknown decision name"] = ["unknown decision"]
            return found
        if not payload_ok(self.name, self.payload):
            found["payload refused by its model"] = ["malformed decision", "undecodable"]
        if self.role not in row.roles:
            found["role not allowed"] = [f"not by role {self.role.value}"]
        if self.signer not in ("holder", "sam") or (self.signer == "sam" and self.role is not Role.cms_sop):
            found[f"bad signer ({self.signer})"] = SIGNATURE_WORDS
        if self.reuses_applied_id:
            found["decision id already applied"] = ["already applied"]
        return found


@dataclass
class Soak:
    harness: Harness
    case: Case
    timeout: float = STEP_TIMEOUT
    applied: dict[str, tuple[str, Decision, DecisionOutcome]] = field(default_factory=dict)  # decision id -> (name, decision, outcome)
    log: list[str] = field(default_factory=list)

    @property
    def world(self) -> World:
        return self.harness.world

    async def signed(self, a: Attempt) -> Decision:
        now = await self.harness.now()
        ops = self.world.operators
        name = {"holder": f"Test {a.role.value}", "sam": "Sam Ortiz", "forged": f"Test {a.role.value}", "unsigned": f"Test {a.role.value}", "no_time": f"Test {a.role.value}"}.get(a.signer)
        if a.signer == "other_holder":
            name = next(n for n, roles in ops.roles.items() if a.role not in roles)
        elif a.signer == "unregistered":
            name = UNREGISTERED[len(a.decision_id) % len(UNREGISTERED)]
        elif name is None:
            name = f"Test {a.role.value}"
        payload = a.payload if isinstance(a.payload, dict) else {}
        decision = Decision(decision_id=a.decision_id, actor=Actor(name=name, role=a.role), rationale=a.rationale, payload=payload)
        case_id, decision_name, at = self.case.handle.id, a.name, now
        key = ops.keys.get(name)
        if a.signer in ("forged", "unregistered") or key is None:
            key = Ed25519PrivateKey.generate()
        if a.signer == "stale":
            at = now - timedelta(hours=2)
        elif a.signer == "other_case":
            case_id = f"breach-api-{uuid.uuid4().hex[:8]}"
        elif a.signer == "other_decision":
            decision_name = next(n for n in NAMES if n != a.name)
        if a.signer == "unsigned":
            return decision
        signed = sign(decision, case=case_id, decision_name=decision_name, key=key, at=at)
        if a.signer == "no_time":
            return signed.model_copy(update={"signed_at": None})
        if a.signer == "tampered":
            return signed.model_copy(update={"rationale": (a.rationale or "") + " (edited after signing)"})
        return signed

    async def send(self, name: str, decision: Decision) -> DecisionOutcome | str:
        """The outcome, or the reason of the refusal."""
        try:
            return await asyncio.wait_for(submit(self.case.handle, name, decision), self.timeout)
        except DecisionRefused as exc:
            return str(exc)
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):  # the client may turn the cancellation into its own error
            raise AssertionError(f"{name} got no answer in {self.timeout}s: an accepted decision whose handler never finishes (failing workflow task or activity)\n{self.trace()}") from None

    def trace(self) -> str:
        return "steps so far:\n  " + "\n  ".join(self.log)

    async def attempt(self, a: Attempt) -> None:
        decision = await self.signed(a)
        problems = a.problems()
        before = await self.case.view()  # the previous step left the case idle
        result = await self.send(a.name, decision)
        await self.case.idle()
        after = await self.case.view()
        self.log.append(f"{a.name!r} role={a.role.value} signer={a.signer} id={a.decision_id} payload={a.payload!r:.120} -> {result if isinstance(result, str) else 'accepted: ' + result.message}")
        if isinstance(result, DecisionOutcome):
            assert not problems, f"accepted although {sorted(problems)}\n{self.trace()}"
            recorded = [d for d in after.decisions if d["decision_id"] == a.decision_id]
            assert len(recorded) == 1, f"accepted decision {a.decision_id} recorded {len(recorded)} times\n{self.trace()}"
            assert (recorded[0]["decision"], recorded[0]["role"], recorded[0]["by"]) == (a.name, a.role.value, decision.actor.name)
            assert (result.decision, result.decision_id) == (a.name, a.decision_id)
            self.applied[a.decision_id] = (a.name, decision, result)
            return
        reason = result
        assert reason.strip(), f"refused without a reason\n{self.trace()}"
        if problems:
            words = [w for ws in problems.values() for w in ws] + ["case is closed"]
            assert any(w in reason for w in words), f"refused, but the reason {reason!r} names none of {sorted(problems)}\n{self.trace()}"
        else:
            assert (a.name and a.name in reason) or any(w in reason for w in ALL_PROBLEM_WORDS), f"reason {reason!r} names neither the decision nor a problem\n{self.trace()}"
        assert after == before, f"refused ({reason}) but the case changed\n{self.trace()}"

    async def retry(self, decision_id: str) -> None:
        """The same signed submission again (a client retrying after a lost answer): applied once."""
        name, decision, first = self.applied[decision_id]
        before = await self.case.view()
        result = await self.send(name, decision)
        await self.case.idle()
        after = await self.case.view()
        self.log.append(f"retry {name} {decision_id} -> {result if isinstance(result, str) else 'same outcome' if result == first else result}")
        if isinstance(result, DecisionOutcome):
            assert result == first, f"a retried submission got another outcome: {result} != {first}\n{self.trace()}"
        else:
            assert result.strip() and ("already applied" in result or "case is closed" in result), f"retry refused with {result!r}\n{self.trace()}"
        assert [d["decision_id"] for d in after.decisions].count(decision_id) == 1
        assert after == before, f"a retried submission changed the case\n{self.trace()}"

    async def check_healthy(self) -> None:
        events = await self.case.history()
        failed = [e for e in events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]
        assert not failed, f"workflow task failed: {failed[0].workflow_task_failed_event_attributes.failure.message}\n{self.trace()}"
        last = EventType.Name(events[-1].event_type)
        assert last not in CLOSED_BADLY, f"workflow ended with {last}\n{self.trace()}"
        if events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
            view = await self.case.view()
            assert (view.status, view.stage) == ("concluded", "closed"), f"completed but {view.status} in {view.stage}\n{self.trace()}"


def awaited(view) -> list[str]:
    """Decision names the case says it awaits (from its details), in order."""
    text = view.awaiting or ""
    names = [n for n in NAMES if n in text]
    return sorted(names, key=text.index)


# ---------------------------------------------------------------------------- the soak


# No shrinking: each step is a round trip to a real server, and a failure's message lists its steps.
@settings(max_examples=25, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate], suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data(), sample=st.sampled_from(["qecp", "recon", "laptop"]), steps=st.integers(4, 16))
async def test_random_decisions_never_break_a_case(skipping, data, sample, steps):
    async with Harness(skipping) as harness:
        soak = Soak(harness, await harness.new_case(sample))
        for _ in range(steps):
            now = await harness.now()
            view = await soak.case.view()
            kind = data.draw(st.sampled_from(["script"] * 5 + ["script with a flaw"] * 3 + ["random"] * 4 + ["retry", "wait"]), label="kind")
            if kind == "wait":
                delta = data.draw(st.timedeltas(MINUTE, 10 * DAY), label="wait")
                soak.log.append(f"wait {delta}")
                await harness.sleep(delta)
                continue
            if kind == "retry" and soak.applied:
                await soak.retry(data.draw(st.sampled_from(sorted(soak.applied)), label="retry"))
                continue
            if kind in ("script", "script with a flaw") and awaited(view):
                # What the case awaits, so that its stage allows it: correct, or with one flaw (role, signer or id).
                name = data.draw(st.sampled_from(awaited(view)), label="next")
                role = data.draw(st.sampled_from(sorted(DECISIONS[name].roles)), label="role")
                signer, rationale, decision_id, reuses = "holder", None, harness.decision_id(name), False
                if kind == "script with a flaw":
                    flaw = data.draw(st.sampled_from(["role", "signer", "id"] if soak.applied else ["role", "signer"]), label="flaw")
                    if flaw == "role":
                        role = data.draw(st.sampled_from(ROLES), label="any role")
                    elif flaw == "signer":
                        signer = data.draw(st.sampled_from(BAD_SIGNERS), label="bad signer")
                    else:
                        decision_id, reuses = data.draw(st.sampled_from(sorted(soak.applied)), label="applied id"), True
            else:
                name = data.draw(st.sampled_from(NAMES) | st.sampled_from(UNKNOWN_NAMES), label="name")
                allowed = sorted(DECISIONS[name].roles) if name in DECISIONS else []
                role = data.draw(st.sampled_from(allowed) | st.sampled_from(ROLES) if allowed else st.sampled_from(ROLES), label="role")
                signer = data.draw(st.sampled_from(SIGNERS), label="signer")
                rationale = data.draw(st.none() | st.text(max_size=40), label="rationale")
                reuse = data.draw(st.booleans(), label="reuse id") and soak.applied
                decision_id = data.draw(st.sampled_from(sorted(soak.applied)), label="applied id") if reuse else harness.decision_id(name[:20] or "x")
                reuses = bool(reuse)
            template = name if name in DECISIONS else data.draw(st.sampled_from(NAMES), label="payload of")
            payload = data.draw(valid_payload(template, now), label="payload")
            if payload == "ROSTER":
                roster = soak.world.operators.roster().model_dump(mode="json")["operators"]
                without_sop = [o for o in roster if "cms_sop" not in o["roles"]]
                payload = {"operators": data.draw(st.sampled_from([roster, without_sop, []]), label="roster")}
            if kind == "random":
                payload = data.draw(st.just(payload) | mutated(payload) | st.dictionaries(st.text(max_size=12), json_values, max_size=4), label="payload variant")
            await soak.attempt(Attempt(name, Role(role), signer, payload, decision_id, rationale, reuses))
        await soak.check_healthy()


# ---------------------------------------------------------------------------- found by the soak: counts beyond 64 bits


async def test_counts_beyond_64_bits_are_refused_not_fatal(skipping):
    """Fixed: individuals_delta is bounded (a count past 2**63 failed every workflow task on its search attribute)."""
    async with Harness(skipping) as harness:
        soak = Soak(harness, await harness.new_case("qecp"), timeout=5)
        await soak.attempt(Attempt("new_information", Role.cms_sop, "holder", {"individuals_delta": 2**63}, harness.decision_id("new_information"), None))
        await soak.check_healthy()


async def test_a_notified_count_beyond_64_bits_is_refused_not_stuck(skipping):
    async with Harness(skipping) as harness:
        soak = Soak(harness, await harness.new_case("qecp"), timeout=5)
        await drive(soak.case, Stage.notify)
        await soak.attempt(Attempt("record_notification_sent", Role.notifying_official, "holder", {"individuals_notified": 2**63}, harness.decision_id("record_notification_sent"), None))
        await soak.check_healthy()

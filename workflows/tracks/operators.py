"""Who may decide on a case: the operators file loaded at intake, changed by signed decision.

An operator is a name, the roles held and an Ed25519 public key (models/operators.py);
every decision must be signed by one (workflows/admission.py checks it).
"""

from __future__ import annotations

from models.decisions import Decision, UpdateOperators
from models.operators import OperatorRoster
from models.roles import Role
from workflows.case import Case


async def load(case: Case) -> None:
    s = case.s
    s.operators = await case.fx.load_operators()
    if s.operators.operators:
        case.ledger.event("operators_registered", detail=", ".join(f"{o.name} ({'/'.join(r.value for r in o.roles)})" for o in s.operators.operators))
    else:
        case.ledger.finding("no_operators", "the operators file lists nobody, so every decision is refused; add operators, then run `breach operator refresh CASE`")


def can_update(case: Case, d: Decision, p: UpdateOperators) -> str | None:
    if not any(Role.cms_sop in o.roles for o in p.operators):
        return "the new operators must include at least one cms_sop, or nobody could change them again"
    names = [o.name for o in p.operators]
    if len(set(names)) != len(names):
        return "operator names must be unique"
    return None


async def update(case: Case, d: Decision, p: UpdateOperators) -> str:
    s = case.s
    before = {o.name for o in s.operators.operators}
    s.operators = OperatorRoster(operators=list(p.operators))
    after = {o.name for o in s.operators.operators}
    case.ledger.event("operators_changed", detail=f"added {sorted(after - before) or 'none'}; removed {sorted(before - after) or 'none'}")
    return f"{len(after)} operator(s) registered"

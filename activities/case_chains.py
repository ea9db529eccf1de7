"""Cross-check of each case's audit entries against the chain head its workflow holds.

The register's own chain (``activities/audit.py``) cannot see a table rewritten
consistently or a case's entries deleted together with the head. Each entry a case
writes carries its place in the case's chain (``models/case_chain.py``); the workflow
keeps the head. ``check`` recomputes every case's chain from the register and compares
it with the heads read from the workflows, so truncation, a deleted tail, an edited row
and a consistent rewrite of the table are all found. It only reads.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import Engine, select

from activities.audit import snapshot
from models.case_chain import CASE_CHAIN, GENESIS, CaseChain, content_digest, link
from models.register import AuditEvent

_EVENTS = AuditEvent.__table__
RECONCILIATION = "reconciliation:"  # kind prefix of the entries worker/reconcile.py writes


@dataclass
class RegisterChain:
    """One case's entries in the register: the anchored ones by their case seq, and how many carry no anchor."""

    anchored: dict[int, tuple[str, str]] = field(default_factory=dict)  # case seq -> (recomputed link over content, recorded hash)
    legacy: int = 0
    problems: list[str] = field(default_factory=list)


def register_chains(engine: Engine) -> dict[str, RegisterChain]:
    """Every case's chain as the register holds it (entries in register order)."""
    c = _EVENTS.c
    chains: dict[str, RegisterChain] = defaultdict(RegisterChain)
    rows: dict[str, list] = defaultdict(list)
    with snapshot(engine) as conn:
        for row in conn.execute(select(c.seq, c.event_key, c.breach_id, c.at, c.kind, c.actor, c.role, c.detail).order_by(c.seq).execution_options(yield_per=1000)):
            rows[row.breach_id].append(row)
    for breach_id, entries in rows.items():
        chain = chains[breach_id]
        anchored = []
        for row in entries:
            if row.kind.startswith(RECONCILIATION):
                continue  # written by the check itself, not by the case: only the register's chain covers it
            place = (row.detail or {}).get(CASE_CHAIN) if isinstance(row.detail, dict) else None
            if not place:
                chain.legacy += 1
                continue
            digest = content_digest(event_key=row.event_key, breach_id=row.breach_id, at=row.at, kind=row.kind, actor=row.actor, role=row.role, detail=row.detail)
            anchored.append((int(place["seq"]), str(place["hash"]), digest, row))
        prev = GENESIS
        for seq, recorded, digest, row in sorted(anchored, key=lambda a: a[0]):
            if seq in chain.anchored:
                chain.problems.append(f"case {breach_id}: two entries claim place {seq} of its chain")
                continue
            expected = link(prev, digest)
            chain.anchored[seq] = (expected, recorded)
            if recorded != expected and not chain.problems:
                chain.problems.append(f"case {breach_id}: entry {row.seq} ({row.kind}), place {seq} of the case's chain, was changed or an entry before it is missing")
            prev = recorded
    return dict(chains)


@dataclass(frozen=True)
class CrossCheck:
    cases: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def check(engine: Engine, heads: Mapping[str, CaseChain | str]) -> CrossCheck:
    """Compare the register with the workflows' heads (breach id → head, or why it could not be read).

    Every case with a workflow is compared; entries of a case no workflow knows are a problem too.
    """
    chains = register_chains(engine)
    problems: list[str] = []
    for breach_id, head in sorted(heads.items()):
        if isinstance(head, str):
            problems.append(f"case {breach_id}: its workflow's chain head cannot be read ({head})")
            continue
        chain = chains.get(breach_id, RegisterChain())
        problems += chain.problems
        have = max(chain.anchored, default=0)
        if head.seq > have:
            missing = head.seq - have
            problems.append(f"case {breach_id}: its workflow records {head.seq} anchored audit entries, the register holds {have}: "
                            f"{'the last entry is' if missing == 1 else f'the last {missing} entries are'} missing")
        elif head.seq < have:
            problems.append(f"case {breach_id}: the register holds {have - head.seq} audit entries beyond the {head.seq} its workflow records: added outside the case")
        elif head.seq and chain.anchored.get(head.seq, ("", ""))[1] != head.hash:
            problems.append(f"case {breach_id}: the register's chain of the case ends in a different hash than its workflow records: its entries were rewritten")
        if gaps := sorted(set(range(1, min(have, head.seq) + 1)) - set(chain.anchored)):
            problems.append(f"case {breach_id}: entries at places {', '.join(map(str, gaps[:10]))} of the case's chain are missing")
        if chain.legacy != head.legacy:
            problems.append(f"case {breach_id}: its workflow wrote {head.legacy} audit entries before the case chain, the register holds {chain.legacy} such entries")
    for breach_id in sorted(set(chains) - set(heads)):
        problems.append(f"case {breach_id}: the register holds audit entries of a case no workflow knows")
    return CrossCheck(len(heads), problems)

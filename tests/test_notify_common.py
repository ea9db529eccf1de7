"""Helpers shared by the notification tests (no tests here; the name keeps it with them).

``make_roster`` runs the shared generator (/work/shared/tools/make_roster.py) into a test's
tmp folder with a fixed seed; ``Independent`` recounts a roster with nothing but the csv
module, so the engine's counts are checked against a second, simple computation.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from activities.notify.export import Exporter
from activities.notify.letters import Letters
from activities.notify.samples import sample_facts
from models.notification import NotifyRequest

REPO = Path(__file__).resolve().parents[1]
MAKE_ROSTER = REPO.parent / "shared" / "tools" / "make_roster.py"
SEED = 20260311
FACTS = sample_facts()


def make_roster(rows: int, out: Path, seed: int = SEED) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, str(MAKE_ROSTER), str(rows), "--seed", str(seed), "--out", str(out)], check=True)
    return out


def request(roster: str, *, round_: int = 1, out: str = "out", breach: str = "cms-BR-TEST-1", **changes) -> NotifyRequest:
    return NotifyRequest(breach_id=breach, round=round_, roster_uri=roster, facts=FACTS, languages=["en", "es"],
                         out_folder=out, **changes)


def exporter(base: Path, **kw) -> Exporter:
    return Exporter(Letters(), base, base / "work", **kw)


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@dataclass
class Independent:
    """A roster recounted plainly: the first record of each (name, birth date, SSN) is the person."""

    rows: int = 0
    persons: dict[tuple, dict] = field(default_factory=dict)

    @classmethod
    def of(cls, path: Path) -> Independent:
        me = cls()
        for row in read_rows(path):
            me.rows += 1
            key = (row["first_name"].lower(), row["last_name"].lower(), row["date_of_birth"], row["ssn"].replace("-", ""))
            me.persons.setdefault(key, row)
        return me

    @property
    def people(self) -> list[dict]:
        return list(self.persons.values())

    def count(self, test) -> int:
        return sum(1 for p in self.people if test(p))

    @property
    def with_address(self) -> int:
        return self.count(lambda p: p["address_line1"] != "")

    def by_state(self) -> dict[str, int]:
        return dict(Counter(p["state"] for p in self.people))

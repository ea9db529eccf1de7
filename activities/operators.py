"""Loading the operators file: the people, roles and public keys a new case trusts.

The file is server-side configuration; the case records what it loaded in its history,
and later changes reach a running case only through a signed `update_operators` decision.
"""

from __future__ import annotations

from pathlib import Path

from temporalio import activity

from models.operators import OperatorRoster, read_roster


class OperatorActivities:
    def __init__(self, path: Path) -> None:
        self._path = Path(path)

    @activity.defn(name="operators.load")
    def load(self) -> OperatorRoster:
        return read_roster(self._path)

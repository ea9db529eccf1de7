"""The system inventory (one entry per system, drawn from its Privacy Impact Assessment).

An unknown system id is never an error: intake accepts it and the case records an
``unknown_system`` finding for the SOP.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from models.case import SystemInfo


class InventorySystem(BaseModel):
    model_config = ConfigDict(extra="allow")

    system_id: str
    name: str
    pia_id: str | None = None
    operator: str | None = None
    sorns: list[str] = Field(default_factory=list)
    pii_types: list[str] = Field(default_factory=list)

    def info(self) -> SystemInfo:
        return SystemInfo(system_id=self.system_id, known=True, name=self.name, pia_id=self.pia_id, sorns=self.sorns, operator=self.operator)


_LIST = TypeAdapter(list[InventorySystem])


def load_inventory(path: Path) -> dict[str, InventorySystem]:
    systems = _LIST.validate_python(json.loads(Path(path).read_text()))
    return {s.system_id: s for s in systems}


def system_info(inventory: dict[str, InventorySystem], system_id: str) -> SystemInfo:
    found = inventory.get(system_id)
    return found.info() if found else SystemInfo(system_id=system_id, known=False)

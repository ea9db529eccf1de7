"""Inventory look-up: which system was breached, its PIA and SORNs (unknown is a finding)."""

from __future__ import annotations

from pathlib import Path

from temporalio import activity

from models.case import SystemInfo
from models.inventory import load_inventory, system_info


class InventoryActivities:
    def __init__(self, path: Path) -> None:
        self._path = Path(path)

    @activity.defn(name="inventory.lookup")
    def lookup(self, system_id: str) -> SystemInfo:
        # Re-read on every call: the inventory is small and an operator may update it
        # while cases run; the result is recorded in history, so replay is unaffected.
        return system_info(load_inventory(self._path), system_id)

"""Outbound reports (to HHS CSIRC/PIM, CISA/OMB, Congress/OIG) through a pluggable transport.

The default transport writes one JSON document per report into an outbox folder, where
a mail gateway, a ticketing bridge or a person picks it up. Writes go through
``activities.durable.write_atomic`` (a reader sees the whole document or none; private
mode: the reports name the people involved) and are named by breach and kind, so a
retried delivery replaces the same file instead of sending twice.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol

from temporalio import activity

from activities.durable import write_atomic
from models.records import OutboundReport, Receipt


class Transport(Protocol):
    def deliver(self, report: OutboundReport) -> Receipt: ...


class FolderTransport:
    def __init__(self, folder: Path) -> None:
        self._folder = Path(folder)

    def deliver(self, report: OutboundReport) -> Receipt:
        body = json.dumps(report.document, indent=2, sort_keys=True, default=str).encode()
        target = self._folder / report.breach_id / f"{report.kind}.json"
        return Receipt(kind=report.kind, location=str(target), sha256=write_atomic(target, body))


class OutboxActivities:
    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    @activity.defn(name="outbox.deliver")
    def deliver(self, report: OutboundReport) -> Receipt:
        return self._transport.deliver(report)

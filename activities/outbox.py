"""Outbound reports (to HHS CSIRC/PIM, CISA/OMB, Congress/OIG) through a pluggable transport.

The default transport writes one JSON document per report into an outbox folder, where
a mail gateway, a ticketing bridge or a person picks it up. Writes are atomic
(write-then-rename) and named by breach and kind, so a retried delivery replaces the
same file instead of sending twice.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Protocol

from temporalio import activity

from models.records import OutboundReport, Receipt


class Transport(Protocol):
    def deliver(self, report: OutboundReport) -> Receipt: ...


class FolderTransport:
    def __init__(self, folder: Path) -> None:
        self._folder = Path(folder)

    def deliver(self, report: OutboundReport) -> Receipt:
        body = json.dumps(report.document, indent=2, sort_keys=True, default=str).encode()
        target = self._folder / report.breach_id / f"{report.kind}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".partial")
        with open(tmp, "wb") as fh:
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        return Receipt(kind=report.kind, location=str(target), sha256=hashlib.sha256(body).hexdigest())


class OutboxActivities:
    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    @activity.defn(name="outbox.deliver")
    def deliver(self, report: OutboundReport) -> Receipt:
        return self._transport.deliver(report)

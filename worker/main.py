"""Worker wiring: one client factory and one worker factory for every process that needs them."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import structlog
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.assessment import RiskActivities
from activities.db import make_engine
from activities.inventory import InventoryActivities
from activities.notify.activities import NotifyActivities, ProgressSignal
from activities.operators import OperatorActivities
from activities.outbox import FolderTransport, OutboxActivities
from activities.register import RegisterActivities
from activities.reports import ReportActivities
from models import search
from worker.config import Settings
from worker.converter import data_converter
from worker.keys import KeyRing
from workflows.breach import BreachResponseWorkflow

log = structlog.get_logger("breach.worker")

WORKFLOWS = [BreachResponseWorkflow]


async def connect(settings: Settings, *, log_refusals: bool = True) -> Client:
    """``log_refusals``: see ``worker.codec.EncryptionCodec``."""
    return await Client.connect(settings.address, namespace=settings.temporal_namespace, data_converter=data_converter(settings, log_refusals=log_refusals))


def activities(settings: Settings, client: Client) -> list:
    """Every activity of the worker; call it on the worker's event loop (progress signals use it)."""
    engine = make_engine(settings.register_url)
    register = RegisterActivities(engine)
    report_missing_keys(register, client.data_converter.payload_codec.ring)
    outbox = OutboxActivities(FolderTransport(settings.outbox_path))
    inventory = InventoryActivities(settings.inventory_path)
    risk = RiskActivities(settings.data_dir / "assessments")
    notify = NotifyActivities(
        settings.notify_path,
        template_dir=settings.letter_template_dir,
        letterhead=settings.letterhead_path,
        progress=ProgressSignal(client, asyncio.get_running_loop()),
    )
    return [
        *notify.all,
        register.open_case,
        register.sync_case,
        register.record_decision,
        register.record_notification_round,
        register.audit,
        outbox.deliver,
        inventory.lookup,
        risk.load_policy,
        risk.assess,
        ReportActivities().draft,
        OperatorActivities(settings.operators_path).load,
    ]


def report_missing_keys(register: RegisterActivities, ring: KeyRing) -> list[str]:
    """Record the key id this worker encrypts with; log the key ids in use that its ring lacks
    (every case written under one of them fails to decode until the key is restored)."""
    missing = sorted(register.note_payload_key(ring.current_id) - set(ring.keys))
    if missing:
        log.error("payload key ids in use are missing from the key ring; cases written under them cannot be read until the key is restored",
                  missing=missing, ring=sorted(ring.keys))
    return missing


WORKFLOW_TASK_SLOTS = 8


def workflow_runner() -> SandboxedWorkflowRunner:
    """The workflow sandbox, with ``cryptography`` passed through.

    Signature checks run inside workflow validators; the sandbox would otherwise import
    cryptography's Rust extension a second time, which aborts the process. The same
    runner must be used by the worker and by every replayer.
    """
    return SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules("cryptography"))


def build_worker(client: Client, settings: Settings, executor: ThreadPoolExecutor) -> Worker:
    """The breach worker; ``executor`` runs the synchronous activities (database, files)."""
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        activities=activities(settings, client),
        activity_executor=executor,
        workflow_runner=workflow_runner(),
        # Workflow tasks run Python under one interpreter lock: more at once only makes each
        # slower. Measured by the crash soak (200 open cases, 6 kills): with the SDK's 100
        # slots, 181 tasks took over 5 s (the longest 13.1 s, past the 10 s task timeout, so
        # it ran twice); with 8, none. Scale out with more worker processes instead.
        max_concurrent_workflow_tasks=WORKFLOW_TASK_SLOTS,
        # Heartbeats reach the server at most this long after they are made, and a
        # cancellation (a hold stopping an export) reaches the activity with the next one.
        max_heartbeat_throttle_interval=timedelta(seconds=1),
        default_heartbeat_throttle_interval=timedelta(seconds=1),
    )


_INDEXED = {
    SearchAttributeIndexedValueType.KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    SearchAttributeIndexedValueType.INT: IndexedValueType.INDEXED_VALUE_TYPE_INT,
    SearchAttributeIndexedValueType.BOOL: IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
    SearchAttributeIndexedValueType.DATETIME: IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
}


async def ensure_search_attributes(client: Client, namespace: str) -> list[str]:
    """Register the custom search attributes that are missing; returns the names added.

    The time-skipping test server cannot list search attributes; there every one is added.
    """
    try:
        existing = (await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))).custom_attributes
    except RPCError as exc:
        if exc.status is not RPCStatusCode.UNIMPLEMENTED:
            raise
        existing = {}
    missing = {k.name: _INDEXED[k.indexed_value_type] for k in search.ALL if k.name not in existing}
    if missing:
        await client.operator_service.add_search_attributes(AddSearchAttributesRequest(search_attributes=missing, namespace=namespace))
    return sorted(missing)

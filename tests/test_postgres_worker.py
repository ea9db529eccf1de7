"""The worker's real activities write the register on PostgreSQL: a whole case, end to end.

The time-skipping test server runs the breach workflow with the real worker, whose
settings point the register at PostgreSQL (``Settings(database_url=...)``, what
``BREACH_DATABASE_URL`` sets in production), in a schema of its own. A major-incident
case (contractor, HIPAA, 152,000 people, times reported at UTC-5) is driven from intake
to closure with signed decisions; then every register row is compared with the
workflow's own view of the case: the case, each decision, each clock and the audit
trail, whose hash chain must verify.

Needs BREACH_TEST_POSTGRES_URL (``.ci/postgres.sh start``); skipped without it, failed
without it when CI is set.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.engine import make_url
from sqlmodel import Session, select

from activities import audit
from activities.db import make_engine
from models.case import ClockState, Stage
from models.register import CaseRecord, ClockRecord, DecisionRecord
from tests.register_backends import postgres_schema
from tests.workflow_env import DAY, MINUTE, Harness, World, drive, served


@pytest.fixture(scope="module")
def postgres_url() -> AsyncIterator[str]:
    with postgres_schema("worker_e2e") as url:
        yield url


@pytest.fixture(scope="module")
async def pg_world(tmp_path_factory, postgres_url) -> AsyncIterator[World]:
    assert make_url(postgres_url).get_backend_name() == "postgresql"
    async with served(tmp_path_factory.mktemp("pg-worker"), skips_time=True, database_url=postgres_url) as world:
        yield world


@pytest.fixture
async def harness(pg_world: World) -> AsyncIterator[Harness]:
    async with Harness(pg_world) as h:
        yield h


async def test_a_major_incident_case_runs_to_closure_with_its_register_on_postgres(harness, postgres_url):
    case = await harness.new_case("laptop", roster_uri=None)
    await harness.sleep(20 * MINUTE)
    await case.decide("approve_outbound_report", "hhs_brt", {"kind": "cisa_omb"}, rationale="sent within the hour")
    await drive(case, Stage.risk_assessment)  # confirm PII, then the CO loop
    await harness.sleep(2 * DAY)
    await case.decide("submit_risk_assessment", "cms_sop", {"answers": {}})
    await case.decide("approve_outbound_report", "hhs_brt", {"kind": "congress_oig"})
    await case.decide("approve_outbound_report", "hhs_asl", {"kind": "congress_oig"})
    await drive(case, Stage.notify)
    await harness.sleep(5 * DAY)
    await case.decide("record_notification_sent", "notifying_official", {"individuals_notified": 151_204, "media_notice": True})
    await harness.sleep(10 * DAY)
    await case.decide("approve_outbound_report", "hhs_brt", {"kind": "supplemental_30d"})
    await case.decide("approve_outbound_report", "hhs_asl", {"kind": "supplemental_30d"})
    assert await case.handle.result() == "notified"
    view = await case.view()
    assert (view.status, view.stage, view.outcome) == ("concluded", Stage.closed, "notified")

    engine = make_engine(postgres_url)
    try:
        assert engine.dialect.name == "postgresql"
        with Session(engine) as session:
            row = session.get(CaseRecord, view.breach_id)
            assert row is not None, "the case is not in the register"
            report = case.report
            assert (row.workflow_id, row.source, row.external_id, row.system_id, row.system_known) == (view.workflow_id, report.source.value, report.external_id, report.system_id, view.system.known)
            assert (row.stage, row.status, row.outcome) == ("closed", "concluded", "notified")
            assert (row.individuals, row.individuals_notified, row.notified) == (152_000, 151_204, True)
            assert (row.risk_level, row.major_incident, row.reported_to_cisa, row.reported_to_congress) == (view.risk_level, True, True, True)
            assert (row.contractor_involved, row.hipaa_covered, row.data_elements) == (True, True, view.data_elements)
            assert row.services == ["credit_monitoring"]
            # The report's times were given at UTC-5: the register holds the same instants.
            assert (row.discovered_at, row.reported_at) == (report.discovered_at, report.reported_at)
            closed = await case.event("closed")
            assert row.closed_at == row.updated_at and closed.at <= row.closed_at <= closed.at + MINUTE  # the sync after closing
            assert row.opened_at == (await case.events("stage_entered", stage="report"))[0].at

            decisions = {d.decision_id: d for d in session.exec(select(DecisionRecord).where(DecisionRecord.breach_id == view.breach_id)).all()}
            assert len(decisions) == len(view.decisions) == 12
            for note in view.decisions:
                d = decisions[note["decision_id"]]
                assert (d.decision, d.role, d.decided_by, d.decided_at.isoformat().replace("+00:00", "Z"), d.rationale) == (
                    note["decision"], note["role"], note["by"], note["at"].replace("+00:00", "Z"), note["rationale"]), note
            cisa = next(d for d in decisions.values() if d.decision == "approve_outbound_report" and d.role == "hhs_brt" and d.payload == {"kind": "cisa_omb"})
            assert cisa.rationale == "sent within the hour"

            clocks = {c.clock: c for c in session.exec(select(ClockRecord).where(ClockRecord.breach_id == view.breach_id)).all()}
            assert set(clocks) == {c.clock for c in view.clocks}
            for c in view.clocks:
                r = clocks[c.clock]
                assert (r.state, r.started_at, r.due_at, r.met_at, r.source) == (c.state.value, c.started_at, c.due_at, c.met_at, c.source), c.clock
            assert all(c.state != ClockState.pending.value for c in clocks.values())
            for name in ("cisa_omb", "congress_oig", "supplemental_30d", "hipaa_individuals", "hipaa_ocr", "hipaa_media", "csirc_report"):
                assert clocks[name].state == "met", name
    finally:
        engine.dispose()

    log = audit.read_log(engine, view.breach_id)
    kinds = [e["kind"] for e in log]
    assert kinds.count("closed") == 1 and kinds.index("closed") > kinds.index("sent:supplemental_30d")  # the closing decision is recorded after it
    assert sum(k.startswith("decision:") for k in kinds) == 12
    for kind in ("csirc_pim_initial_report", "cisa_omb", "congress_oig", "supplemental_30d", "hipaa_ocr_notice"):
        assert f"sent:{kind}" in kinds, kind
    assert len(view.outbox) == sum(k.startswith("sent:") for k in kinds)
    result = audit.verify(engine)
    assert result.ok and result.entries == len(log), result.message
    engine.dispose()

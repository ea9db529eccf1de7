"""The short crash soak, in CI: 24 open cases over every stage, the worker killed twice and
the dev server once (kill -9) while decisions are sent; every check of tests/crash_soak.py
must find nothing. About 90 s on 2 cores; when a kill lands on a running export the case
waits out the export's heartbeat timeout (2 minutes) before it closes. The long run:
``python -m tests.crash_soak --cases 200 --kills 6 --seed 1``."""

from __future__ import annotations

import pytest

from tests.crash_soak import run_soak

pytestmark = pytest.mark.e2e


async def test_short_crash_soak_finds_no_anomaly(tmp_path):
    result = await run_soak(tmp_path / "data", cases=24, worker_kills=2, server_kills=1, seed=8)
    print(result.render())
    assert len(result.outages) == 3
    assert set(result.spread) >= {"confirm_pii", "contractor_review", "risk_assessment", "pim_review", "cms_approval", "hhs_approval", "notify"}
    assert result.anomalies == [], result.render()

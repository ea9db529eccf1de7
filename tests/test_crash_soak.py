"""The short crash soak, in CI: 24 open cases over every stage, the worker killed twice and
the dev server once (kill -9) while decisions are sent; every check of tests/crash_soak.py
must find nothing. 90 s to 2.5 minutes on 2 cores: a kill that lands on a letters check or
an export holds that case up until the step's timeout (1 minute) or heartbeat timeout
(2 minutes) runs it again (with this seed the first worker kill usually lands on an export,
whose resumed round is then checked for letters written twice). The long run:
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

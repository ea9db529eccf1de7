"""Throttle guessing (issue 14): repeated 401s from one client address are answered more
slowly, then refused with 429 and Retry-After for a while, and both are logged."""

from __future__ import annotations

import httpx
import pytest
import structlog

from starter.intake.http_api import create_app
from starter.intake.service import IntakeService
from starter.intake.throttle import FailureThrottle
from worker.config import Settings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def world(tmp_path):
    clock, slept = Clock(), []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    service = IntakeService(Settings(data_dir=tmp_path))
    token = service.tokens.create("throttle-test")
    app = create_app(service, throttle=FailureThrottle(limit=8, window=600, block=900, clock=clock), sleep=sleep)
    return app, token, clock, slept


async def get(app, token: str | None, address: str = "203.0.113.7") -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=(address, 5555))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return await http.get("/v1/breaches/api-NOPE-1", headers=headers)


async def test_repeated_401s_are_slowed_then_refused_and_logged(world):
    app, token, clock, slept = world
    with structlog.testing.capture_logs() as logs:
        codes = [(await get(app, "brt_guess-%d" % i)).status_code for i in range(7)]
        assert codes == [401] * 7
        assert slept == [0.25, 0.5, 1.0, 2.0, 4.0], slept  # the first two (a quarter of 8) at once
        blocked = await get(app, "brt_guess-7")
        assert blocked.status_code == 401  # the eighth failure blocks the address
        refused = await get(app, token)  # even a valid token, until the block ends
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) == 900
        assert "too many failed attempts" in refused.json()["error"]
        other = await get(app, token, address="198.51.100.2")
        assert other.status_code != 429  # another address is not affected
    events = [e["event"] for e in logs]
    assert "failed authentication slowed" in events and "client blocked after repeated failed authentication" in events
    assert all(e.get("client") in (None, "203.0.113.7", "198.51.100.2") for e in logs)
    clock.now += 901
    assert (await get(app, token)).status_code != 429


async def test_a_valid_token_clears_the_count(world):
    app, token, clock, slept = world
    for i in range(5):
        await get(app, f"brt_typo-{i}")
    await get(app, token)
    await get(app, "brt_typo-again")
    assert len(slept) == 3  # the failure after a success is answered at once
    assert (await get(app, token)).status_code not in (401, 429)

"""The tracking screen: the Temporal Web UI of a running `breach up`, in headless Chromium.

With the sample reports filed (through the HTTP intake API), the workflow list shows the
cases, a list query on the BreachStage search attribute finds them, and a case's page shows
its current details, which are encrypted in Temporal and so readable only when the UI
decodes them through the codec server. Screenshots go to test-artifacts/ (gitignored);
docs/tracking-screen.png is a committed copy of test-artifacts/tracking-screen.png.

Needs Debian's Chromium at /usr/bin/chromium (CI's .ci/run installs it); without it the
test fails, saying so, rather than skipping.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import urllib.parse
from pathlib import Path

import httpx
import pytest

from tests.support import REPO, REPORTS, LocalStack, eventually
from worker.main import connect
from workflows.breach import BreachResponseWorkflow

pytestmark = [pytest.mark.ui, pytest.mark.e2e]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = REPO / "test-artifacts"
SAMPLES = sorted(REPORTS.glob("*.json"))
UI_TIMEOUT = 30_000  # ms
IN_CONFIRM_PII = urllib.parse.quote('BreachStage="confirm_pii"')
CLOSED = urllib.parse.quote('BreachStage="closed"')


@pytest.fixture(scope="module")
async def filed(tmp_path_factory):
    """A private `breach up` with the three sample reports filed and waiting in confirm_pii."""
    stack = LocalStack(tmp_path_factory.mktemp("tracking") / "data")
    stack.start()
    try:
        made = stack.run_cli("token", "create", "tracking-screen")
        assert made.returncode == 0, made.stderr
        ids = []
        async with httpx.AsyncClient(base_url=stack.settings.api_base, headers={"Authorization": f"Bearer {made.stdout.strip()}"}, timeout=30) as api:
            for path in SAMPLES:
                answer = await api.post("/v1/breaches", content=path.read_bytes())
                assert answer.status_code == 201, answer.text
                ids.append(answer.json()["breach_id"])
        client = await connect(stack.settings)
        for breach_id in ids:
            handle = client.get_workflow_handle(f"breach-{breach_id}")

            async def waiting(handle=handle) -> bool:
                return (await handle.query(BreachResponseWorkflow.details)).stage.value == "confirm_pii"

            await eventually(waiting, timeout=60)
        yield stack, ids
    finally:
        assert stack.stop() == 0, stack.log.read_text()[-3000:]


@contextlib.asynccontextmanager
async def chromium_page():
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport={"width": 1440, "height": 1000})
            yield await context.new_page()
        finally:
            await browser.close()


async def shows_all(page, url: str, workflow_ids: list[str], timeout: float = 60) -> None:
    """Open ``url`` until every workflow id is listed (visibility is eventually consistent)."""
    deadline = time.monotonic() + timeout
    while True:
        await page.goto(url, wait_until="domcontentloaded")
        try:
            for wid in workflow_ids:
                await page.get_by_role("link", name=wid, exact=True).first.wait_for(timeout=5_000)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(1)


async def test_the_tracking_screen(filed):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: the tracking screen test needs Debian's Chromium (apt-get install -y chromium; CI's .ci/run installs it). Playwright never downloads a browser here.")
    async with chromium_page() as page:
        try:
            await check_tracking_screen(filed, page)
        except BaseException:
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=ARTIFACTS / "tracking-failure.png", full_page=True)
            raise


async def check_tracking_screen(filed, page):
    stack, breach_ids = filed
    settings = stack.settings
    workflow_ids = [f"breach-{b}" for b in breach_ids]
    workflows = f"{settings.ui_base}/namespaces/{settings.temporal_namespace}/workflows"
    ARTIFACTS.mkdir(exist_ok=True)

    # the workflow list shows the cases
    await shows_all(page, workflows, workflow_ids)
    await page.screenshot(path=ARTIFACTS / "tracking-list.png")

    # a list query on the BreachStage search attribute finds them ...
    await shows_all(page, f"{workflows}?query={IN_CONFIRM_PII}", workflow_ids)
    await page.get_by_text('BreachStage = "confirm_pii"').first.wait_for(timeout=UI_TIMEOUT)
    await page.screenshot(path=ARTIFACTS / "tracking-search.png")
    # ... and really filters: no case is closed yet
    await page.goto(f"{workflows}?query={CLOSED}", wait_until="domcontentloaded")
    await page.get_by_text("No Workflows Found").wait_for(timeout=UI_TIMEOUT)
    for wid in workflow_ids:
        assert await page.get_by_role("link", name=wid, exact=True).count() == 0

    # a case's page shows its current details, decoded through the codec server
    decoded: list[int] = []
    page.on("response", lambda r: decoded.append(r.status) if r.url.startswith(settings.codec_endpoint + "/decode") else None)
    breach_id, wid = breach_ids[0], workflow_ids[0]
    await page.goto(f"{workflows}/{wid}", wait_until="domcontentloaded")
    await page.get_by_role("tab", name="User Metadata").click(timeout=UI_TIMEOUT)
    details = page.frame_locator("iframe#user-metadata-current-details")
    await details.get_by_text(f"Breach {breach_id}").wait_for(timeout=UI_TIMEOUT)
    stage = details.locator("strong", has_text="Stage:")
    await stage.wait_for(timeout=UI_TIMEOUT)
    assert "Stage: confirm_pii" in await details.locator("body").inner_text()
    frame = next(f for f in page.frames if f.name == "user-metadata-current-details")
    markdown = urllib.parse.parse_qs(urllib.parse.urlparse(frame.url).query)["content"][0]
    assert markdown.startswith(f"## Breach {breach_id}") and "**Stage:** confirm_pii" in markdown
    assert decoded and set(decoded) == {200}, f"the UI decoded through {settings.codec_endpoint}: {decoded}"
    await page.screenshot(path=ARTIFACTS / "tracking-screen.png")

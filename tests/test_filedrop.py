"""File drop: complete reports in the inbox become cases and move to processed/, invalid ones
move to rejected/ with their errors beside them, half-written files are never read, and
nothing leaves the inbox while Temporal is away.

The poll-by-poll tests drive ``Inbox.poll_once`` against the real dev server of the session
stack; the last test watches `breach up` itself do it."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import timedelta

import pytest
from temporalio.client import Client

from models.inventory import load_inventory
from starter.intake.filedrop import Inbox
from starter.intake.filing import file_report
from tests.support import REPORTS, eventually, free_port
from worker.converter import data_converter

pytestmark = pytest.mark.e2e

TEMPLATE = json.loads((REPORTS / "qecp-public-pdfs.json").read_text())


def report_text(external_id: str) -> str:
    return json.dumps({**TEMPLATE, "external_id": external_id}, indent=2)


def invalid_text() -> str:
    doc = {**TEMPLATE, "external_id": "DROP-BAD", "media": "carrier pigeon", "estimated_individuals": -1}
    del doc["reported_by"]
    return json.dumps(doc)


@pytest.fixture
def inbox(tmp_path, stack, client) -> Inbox:
    inventory = load_inventory(stack.settings.inventory_path)
    return Inbox(tmp_path / "inbox", lambda r: file_report(client, stack.settings, r, inventory))


async def exists(client: Client, breach_id: str) -> bool:
    """The case was started (describe reads the execution itself, not eventually consistent visibility)."""
    from temporalio.service import RPCError

    try:
        await client.get_workflow_handle(f"breach-{breach_id}").describe()
    except RPCError:
        return False
    return True


async def test_valid_and_invalid_files(inbox, client):
    inbox.ensure()
    (inbox.folder / "good.json").write_text(report_text("DROP-GOOD-1"))
    (inbox.folder / "bad.json").write_text(invalid_text())
    assert await inbox.poll_once() == [], "first sight: not yet known to be complete"
    outcomes = {o.name: o for o in await inbox.poll_once()}
    assert outcomes["good.json"].status == "processed" and outcomes["good.json"].breach_id == "web_form-DROP-GOOD-1"
    assert outcomes["bad.json"].status == "rejected"
    assert sorted(p.name for p in inbox.folder.iterdir() if p.is_file()) == []
    assert (inbox.processed / "good.json").read_text() == report_text("DROP-GOOD-1")
    assert (inbox.rejected / "bad.json").read_text() == invalid_text(), "moved aside, never changed or deleted"
    error = (inbox.rejected / "bad.json.error.txt").read_text()
    for field in ("reported_by: Field required", "media: Input should be", "estimated_individuals: Input should be greater than or equal to 0"):
        assert field in error
    assert await exists(client, "web_form-DROP-GOOD-1")

    (inbox.folder / "good.json").write_text(report_text("DROP-GOOD-1"))  # the same name and report again
    await inbox.poll_once()
    outcomes = await inbox.poll_once()
    assert [(o.name, o.status) for o in outcomes] == [("good.json", "processed")]
    assert len(list(inbox.processed.glob("good*.json"))) == 2, "the earlier file is kept, the new one time-stamped"
    assert await exists(client, "web_form-DROP-GOOD-1"), "still one case"


async def test_partial_files_and_dotfiles_are_never_read(inbox, client):
    inbox.ensure()
    partial = inbox.folder / "rename-me.json.partial"
    partial.write_text(report_text("DROP-RENAME-1")[:50])
    hidden = inbox.folder / ".hidden.json"
    hidden.write_text("{")
    for _ in range(3):
        assert await inbox.poll_once() == []
    partial.write_text(report_text("DROP-RENAME-1"))
    os.rename(partial, inbox.folder / "rename-me.json")
    await inbox.poll_once()
    assert [o.status for o in await inbox.poll_once()] == ["processed"]
    assert hidden.exists() and not list(inbox.rejected.iterdir())
    assert await exists(client, "web_form-DROP-RENAME-1")


async def test_a_slow_writer_is_read_only_when_done(inbox, client):
    inbox.ensure()
    text = report_text("DROP-SLOW-1")
    path = inbox.folder / "slow.json"
    with open(path, "w") as out:
        for i in range(0, len(text), len(text) // 5 + 1):
            out.write(text[i : i + len(text) // 5 + 1])
            out.flush()
            await asyncio.sleep(0.02)  # mtime moves between polls
            assert await inbox.poll_once() == [], "a file that is still growing is not read"
    # the last poll above saw the finished file once; the next one sees it unchanged
    assert [o.status for o in await inbox.poll_once()] == ["processed"]
    assert not list(inbox.rejected.iterdir())
    assert await exists(client, "web_form-DROP-SLOW-1")


async def test_files_stay_in_the_inbox_while_temporal_is_away(tmp_path, stack, client):
    nowhere = await Client.connect(f"127.0.0.1:{free_port()}", data_converter=data_converter(stack.settings), lazy=True)
    inventory = load_inventory(stack.settings.inventory_path)
    settings = stack.settings
    use = {"client": nowhere}

    async def file_one(report):
        return await asyncio.wait_for(file_report(use["client"], settings, report, inventory), timedelta(seconds=5).total_seconds())

    inbox = Inbox(tmp_path / "inbox", file_one)
    inbox.ensure()
    for name in ("a.json", "b.json"):
        (inbox.folder / name).write_text(report_text(f"DROP-AWAY-{name[0]}"))
    await inbox.poll_once()
    for _ in range(2):
        outcomes = await inbox.poll_once()
        assert [o.status for o in outcomes] == ["deferred"], "stops at the first failure"
        assert sorted(p.name for p in inbox.folder.glob("*.json")) == ["a.json", "b.json"]
    use["client"] = client  # Temporal is back
    assert sorted(o.status for o in await inbox.poll_once()) == ["processed", "processed"]
    assert await exists(client, "web_form-DROP-AWAY-a") and await exists(client, "web_form-DROP-AWAY-b")


async def test_breach_up_watches_its_inbox(stack, client):
    folder = stack.settings.inbox_path
    folder.mkdir(parents=True, exist_ok=True)
    staged = folder / "renamed.json.partial"
    staged.write_text(report_text("DROP-UP-RENAMED"))
    os.rename(staged, folder / "renamed.json")
    (folder / "invalid.json").write_text(invalid_text())
    text = report_text("DROP-UP-SLOW")
    step = len(text) // 12 + 1
    with open(folder / "slow.json", "w") as out:  # a slow writer: about 4 s, across two or more polls
        for i in range(0, len(text), step):
            out.write(text[i : i + step])
            out.flush()
            await asyncio.sleep(0.35)

    async def settled() -> bool:
        return not list(folder.glob("*.json"))

    await eventually(settled, timeout=30)
    assert {p.name for p in (folder / "processed").iterdir()} >= {"renamed.json", "slow.json"}
    assert (folder / "rejected" / "invalid.json").exists()
    assert "reported_by: Field required" in (folder / "rejected" / "invalid.json.error.txt").read_text()
    assert not (folder / "rejected" / "slow.json").exists(), "the slow file was never read half-written"
    assert await exists(client, "web_form-DROP-UP-RENAMED") and await exists(client, "web_form-DROP-UP-SLOW")

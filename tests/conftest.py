"""Shared fixtures: one real `breach up` stack for the end-to-end tests of a session."""

from __future__ import annotations

import pytest

from tests.support import LocalStack
from worker.main import connect


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    local = LocalStack(tmp_path_factory.mktemp("stack") / "data")
    local.start()
    yield local
    assert local.stop() == 0, local.log.read_text()[-3000:]


@pytest.fixture(scope="session")
async def client(stack):
    return await connect(stack.settings)

"""The README stays true: its test command is what CI runs, and its settings table lists
every setting."""

from __future__ import annotations

import re

from tests.support import REPO
from worker.config import Settings

README = (REPO / "README.md").read_text()


def test_ci_runs_exactly_the_readme_test_command():
    commands = re.findall(r"```bash\n(python3 -m venv .*)\n```", README)
    assert len(commands) == 2, "the README shows two commands: run the service, run the tests"
    run_service, run_tests = commands
    assert run_service.endswith("breach up")
    assert run_tests in (REPO / ".ci" / "run").read_text().splitlines()


def test_settings_table_lists_every_setting():
    documented = set(re.findall(r"^\| `BREACH_([A-Z_]+)` \|", README, flags=re.M))
    assert documented == {name.upper() for name in Settings.model_fields}

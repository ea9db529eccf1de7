"""Replay the committed history of every shipped exercise against the current workflow code.

A change to ``BreachResponseWorkflow`` that would make an already-running case take a
different path (another activity, timer or command, or the same ones in another order)
fails here with a nondeterminism error, before it reaches a worker with live cases.
When such a change is deliberate and made safe (``workflow.patched``), keep the histories
of the previous code in a folder of their own under ``tests/histories/`` (they stand for
the cases still running from before) and regenerate the current ones:
``python -m tests.histories.regenerate`` (see its docstring). Both generations replay.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from starter.exercise import load_scenario
from tests.histories.regenerate import EXERCISES, HERE, PAYLOAD_KEYS, history_path, scenarios
from worker.config import Settings
from worker.converter import data_converter
from worker.main import workflow_runner
from workflows.breach import BreachResponseWorkflow

HISTORIES = sorted(HERE.glob("*.json"))
# Histories written by earlier workflow code, one folder per generation, named for the
# patch that followed it: the cases they stand for may still be running.
EARLIER = sorted(HERE.glob("*/*.json"))


def test_every_scenario_has_a_committed_history_and_no_history_is_orphaned():
    """A new (or renamed) scenario needs its history: python -m tests.histories.regenerate."""
    assert scenarios(), f"no scenarios in {EXERCISES}"
    assert {p.stem for p in HISTORIES} == {s.stem for s in scenarios()}


def test_histories_are_encrypted_with_the_committed_test_key():
    """Payloads are encrypted (never plain JSON in a fixture) under the fixed key id."""
    for path in HISTORIES:
        events = json.loads(path.read_text())["events"]
        started = events[0]["workflowExecutionStartedEventAttributes"]["input"]["payloads"][0]
        assert started["metadata"]["encryption-key-id"] == _b64(PAYLOAD_KEYS.split(":")[0]), path.name


def _b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


@pytest.fixture(scope="module")
def replayer() -> Replayer:
    converter = data_converter(Settings(payload_keys=PAYLOAD_KEYS))
    return Replayer(workflows=[BreachResponseWorkflow], data_converter=converter, workflow_runner=workflow_runner())


@pytest.mark.parametrize("scenario", scenarios(), ids=lambda p: p.stem)
async def test_history_replays_without_nondeterminism(replayer: Replayer, scenario: Path):
    _, report = load_scenario(scenario)
    path = history_path(scenario)
    assert path.exists(), f"{path.name} is missing: python -m tests.histories.regenerate {scenario.stem}"
    history = WorkflowHistory.from_json(report.workflow_id, path.read_text())
    assert len(history.events) > 10
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, (
        f"{scenario.stem}: the current workflow code does not replay the committed history "
        f"({type(result.replay_failure).__name__}: {result.replay_failure}). If the change is deliberate and "
        f"patched, regenerate: python -m tests.histories.regenerate {scenario.stem}"
    )


def test_earlier_generations_of_histories_are_kept():
    """The histories from before the refusals went on record (workflows/breach.py's markers)."""
    assert {p.parent.name for p in EARLIER} >= {"before-refusals-on-record"}
    assert {p.stem for p in EARLIER if p.parent.name == "before-refusals-on-record"} == {s.stem for s in scenarios()}


@pytest.mark.parametrize("path", EARLIER, ids=lambda p: f"{p.parent.name}/{p.stem}")
async def test_earlier_history_replays_without_nondeterminism(replayer: Replayer, path: Path):
    scenario = next(s for s in scenarios() if s.stem == path.stem)
    _, report = load_scenario(scenario)
    history = WorkflowHistory.from_json(report.workflow_id, path.read_text())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.parent.name}/{path.stem}: a case still running from before no longer replays ({result.replay_failure})"

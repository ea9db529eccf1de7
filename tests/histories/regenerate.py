"""Rewrite the committed workflow history of every shipped exercise.

    python -m tests.histories.regenerate              # every scenario
    python -m tests.histories.regenerate hold-oral-lapses notify-cms-rejection

``tests/test_replay.py`` replays each ``tests/histories/<scenario-stem>.json`` against the
current ``BreachResponseWorkflow``: a code change that would make a running case take a
different path (a new activity, timer or command, in a different order) fails that test
with a nondeterminism error. That is the point: running cases must keep replaying.

Run this generator only when the change of workflow behaviour is deliberate and made safe
for running cases (patched with ``workflow.patched`` / versioned, or no case can be
running), and when a scenario is added, renamed or changed. Review the diff of the
histories with the change, and commit both together.

Each scenario runs through the exercise runner (``starter.exercise.run_exercise``) on
Temporal's time-skipping test server with the fixed, committed, NOT SECRET payload key
below, so the replay test can decode the histories. The key protects nothing: it exists
only for these fixtures. Histories are written one event per line, for readable diffs.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
EXERCISES = REPO / "examples" / "exercises"

KEY_ID = "replay-test"
KEY = b"replay-test-key-not-a-secret-000"  # exactly 32 bytes (AES-256); a fixture, not a secret
PAYLOAD_KEYS = f"{KEY_ID}:{base64.b64encode(KEY).decode()}"
assert len(KEY) == 32


def scenarios() -> list[Path]:
    """Every shipped exercise scenario."""
    return sorted(EXERCISES.glob("*.yaml"))


def history_path(scenario: Path) -> Path:
    return HERE / f"{scenario.stem}.json"


def compact(history_json: str) -> str:
    """The history as JSON with one event per line (what ``WorkflowHistory.from_json`` reads)."""
    events = json.loads(history_json)["events"]
    lines = ",\n".join(json.dumps(event, separators=(",", ":"), sort_keys=True) for event in events)
    return '{"events": [\n' + lines + "\n]}\n"


async def regenerate(scenario: Path) -> Path:
    """Run ``scenario`` with the fixed key and rewrite its committed history."""
    from starter.exercise import load_scenario, run_exercise
    from tests.test_exercises import ROSTER_ROWS
    from tests.test_notify_common import make_roster

    loaded, report = load_scenario(scenario)
    target = history_path(scenario)
    with tempfile.TemporaryDirectory(prefix="breach-history-") as scratch:
        raw = Path(scratch) / "history.json"
        # The same generated roster as the exercise test (make_roster's seed is fixed).
        roster = make_roster(ROSTER_ROWS[scenario.stem], Path(scratch) / "roster.csv") if scenario.stem in ROSTER_ROWS else None
        result = await run_exercise(loaded, report, Path(scratch) / "run", history_out=raw, roster=roster)
        target.write_text(compact(raw.read_text()))
    summary = result.summary
    print(f"{target.relative_to(REPO)}: {summary['status']} {summary['outcome']} ({len(json.loads(target.read_text())['events'])} events)")
    return target


async def main(stems: list[str]) -> None:
    # Settings() (inside run_exercise) reads BREACH_PAYLOAD_KEYS: every payload is encrypted
    # with the fixed test key instead of a fresh key in the run's scratch folder.
    os.environ["BREACH_PAYLOAD_KEYS"] = PAYLOAD_KEYS
    chosen = scenarios()
    if stems:
        unknown = sorted(set(stems) - {s.stem for s in chosen})
        if unknown:
            raise SystemExit(f"no such scenario in {EXERCISES}: {', '.join(unknown)}")
        chosen = [s for s in chosen if s.stem in stems]
    for scenario in chosen:
        await regenerate(scenario)
    if not stems:
        stale = sorted(p for p in HERE.glob("*.json") if p.stem not in {s.stem for s in chosen})
        for path in stale:
            path.unlink()
            print(f"removed {path.relative_to(REPO)} (no such scenario)")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))

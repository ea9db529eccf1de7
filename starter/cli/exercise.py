"""`breach exercise`: a tabletop exercise on the real workflow in accelerated time (the runner
is starter/exercise.py)."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from starter.cli.console import fail, out
from starter.exercise import load_scenario, render_text, run_exercise


def exercise(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML (see examples/exercises/).", exists=True, dir_okay=False)],
    json_out: Annotated[bool, typer.Option("--json", help="Print the timeline and summary as JSON (the stable shape of DECISIONS.md).")] = False,
    history: Annotated[Path | None, typer.Option(help="Also save the workflow history JSON here (for replay tests).")] = None,
    roster: Annotated[Path | None, typer.Option(help="Roster CSV for the report's roster_uri: the case exports it to the mail house after HHS approval. Without one (here or in the scenario) the roster_uri is dropped and the Notifying Official records the mailing.", exists=True, dir_okay=False)] = None,
    keep: Annotated[Path | None, typer.Option(help="Keep the exercise's files here (letters, PDF previews, mail-house export, register, outbox) instead of a temporary folder; must be empty or new.", file_okay=False)] = None,
) -> None:
    """Run a tabletop exercise: the real workflow and activities in accelerated time; print the timeline.

    Needs no running service: it starts Temporal's time-skipping test server for the run.

    Examples:
      breach exercise examples/exercises/notify-cms-rejection.yaml
      breach exercise examples/exercises/laptop-roster-export.yaml --roster roster-claims.csv --keep ./laptop-run
    """
    try:
        loaded, report = load_scenario(scenario)
    except (ValidationError, ValueError, OSError) as exc:
        raise fail(f"scenario {scenario} is not valid:\n{exc}") from None
    if keep is not None and keep.exists() and any(keep.iterdir()):
        raise fail(f"--keep {keep}: the folder is not empty; give a new or empty one")
    with tempfile.TemporaryDirectory(prefix="breach-exercise-") as scratch:
        folder = keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        try:
            result = asyncio.run(run_exercise(loaded, report, folder.resolve(), history_out=history, roster=roster))
        except (FileNotFoundError, ValueError, TimeoutError) as exc:
            raise fail(str(exc)) from None
    if json_out:
        out.print_json(result.model_dump_json())
    else:
        print(render_text(result))

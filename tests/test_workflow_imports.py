"""Deterministic by construction: what the replayed code may import (issue 13, item 2).

Workflow code (workflows/) imports only the standard library, temporalio, pydantic (the
models' base), models/ and, in the one module that schedules activities, the activity
classes as references. models/ imports nothing of the project but models/. A change that
pulls policy code, I/O or a client into the replayed path fails here, at review time,
instead of as a nondeterminism error under a running case.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECT = {"activities", "bench", "models", "starter", "tests", "worker", "workflows"}
THIRD_PARTY_FOR_WORKFLOWS = {"temporalio", "pydantic"}
ACTIVITY_REFERENCES_IN = {"workflows/activity_calls.py"}


def imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(module, imported names, line) for every import in the file, nested ones included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, [alias.name for alias in node.names], node.lineno))
        elif isinstance(node, ast.ImportFrom):
            found.append(("." * node.level + (node.module or ""), [alias.name for alias in node.names], node.lineno))
    return found


def files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def workflow_import_problems(path: Path, rel: str | None = None) -> list[str]:
    rel = rel or path.relative_to(ROOT).as_posix()
    problems = []
    for module, names, line in imports(path):
        top = module.split(".")[0]
        where = f"{rel}:{line} imports {module}"
        if module.startswith("."):
            problems.append(f"{where}: use absolute imports")
        elif top in sys.stdlib_module_names or top in THIRD_PARTY_FOR_WORKFLOWS or top in ("models", "workflows", "__future__"):
            continue
        elif top == "activities":
            if rel not in ACTIVITY_REFERENCES_IN:
                problems.append(f"{where}: only {sorted(ACTIVITY_REFERENCES_IN)} may reference activities")
            elif not names or not all(n.endswith("Activities") for n in names):
                problems.append(f"{where} {names}: only activity classes (references), never their code")
        else:
            problems.append(f"{where}: not allowed in replayed code")
    return problems


def test_workflow_code_imports_only_models_temporalio_stdlib_and_activity_references():
    problems = [p for f in files("workflows") for p in workflow_import_problems(f)]
    assert problems == []


def test_models_import_no_other_project_package():
    problems = []
    for path in files("models"):
        for module, _names, line in imports(path):
            top = module.lstrip(".").split(".")[0]
            if top in PROJECT and top != "models":
                problems.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert problems == []


def test_the_check_catches_policy_code_in_the_replayed_path(tmp_path):
    """The check itself can fail: the import this issue removed is reported."""
    bad = tmp_path / "track.py"
    bad.write_text("from activities.risk.engine import check_answers, suggest\nimport httpx\nfrom activities.assessment import RiskActivities\n")
    problems = workflow_import_problems(bad, "workflows/tracks/track.py")
    assert len(problems) == 3, problems
    assert "activities.risk.engine" in problems[0] and "httpx" in problems[1] and "may reference activities" in problems[2]

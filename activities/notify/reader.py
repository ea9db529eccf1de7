"""Prepared batches of a roster, from this process or from a reader process beside it.

Why a second process: reading the CSV and preparing its rows (checks, person keys, export
lines) is pure Python and takes about two thirds of an export's time; the rest (the seen
persons, the files, the checkpoints) must stay with the activity. Python runs one thread
of Python at a time, so for a large roster a reader process does the first part on
another core, a batch ahead, and hands over each batch as plain lists (pickled over a
pipe). Everything that decides exactly-once (which person is new, what is written, the
checkpoints) stays in the activity's process; the reader is a pure function of the roster
bytes and the cursor it starts from.

The reader is started with ``python -m activities.notify.reader`` (not ``fork``: the
worker has threads), gets its parameters on stdin, and ends when its parent does: the
pipe closes under it and, on Linux, the kernel sends it SIGKILL (PR_SET_PDEATHSIG) if the
parent is killed. It never sees the breach's person key: it sends identity materials and
export lines without recipient keys, and the export process computes the keyed digests.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import pickle
import signal
import struct
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from activities.notify.batch import SUB_BATCH, BatchPreparer, Prepared
from activities.notify.roster import RosterError, RosterReader

_LENGTH = struct.Struct(">Q")
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
PIPE_BYTES = 1 << 20


@dataclass(frozen=True)
class ReadPlan:
    """What a reader needs: the roster, where to start, and how to key and route people."""

    roster: Path
    skip: int
    batch: int
    round: int
    letter: str
    languages: frozenset[str]
    email_allowed: bool
    fast: bool = True

    def preparer(self, reader: RosterReader) -> BatchPreparer:
        return BatchPreparer(reader.parser(), round_=self.round, letter=self.letter, languages=set(self.languages),
                             email_allowed=self.email_allowed, fast=self.fast)


@dataclass(frozen=True)
class Step:
    """One prepared batch and where the roster stands after it."""

    prep: Prepared
    records: int  # records consumed so far (the checkpoint cursor after this batch)
    bytes_read: int


class ReaderError(RuntimeError):
    """The reader process failed in a way that is not a problem of the roster."""


def in_process(plan: ReadPlan) -> Iterator[Step]:
    """Read and prepare in this process (small rosters: starting a process costs more)."""
    with RosterReader(plan.roster) as reader:
        reader.skip(plan.skip)
        preparer = plan.preparer(reader)
        for first, rows in reader.batches(plan.batch):
            yield Step(preparer.prepare(first, rows), reader.records, reader.bytes_read)
        if reader.changed():
            raise RosterError(f"roster {plan.roster.name} was modified or replaced while it was being read; run the round again")


class ReaderProcess:
    """A reader in its own process; iterate it for ``Step``s. Always used as a context
    manager: leaving it stops the process."""

    def __init__(self, plan: ReadPlan) -> None:
        self.plan = plan
        self._log = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "activities.notify.reader"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log,
            cwd=os.getcwd(), env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [_root(), os.environ.get("PYTHONPATH")]))},
        )
        assert self._proc.stdin is not None and self._proc.stdout is not None
        with contextlib.suppress(OSError):  # Linux: room for a few batches in the pipe, so the reader runs ahead
            fcntl.fcntl(self._proc.stdout.fileno(), _F_SETPIPE_SZ, PIPE_BYTES)
        pickle.dump(plan, self._proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        self._proc.stdin.close()

    def __enter__(self) -> ReaderProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        proc = self._proc
        if proc.poll() is None:
            proc.kill()
        with contextlib.suppress(Exception):
            proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
        self._log.close()

    def _stderr(self) -> str:
        self._log.seek(0)
        return self._log.read()[-2000:].decode(errors="replace")

    def __iter__(self) -> Iterator[Step]:
        pipe = self._proc.stdout
        assert pipe is not None
        while True:
            head = pipe.read(_LENGTH.size)
            if len(head) < _LENGTH.size:
                code = self._proc.wait(10)
                raise ReaderError(f"the roster reader process stopped unexpectedly (exit code {code}): {self._stderr()}")
            (length,) = _LENGTH.unpack(head)
            kind, payload = pickle.loads(pipe.read(length))
            if kind == "step":
                yield payload
            elif kind == "end":
                return
            elif kind == "roster-error":
                raise RosterError(payload)
            else:
                raise ReaderError(f"the roster reader process failed: {payload}")


def _root() -> str:
    return str(Path(__file__).resolve().parents[2])


def _die_with_parent() -> None:
    """Linux: SIGKILL when the parent dies (a worker killed with -9 leaves no reader behind)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() == 1:
            os._exit(1)


def main() -> None:
    import gc

    _die_with_parent()
    gc.disable()  # short-lived, no reference cycles: see export.gc_paused
    plan: ReadPlan = pickle.load(sys.stdin.buffer)
    out = sys.stdout.buffer

    def send(kind: str, payload) -> None:
        data = pickle.dumps((kind, payload), protocol=pickle.HIGHEST_PROTOCOL)
        out.write(_LENGTH.pack(len(data)))
        out.write(data)
        out.flush()

    try:
        for step in in_process(plan):
            send("step", step)
        send("end", None)
    except BrokenPipeError:
        os._exit(0)  # the export process is gone
    except RosterError as exc:
        send("roster-error", str(exc))
    except Exception as exc:  # noqa: BLE001 - reported to the export process, which fails the attempt
        send("error", f"{type(exc).__name__}: {exc}")


PIPELINE_MIN_BYTES = 4 << 20  # rosters smaller than this (about 25,000 rows) are read in process

__all__ = ["PIPELINE_MIN_BYTES", "SUB_BATCH", "ReadPlan", "ReaderError", "ReaderProcess", "Step", "in_process"]

if __name__ == "__main__":
    # Run the module's own copy (not __main__'s), so what is pickled names activities.notify.reader.
    from activities.notify.reader import main as _main

    _main()

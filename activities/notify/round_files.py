"""The three CSV files a round grows (mail-house export, no-address list, error report),
appended a checkpoint at a time.

Why not ``write_atomic``: these files are written row by row over a whole roster, so they
cannot be written whole. They grow as ``<name>.partial`` beside their final names; every
checkpoint flushes and fsyncs what was appended and returns the exact byte offset of each,
which the work database records in the same commit as the roster cursor. A resumed round
cuts each file back to its recorded offset and appends from there; a finished round gives
them their final names with one rename each and an fsync of the folder. The files hold
personal data (names, addresses): they are private to the service's user. Every cell is
written safe for a spreadsheet (``activities.safe_text.csv_row``; the export's lines are
already, by ``batch.csv_line``).
"""

from __future__ import annotations

import csv
import io
import os

from activities.durable import PRIVATE, fsync_dir
from activities.notify.batch import ERROR_COLUMNS, EXPORT_COLUMNS, NO_ADDRESS_COLUMNS
from activities.notify.files import RoundLayout
from activities.notify.round_errors import ExportError
from activities.safe_text import csv_row

EXPORT, NO_ADDRESS, ERRORS = "mailhouse.csv", "no-address.csv", "errors.csv"
OUTPUTS = {EXPORT: EXPORT_COLUMNS, NO_ADDRESS: NO_ADDRESS_COLUMNS, ERRORS: ERROR_COLUMNS}


class RoundFiles:
    """The growing CSV files of one round, appended in batches; byte offsets are exact."""

    def __init__(self, layout: RoundLayout) -> None:
        self.layout = layout
        self.files: dict[str, io.BufferedWriter] = {}
        self._synced: dict[str, int] = {}

    def create(self) -> dict[str, int]:
        self.layout.out.mkdir(parents=True, exist_ok=True)
        offsets = {}
        for name, columns in OUTPUTS.items():
            fh = open(self.layout.partial(name), "wb")
            os.fchmod(fh.fileno(), PRIVATE)
            buf = io.StringIO()
            csv.writer(buf).writerow(columns)
            fh.write(buf.getvalue().encode())
            self.files[name] = fh
            offsets[name] = fh.tell()
        self.sync()
        fsync_dir(self.layout.out)
        return offsets

    def reopen(self, offsets: dict[str, int]) -> None:
        """Cut each file back to its last checkpoint and append from there."""
        for name in OUTPUTS:
            path = self.layout.partial(name)
            if not path.is_file():
                raise ExportError(f"{path} is missing: the round's output was removed while it was in progress")
            size = path.stat().st_size
            if size < offsets[name]:
                raise ExportError(f"{path} is shorter ({size} bytes) than its last checkpoint ({offsets[name]} bytes): it was damaged")
            fh = open(path, "r+b")
            fh.truncate(offsets[name])
            fh.seek(offsets[name])
            os.fsync(fh.fileno())
            self.files[name] = fh
            self._synced[name] = offsets[name]

    def write(self, name: str, rows: list) -> None:
        if rows:
            buf = io.StringIO()
            csv.writer(buf).writerows(map(csv_row, rows))
            self.files[name].write(buf.getvalue().encode())

    def write_lines(self, name: str, lines: list[str]) -> None:
        """Lines already in CSV form (see ``batch.csv_line``)."""
        if lines:
            self.files[name].write("".join(lines).encode())

    def sync(self) -> dict[str, int]:
        """Flush and fsync what was written since the last sync; the byte offsets now durable."""
        offsets = {}
        for name, fh in self.files.items():
            fh.flush()
            offsets[name] = fh.tell()
            if offsets[name] != self._synced.get(name):
                os.fsync(fh.fileno())
                self._synced[name] = offsets[name]
        return offsets

    def close(self) -> None:
        for fh in self.files.values():
            fh.close()
        self.files = {}

    @staticmethod
    def publish(layout: RoundLayout) -> None:
        """Give the finished files their final names (again, harmlessly, on a re-run)."""
        for name in OUTPUTS:
            partial, final = layout.partial(name), layout.final(name)
            if partial.is_file():
                os.replace(partial, final)
            elif not final.is_file():
                raise ExportError(f"{final} is missing: the round's output was removed before it was finished")
        fsync_dir(layout.out)

    @staticmethod
    def discard(layout: RoundLayout) -> None:
        for name in OUTPUTS:
            layout.partial(name).unlink(missing_ok=True)

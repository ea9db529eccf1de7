"""A finished round, looked up after the fact: its manifest and request, one person's
letter on demand, and the rows of its export.

Why on demand: the export carries what the mail house prints on envelopes (recipient key,
variant, language, large print, address block); the full letter for one person is
rendered only when someone needs it (a call-center agent, a reprint, a returned letter).
The roster is re-read streaming to find the record: nothing about people is kept beside
the export, and the roster's sha256 is checked so the letter is the one that was sent.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from activities.notify.batch import EXPORT_COLUMNS, NO_ADDRESS_COLUMNS
from activities.notify.letters import LetterError, Letters, Recipient
from activities.notify.person import RowProblem
from activities.notify.person_key import KeyMaker, load_secret
from activities.notify.round_files import EXPORT, NO_ADDRESS
from activities.notify.roster import RosterError, RosterReader, sha256_file
from activities.safe_text import csv_value
from models.mailing import LetterVariant
from models.notification import NotifyRequest

OnProgress = Callable[[int, int], None]


class RoundNotFound(LookupError):
    """No finished round where one was expected; the message says what was looked for."""


@dataclass(frozen=True)
class Round:
    folder: Path
    manifest: dict
    request: NotifyRequest

    @property
    def number(self) -> int:
        return int(self.manifest["round"])

    @property
    def roster(self) -> Path:
        return Path(self.manifest["roster"]["path"])

    @property
    def secret_file(self) -> Path:
        """The breach's person key, kept in the private work folder (not beside the export)."""
        return Path(self.manifest["work_dir"]).parent / "person-key"


def find_round(folder: Path, round_: int | None = None) -> Round:
    """A round folder (holding manifest.json), or the case's out folder and a round number
    (default: the latest finished round)."""
    folder = Path(folder)
    if (folder / "manifest.json").is_file() and (round_ is None or folder.name == f"round-{round_}"):
        chosen = folder
    else:
        rounds = sorted(
            (int(p.name.split("-", 1)[1]), p) for p in folder.glob("round-*") if p.name.split("-", 1)[1].isdigit() and (p / "manifest.json").is_file()
        )
        if round_ is not None:
            rounds = [r for r in rounds if r[0] == round_]
        if not rounds:
            what = f"round {round_}" if round_ is not None else "any finished round"
            raise RoundNotFound(f"{folder} holds no manifest.json of {what} (expected {folder}/round-N/manifest.json)")
        chosen = rounds[-1][1]
    try:
        manifest = json.loads((chosen / "manifest.json").read_text(encoding="utf-8"))
        request = NotifyRequest.model_validate_json((chosen / "request.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RoundNotFound(f"the round in {chosen} cannot be read: {exc}") from None
    return Round(chosen, manifest, request)


def read_csv(path: Path, columns: tuple[str, ...]) -> Iterator[dict[str, str]]:
    """Rows of one of the round's own CSV files, checked against its expected header, each cell
    as the text it holds (the quote that kept a spreadsheet from evaluating it taken off)."""
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != columns:
            raise RoundNotFound(f"{path} does not have the expected columns {', '.join(columns)}")
        for row in reader:
            yield {name: csv_value(cell) for name, cell in row.items()}


@dataclass(frozen=True)
class OnDemandLetter:
    """One person's letter. Personal data: for the screen, the printer or a file, never for logs."""

    text: str
    recipient_key: str
    variant: LetterVariant
    language: str
    large_print: bool
    delivery: str  # "first_class_mail", "email" or "no_address"
    sent_under_record: str  # the record the export row came from (another one when duplicates were merged)


def letter_for_record(letters: Letters, found: Round, record_id: str, on_progress: OnProgress | None = None) -> OnDemandLetter:
    """Re-read the round's roster to find ``record_id``, and render that person's letter as it was sent."""
    roster = found.roster
    if not roster.is_file():
        raise RosterError(f"the roster of round {found.number} ({roster}) is no longer there")
    if sha256_file(roster) != found.manifest["roster"]["sha256"]:
        raise RosterError(f"roster {roster.name} changed since round {found.number} was exported; the letter would not be the one that was sent")
    person = None
    total = roster.stat().st_size
    with RosterReader(roster) as reader:
        parse = reader.parser()
        at = reader.order[0]
        for first, rows in reader.batches(10_000):
            for n, fields in enumerate(rows, first):
                if len(fields) > at and fields[at].strip() == record_id:
                    try:
                        person = parse(n, fields)
                    except RowProblem as exc:
                        raise LetterError(f"record {record_id} (row {n}) was refused when the round was exported: {exc}") from None
                    break
            if on_progress:
                on_progress(reader.bytes_read, total)
            if person is not None:
                break
    if person is None:
        raise LetterError(f"record {record_id} is not in the roster of round {found.number}")
    keys = KeyMaker(load_secret(found.secret_file), found.request.breach_id, found.number)
    key = keys.digest(person.identity_material()).hex()
    row, delivery = None, ""
    for name, columns in ((EXPORT, EXPORT_COLUMNS), (NO_ADDRESS, NO_ADDRESS_COLUMNS)):
        for candidate in read_csv(found.folder / name, columns):
            if candidate["recipient_key"] == key:
                row = candidate
                delivery = candidate["method"] if name == EXPORT else "no_address"
                break
        if row is not None:
            break
    if row is None:
        raise LetterError(f"record {record_id} has no letter in round {found.number} (its recipient key is in neither {EXPORT} nor {NO_ADDRESS})")
    if delivery == "no_address":
        lines = tuple(v for v in (row["addressee_1"], row["addressee_2"]) if v)
    else:
        lines = tuple(v for v in (row[f"address_line_{i}"] for i in range(1, 6)) if v)
    recipient = Recipient(
        variant=LetterVariant(row["variant"]), first_name=person.first_name, last_name=person.last_name, address_lines=lines,
        reference=key, language=row["language"], large_print=row["large_print"] == "true",
    )
    text = letters.render(found.request.facts, recipient, found.number)
    return OnDemandLetter(text, key, recipient.variant, recipient.language, recipient.large_print, delivery, row["record_id"])

"""The person key: a keyed digest of a person's identity, and the per-breach secret it is keyed with.

Why keyed: the recipient key printed in a mail-house file and on a letter must not let
anyone who holds the file test it against guessed SSNs and birth dates, so the digest is
keyed with 32 random bytes kept in the breach's private work folder. The secret is created
once and never replaced (``activities.durable.create_once``): every digest a round has
written stays reproducible, and two rounds starting at once agree on one secret.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections import deque
from itertools import repeat
from operator import methodcaller
from pathlib import Path

from activities.durable import create_once
from activities.notify.roster import RosterError

_DIGEST, _UPDATE, _COPY = hashlib.blake2b.digest, hashlib.blake2b.update, methodcaller("copy")


class KeyMaker:
    """Keyed digests of a person's identity for one breach and round.

    The key is secret (per breach, kept in the work folder) so that a recipient key in a
    mail-house file cannot be tested against guessed SSNs and birth dates. ``digest``
    returns 16 bytes (its hex form is the recipient key printed in the export and on the
    letter); ``pair`` splits them into the two signed 64-bit integers the work database
    stores.
    """

    def __init__(self, secret: bytes, breach_id: str, round_: int) -> None:
        self._secret = secret
        self._person = f"r{round_:03d}".encode()
        self._salt = hashlib.blake2b(breach_id.encode(), digest_size=16).digest()
        # The keyed state, copied per person: whole batches hash with C-level maps, no Python frame per row.
        self._base = hashlib.blake2b(key=secret, salt=self._salt, person=self._person, digest_size=16)

    def digest(self, material: bytes) -> bytes:
        h = self._base.copy()
        h.update(material)
        return h.digest()

    def digests(self, materials: list[bytes]) -> list[bytes]:
        states = list(map(_COPY, repeat(self._base, len(materials))))
        deque(map(_UPDATE, states, materials), maxlen=0)
        return list(map(_DIGEST, states))

    pair = staticmethod(struct.Struct(">qq").unpack)


def load_secret(path: Path) -> bytes:
    """The breach's existing person key (to recompute recipient keys after the fact)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise RosterError(f"the breach key file {path} is missing: recipient keys of this breach cannot be recomputed") from None
    if len(data) != 32:
        raise RosterError(f"the breach key file {path} is damaged ({len(data)} bytes, expected 32)")
    return data


def load_or_create_secret(path: Path) -> bytes:
    """The breach's key for person digests: 32 random bytes, created once (0600), atomically."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        create_once(path, os.urandom(32))  # another process may have created it first: theirs wins
        data = path.read_bytes()
    if len(data) != 32:
        raise RosterError(f"the breach key file {path} is damaged ({len(data)} bytes, expected 32)")
    return data

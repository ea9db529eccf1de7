"""Throttle token guessing: repeated 401s from one client address are slowed, then refused.

A bearer token is 256 random bits, so guessing it is hopeless; what a guesser costs is
load and log noise, and a leaked token's near misses deserve attention. After a quarter of
``limit`` failed attempts within ``window`` each further failure is answered only after a
delay that doubles up to ``MAX_DELAY``; after ``limit`` failures the address is refused with
429 and ``Retry-After`` for ``block`` (a correct token included: it may be the guesser's find).
Both transitions are logged with the address. State is per process and bounded in size.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

BASE_DELAY, MAX_DELAY = 0.25, 4.0
MAX_ADDRESSES = 10_000


@dataclass
class _Record:
    failures: list[float] = field(default_factory=list)
    blocked_until: float = 0.0


class FailureThrottle:
    def __init__(self, *, limit: int, window: float, block: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self.block, self.clock = limit, window, block, clock
        self.free = max(1, limit // 4)  # failures answered at once
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def retry_after(self, address: str) -> float | None:
        """Seconds until ``address`` may try again, or None when it is not blocked."""
        record = self._records.get(address)
        if record is None:
            return None
        left = record.blocked_until - self.clock()
        return left if left > 0 else None

    def failed(self, address: str) -> tuple[float, bool]:
        """Note a failed attempt; returns (seconds to delay the answer, whether the address is now blocked)."""
        now = self.clock()
        record = self._records.pop(address, None) or _Record()
        self._records[address] = record  # most recent last
        while len(self._records) > MAX_ADDRESSES:
            self._records.popitem(last=False)
        record.failures = [t for t in record.failures if now - t < self.window] + [now]
        count = len(record.failures)
        if count >= self.limit:
            record.blocked_until, record.failures = now + self.block, []
            return 0.0, True
        return (min(MAX_DELAY, BASE_DELAY * 2 ** (count - self.free - 1)) if count > self.free else 0.0), False

    def succeeded(self, address: str) -> None:
        record = self._records.get(address)
        if record is not None and not self.retry_after(address):
            del self._records[address]

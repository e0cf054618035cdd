"""Wrong pairing codes, counted per client address and (far higher) for the whole hub.

One guesser must not make the owner's correct code answer 429: each address has its own
small allowance per minute, and only a flood from many addresses reaches the hub-wide one.

    limits = PairingLimits()
    limits.check(address)        # RateLimited (with retry_after) when over either limit
    limits.failed(address)       # after a wrong code
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable

from hub.errors import RateLimited

WINDOW_S = 60.0


class PairingLimits:
    """Sliding one-minute windows of wrong codes: per address, and for the hub."""

    def __init__(
        self,
        per_address: int = 10,
        per_hub: int = 200,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_address = per_address
        self.per_hub = per_hub
        self.refused = 0  # for the metrics
        self._clock = clock
        self._by_address: OrderedDict[str, deque[float]] = OrderedDict()
        self._all: deque[float] = deque()

    def check(self, address: str) -> None:
        """Raise RateLimited when this address, or everyone together, guessed too often."""
        now = self._clock()
        mine = self._by_address.get(address)
        for window in (self._all, mine):
            while window and now - window[0] >= WINDOW_S:
                window.popleft()
        if mine is not None and len(mine) >= self.per_address:
            self.refused += 1
            raise _limited("too many wrong pairing codes from your address", mine[0], now)
        if len(self._all) >= self.per_hub:
            self.refused += 1
            raise _limited("too many wrong pairing codes on this hub", self._all[0], now)

    def failed(self, address: str) -> None:
        """Count a wrong code."""
        now = self._clock()
        self._all.append(now)
        mine = self._by_address.setdefault(address, deque())
        mine.append(now)
        self._by_address.move_to_end(address)
        while len(self._by_address) > 10_000:
            self._by_address.popitem(last=False)


def _limited(what: str, oldest: float, now: float) -> RateLimited:
    wait = max(1.0, WINDOW_S - (now - oldest))
    err = RateLimited(f"{what}; wait {wait:.0f} s and try again")
    err.retry_after = wait
    return err

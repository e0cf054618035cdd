"""When to dial the relay again: exponential backoff with full jitter, and relay hints."""

from __future__ import annotations

import enum
import random
from collections.abc import Callable


class LinkState(enum.Enum):
    """Where the relay link is."""

    IDLE = "idle"  # not started
    CONNECTING = "connecting"  # opening the WebSocket
    AUTHENTICATING = "authenticating"  # answering the relay's challenge
    CONNECTED = "connected"  # welcomed; serving requests and pushing shadows
    WAITING = "waiting"  # backing off before the next attempt
    STOPPED = "stopped"  # stop() was called


class ReconnectLogic:
    """Decides the delay before each attempt.

    Full jitter (a uniform draw in [0, min(cap, base * 2**n)]) spreads thousands of hubs that
    lost the same relay so they do not return in one wave. A relay may instead say when to
    come back (drain, 503 Retry-After); that hint replaces one draw.
    """

    def __init__(
        self,
        base_s: float = 1.0,
        cap_s: float = 300.0,
        rand: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self.base_s = base_s
        self.cap_s = cap_s
        self._rand = rand
        self.failures = 0
        self._hint: float | None = None

    def connected(self) -> None:
        """A session was established: start the backoff again from the bottom."""
        self.failures = 0

    def failed(self) -> None:
        """An attempt or a session ended badly."""
        self.failures += 1

    def hint(self, delay_s: float) -> None:
        """The relay asked for this delay before the next attempt."""
        self._hint = max(0.0, min(delay_s, self.cap_s))

    def next_delay(self) -> float:
        """Seconds to wait before the next attempt."""
        if self._hint is not None:
            delay, self._hint = self._hint, None
            return delay
        if self.failures == 0:
            return 0.0
        ceiling = min(self.cap_s, self.base_s * 2 ** min(self.failures - 1, 30))
        return self._rand(0.0, ceiling)

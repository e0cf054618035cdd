"""Token buckets: per-account request rates and the node's tunnel admission rate."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class TokenBucket:
    """`rate` tokens per second up to `burst`; `take()` says whether one was available."""

    __slots__ = ("_clock", "_last", "_tokens", "burst", "rate")

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = burst
        self._last = clock()

    def take(self, n: float = 1.0) -> bool:
        """Spend n tokens if there are that many."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= n:
            self._tokens -= n
            return True
        return False

    def retry_after(self) -> float:
        """Seconds until one token is available."""
        return max(0.0, (1.0 - self._tokens) / self.rate) if self.rate > 0 else 60.0


class RateLimiter:
    """One bucket per key (account id), created on first use."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, TokenBucket] = {}
        self.refused = 0  # for the metrics

    def allow(self, key: str) -> bool:
        """Take one token from this key's bucket."""
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) > 100_000:
                self._buckets.clear()  # idle buckets are full anyway; forgetting them is safe
            bucket = self._buckets[key] = TokenBucket(self.rate, self.burst)
        if bucket.take():
            return True
        self.refused += 1
        return False


class RateLimitedLog:
    """A warning at most once per `every_s`, with how many were held back."""

    def __init__(self, logger: logging.Logger, every_s: float = 60.0) -> None:
        self.logger = logger
        self.every_s = every_s
        self._last = -1e9
        self._held = 0

    def warning(self, message: str) -> None:
        """Log now, or count it for the next line."""
        now = time.monotonic()
        if now - self._last < self.every_s:
            self._held += 1
            return
        held, self._held, self._last = self._held, 0, now
        suffix = f" ({held} more like this since the last line)" if held else ""
        self.logger.warning("%s%s", message, suffix)

"""Time as a dependency, so tests (and rules) control it without sleeping.

`now()` is wall-clock epoch seconds (what is stored and shown); `sleep_until()` waits for a wall
time. ManualClock only moves when a test calls `advance()`/`set()`, waking sleepers in due order.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Protocol


class Clock(Protocol):
    """Source of wall time and timed waits."""

    def now(self) -> float:
        """Epoch seconds."""
        ...

    async def sleep_until(self, when: float) -> None:
        """Return once now() >= when."""
        ...


class SystemClock:
    """The real clock."""

    # time.time itself, not a method wrapping it: every report, rule run and event asks the
    # clock, and the extra Python frame was a tenth of a microsecond each time.
    now = staticmethod(time.time)

    async def sleep_until(self, when: float) -> None:
        """Sleep in bounded steps so a changed system time is noticed within a minute."""
        while (delay := when - time.time()) > 0:  # noqa: ASYNC110 - waiting on time, not a flag
            await asyncio.sleep(min(delay, 60.0))


class ManualClock:
    """A clock that only a test moves."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        """Epoch seconds."""
        return self._now

    async def sleep_until(self, when: float) -> None:
        """Wait until a test advances the clock past `when`."""
        if when <= self._now:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (when, next(self._seq), fut))
        await fut

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking each sleeper at its due time in order."""
        await self.set(self._now + seconds)

    async def set(self, when: float) -> None:
        """Jump to `when`; sleepers due before it run at their own due times, in order."""
        while self._sleepers and self._sleepers[0][0] <= when:
            due, _, fut = heapq.heappop(self._sleepers)
            self._now = max(self._now, due)
            if not fut.done():
                fut.set_result(None)
            # Let the woken task run (and maybe schedule more sleeps) before moving on.
            for _ in range(5):
                await asyncio.sleep(0)
        self._now = max(self._now, when)
        for _ in range(5):
            await asyncio.sleep(0)


class FileClock:
    """Test-only: wall time read from a file another process writes (cross-process tests).

    The file holds epoch seconds as text; a test writes a new value to move time for every
    hub process that reads it. Selected by HOMEHUB_CLOCK_FILE (see `clock_from_env`).
    """

    POLL_S = 0.01

    def __init__(self, path: str) -> None:
        self.path = path
        self._last = 0.0

    def now(self) -> float:
        """Epoch seconds from the file (the last good value while it is being rewritten)."""
        try:
            with open(self.path, encoding="ascii") as f:
                self._last = max(self._last, float(f.read().strip()))
        except (OSError, ValueError):
            pass
        return self._last

    async def sleep_until(self, when: float) -> None:
        """Poll the file until its time reaches `when`."""
        while self.now() < when:  # noqa: ASYNC110 - the file is the only signal there is
            await asyncio.sleep(self.POLL_S)


def clock_from_env(env: dict[str, str] | None = None) -> Clock:
    """FileClock if HOMEHUB_CLOCK_FILE is set (tests only), else the system clock."""
    import os

    path = (env if env is not None else dict(os.environ)).get("HOMEHUB_CLOCK_FILE")
    return FileClock(path) if path else SystemClock()

"""Password checks under attack: bounded, fair, and slower for whoever keeps guessing.

argon2 is meant to be costly, so a flood of wrong passwords can eat the CPU and make a real
owner wait behind hundreds of guesses. `LoginGate` puts three rules around each check:

- at most `hashers` checks run at once (about one per CPU); the others wait in line, and one
  that waited `wait_s` is told to come back (503) instead of piling up. The line is ordered by
  how many tries that address made for that account without getting in: an owner's first
  try goes before every guesser's second;
- one check in flight per client address, so the line holds at most one entry per attacker
  address and an owner from anywhere else waits behind a few checks, not hundreds;
- after `free_failures` wrong passwords for an account from one address, that address waits
  1, 2, 4 ... (at most `max_delay_s`) seconds before each next try for that account. It is a
  delay, never a lock: the owner from their own address is not slowed, and even from the same
  address they get in at most `max_delay_s` later. A correct password clears the count.

    gate = LoginGate()
    async with gate.check(email, address) as attempt:
        ok = await verify(...)
        attempt.failed = not ok
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import os
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from relay.errors import RateLimited, RelayError


class LoginBusy(RelayError):
    """Too many password checks are waiting; retry in a moment."""

    status = 503


@dataclass(slots=True)
class Attempt:
    """One password check; set `failed` when the password was wrong."""

    failed: bool = False


class LoginGate:
    """Bounds concurrent password checks; per-address fairness; per-account backoff."""

    def __init__(
        self,
        hashers: int | None = None,
        wait_s: float = 5.0,
        free_failures: int = 10,
        max_delay_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.hashers = hashers or max(1, min(4, os.cpu_count() or 1))
        self.wait_s = wait_s
        self.free_failures = free_failures
        self.max_delay_s = max_delay_s
        self._clock = clock
        self._running = 0
        self._line: list[tuple[int, int, asyncio.Future[None]]] = []  # a heap
        self._serial = itertools.count()
        self._in_flight: set[str] = set()
        # (account e-mail, address) -> (failures, not before): the oldest are forgotten first.
        self._failures: OrderedDict[tuple[str, str], tuple[int, float]] = OrderedDict()
        # (account e-mail, address) -> tries that did not get in (wrong or turned away).
        self._tries: OrderedDict[tuple[str, str], int] = OrderedDict()
        self.refused = 0

    @contextlib.asynccontextmanager
    async def check(self, email: str, address: str) -> AsyncIterator[Attempt]:
        """Hold a place for one password check (raises RateLimited or LoginBusy instead)."""
        key = (email, address)
        failures, not_before = self._failures.get(key, (0, 0.0))
        now = self._clock()
        if now < not_before:
            self.refused += 1
            raise RateLimited(
                f"too many wrong passwords for this account from your address; "
                f"retry in {not_before - now:.0f} s"
            )
        if address and address in self._in_flight:
            self.refused += 1
            raise RateLimited("one log-in at a time from your address; retry in a moment")
        if address:
            self._in_flight.add(address)
        try:
            tries = self._tries.get(key, 0)
            self._count_try(key, tries + 1)  # until it gets in
            await self._acquire(tries)
            attempt = Attempt()
            try:
                yield attempt
            finally:
                self._release()
            self._record(key, failures, attempt.failed)
        finally:
            self._in_flight.discard(address)

    async def _acquire(self, priority: int) -> None:
        # Live waiters exist only while every place is taken (_release hands places over).
        if self._running < self.hashers:
            self._running += 1
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._line, (priority, next(self._serial), turn))
        try:
            async with asyncio.timeout(self.wait_s):
                await turn  # _release hands its place over: _running stays counted
        except (TimeoutError, asyncio.CancelledError) as err:
            if turn.done() and not turn.cancelled():
                self._release()  # the place was handed over just before the end: pass it on
            if isinstance(err, TimeoutError):
                self.refused += 1
                raise LoginBusy(
                    "many log-ins are being checked right now; retry shortly"
                ) from None
            raise

    def _release(self) -> None:
        while self._line:
            _, _, turn = heapq.heappop(self._line)
            if not turn.done():
                turn.set_result(None)
                return
        self._running -= 1

    def _count_try(self, key: tuple[str, str], tries: int) -> None:
        self._tries[key] = tries
        self._tries.move_to_end(key)
        while len(self._tries) > 100_000:
            self._tries.popitem(last=False)

    def _record(self, key: tuple[str, str], failures: int, failed: bool) -> None:
        if not failed:
            self._failures.pop(key, None)
            self._tries.pop(key, None)
            return
        failures += 1
        delay = 0.0
        if failures >= self.free_failures:
            delay = min(self.max_delay_s, 2.0 ** (failures - self.free_failures))
        self._failures[key] = (failures, self._clock() + delay)
        self._failures.move_to_end(key)
        while len(self._failures) > 100_000:
            self._failures.popitem(last=False)

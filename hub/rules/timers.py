"""Durable timers in SQLite: `for:` countdowns, delays, reminders and time triggers.

A timer is a row with its due time. Writes go through one writer task, in order and batched,
so callers never cancel a coroutine in the middle of a transaction. Firing *claims* the row
first (delete or move, compared on the due time) and commits, then acts: a kill at any moment
can lose at most the firing being acted on right then, and nothing ever fires twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from hub.clock import Clock
from hub.store import Database

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Timer:
    """One pending deadline of a rule."""

    id: str
    rule_id: str
    kind: str  # for | held | delay | remind | schedule
    due: float
    payload: dict[str, Any] = field(default_factory=dict, compare=False)

    def moved(self, due: float, **payload: Any) -> Timer:
        """The same timer with a later due time (and updated payload keys)."""
        return replace(self, due=due, payload={**self.payload, **payload})


_Op = tuple[str, tuple[Any, ...], "asyncio.Future[int]"]


class TimerStore:
    """Reads and writes the rule_timers table through one ordered writer."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._queue: asyncio.Queue[_Op] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None

    async def load(self) -> list[Timer]:
        """Every stored timer, earliest first."""
        rows = await self.db.fetchall(
            "SELECT id, rule_id, kind, due, payload FROM rule_timers ORDER BY due"
        )
        return [Timer(r[0], r[1], r[2], float(r[3]), json.loads(r[4])) for r in rows]

    def start(self) -> None:
        """Start the writer."""
        self._writer = asyncio.create_task(self._write_loop(), name="rule-timer-writer")

    async def stop(self) -> None:
        """Write what is queued, then stop."""
        await self.flush()
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None

    async def flush(self) -> None:
        """Wait until everything queued so far is committed."""
        await self._submit("SELECT 1", ())

    def _submit(self, sql: str, params: tuple[Any, ...]) -> asyncio.Future[int]:
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((sql, params, fut))
        return fut

    def put(self, timer: Timer) -> asyncio.Future[int]:
        """Insert or replace a timer."""
        return self._submit(
            "INSERT OR REPLACE INTO rule_timers(id, rule_id, kind, due, payload) VALUES(?,?,?,?,?)",
            (timer.id, timer.rule_id, timer.kind, timer.due, json.dumps(timer.payload)),
        )

    def delete(self, timer_id: str) -> asyncio.Future[int]:
        """Remove a timer (no-op if gone)."""
        return self._submit("DELETE FROM rule_timers WHERE id=?", (timer_id,))

    def delete_rule(self, rule_id: str) -> asyncio.Future[int]:
        """Remove every timer of a rule."""
        return self._submit("DELETE FROM rule_timers WHERE rule_id=?", (rule_id,))

    async def claim(self, timer: Timer) -> bool:
        """Delete the timer if it is still this one (same due); True if we got it."""
        fut = self._submit("DELETE FROM rule_timers WHERE id=? AND due=?", (timer.id, timer.due))
        return await fut == 1

    async def claim_and_move(self, timer: Timer, then: Timer) -> bool:
        """Move the timer to `then` if it is still this one; True if we got it."""
        fut = self._submit(
            "UPDATE rule_timers SET due=?, payload=? WHERE id=? AND due=?",
            (then.due, json.dumps(then.payload), timer.id, timer.due),
        )
        return await fut == 1

    async def _write_loop(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty() and len(batch) < 500:
                batch.append(self._queue.get_nowait())
            try:
                counts = []
                async with self.db.transaction() as conn:
                    for sql, params, _ in batch:
                        cur = await conn.execute(sql, params)
                        counts.append(cur.rowcount)
            except Exception as err:
                _LOG.exception("writing rule timers failed")
                for _, _, fut in batch:
                    if not fut.done():
                        fut.set_exception(err)
                continue
            for (_, _, fut), count in zip(batch, counts, strict=True):
                if not fut.done():
                    fut.set_result(count)


class TimerWheel:
    """Runs one sleeping task per armed timer, on the hub's clock."""

    def __init__(self, store: TimerStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self.armed: dict[str, tuple[Timer, asyncio.Task[None]]] = {}
        # `for` countdowns that fired while their state still holds, by timer id -> rule id.
        # Stored (kind "held") so that a restart which sees the same state "entered" again
        # (its last reported value was lost with the process) does not start another one.
        self.held: dict[str, str] = {}

    def arm(
        self,
        timer: Timer,
        on_due: Callable[[Timer], Awaitable[None]],
        persist: bool = True,
    ) -> None:
        """Store the timer (unless loaded from the store) and call `on_due` at its due time."""
        self.cancel(timer.id, forget=False)
        written = self.store.put(timer) if persist else None

        async def wait() -> None:
            if written is not None:
                await written
            await self.clock.sleep_until(timer.due)
            current = self.armed.get(timer.id)
            if current is not None and current[0] is timer:
                del self.armed[timer.id]
            await on_due(timer)

        task = asyncio.create_task(wait(), name=f"rule-timer-{timer.id}")
        self.armed[timer.id] = (timer, task)

    def cancel(self, timer_id: str, forget: bool = True) -> bool:
        """Stop waiting for a timer and (if `forget`) delete it; True if it was armed."""
        entry = self.armed.pop(timer_id, None)
        if entry is not None:
            entry[1].cancel()
        if forget:
            self.store.delete(timer_id)
        return entry is not None

    def hold(self, timer: Timer) -> None:
        """Remember (durably) that this countdown fired and its state has not been left."""
        held = Timer(timer.id, timer.rule_id, "held", timer.due, {})
        self.held[timer.id] = timer.rule_id
        self.store.put(held)

    def restore_held(self, timer: Timer) -> None:
        """A stored hold, at start-up."""
        self.held[timer.id] = timer.rule_id

    def release(self, timer_id: str) -> None:
        """The state was left: the next entry starts a new countdown."""
        if self.held.pop(timer_id, None) is not None:
            self.store.delete(timer_id)

    def cancel_rule(self, rule_id: str) -> None:
        """Stop and delete every timer of a rule."""
        for timer_id in [t for t, r in self.held.items() if r == rule_id]:
            del self.held[timer_id]
        for timer_id, (timer, task) in list(self.armed.items()):
            if timer.rule_id == rule_id:
                task.cancel()
                del self.armed[timer_id]
        self.store.delete_rule(rule_id)

    def get(self, timer_id: str) -> Timer | None:
        """An armed timer."""
        entry = self.armed.get(timer_id)
        return entry[0] if entry else None

    async def stop(self) -> None:
        """Cancel every waiting task (the rows stay: they fire after the next start)."""
        tasks = [t for _, t in self.armed.values()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.armed.clear()

"""Runs paused in a `delay` or `wait` action, on durable timers.

A paused run is a timer row (kind `delay` or `wait`) that carries the run's context and trace,
so it resumes after a restart. A `wait` also listens for its condition: it is checked when a
device it reads changes (few runs wait at once, so they are kept by device, not indexed).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any

from hub.clock import Clock
from hub.rules.conditions import Facts, check
from hub.rules.model import Condition, DelayAction, Rule, WaitAction
from hub.rules.state import Run
from hub.rules.timers import Timer, TimerStore, TimerWheel

Spawn = Callable[[Coroutine[Any, Any, Any], str], "asyncio.Task[Any]"]


@dataclass(slots=True)
class Waiter:
    """A run paused in a `wait` action until its condition holds (or the timeout timer fires)."""

    timer: Timer
    condition: Condition
    devices: frozenset[str]
    on_met: Callable[[], Coroutine[Any, Any, None]]


def condition_devices(cond: Condition) -> frozenset[str]:
    """Every device a condition reads (through and/or/not too)."""
    out: set[str] = set()
    device = getattr(cond, "device", None)
    if isinstance(device, str):
        out.add(device)
    for sub in getattr(cond, "conditions", None) or ():
        out |= condition_devices(sub)
    return frozenset(out)


class Waits:
    """Pauses runs on durable timers and wakes `wait`s whose condition came true."""

    def __init__(
        self, facts: Facts, clock: Clock, wheel: TimerWheel, store: TimerStore, spawn: Spawn
    ) -> None:
        self.facts = facts
        self.clock = clock
        self.wheel = wheel
        self.store = store
        self.spawn = spawn
        self.waiting: dict[str, Waiter] = {}  # by timer id
        self.by_device: dict[str, set[str]] = {}

    def add(self, waiter: Waiter) -> None:
        """Start listening for a waiter's condition."""
        timer_id = waiter.timer.id
        self.waiting[timer_id] = waiter
        for device in waiter.devices:
            self.by_device.setdefault(device, set()).add(timer_id)

    def drop(self, timer_id: str) -> Waiter | None:
        """Stop listening (the run resumed, timed out or was cancelled)."""
        waiter = self.waiting.pop(timer_id, None)
        if waiter is not None:
            for device in waiter.devices:
                ids = self.by_device.get(device)
                if ids is not None:
                    ids.discard(timer_id)
                    if not ids:
                        del self.by_device[device]
        return waiter

    def device_changed(self, device: str) -> None:
        """A device's values or availability changed: wake the waits that read it."""
        ids = self.by_device.get(device)
        if ids:
            self.check(ids)

    def check(self, timer_ids: Iterable[str]) -> None:
        """Wake the given waiters whose condition holds now."""
        for timer_id in list(timer_ids):
            waiter = self.waiting.get(timer_id)
            if waiter is None or not check(waiter.condition, self.facts)[0]:
                continue
            self.drop(timer_id)
            self.wheel.cancel(timer_id, forget=False)
            self.spawn(waiter.on_met(), f"rule-wait-{timer_id}")

    async def pause(
        self,
        rule: Rule,
        run: Run,
        action: DelayAction | WaitAction,
        index: int,
        step: dict[str, Any],
    ) -> str | None:
        """Wait on a durable timer (delay, or a wait's timeout); the outcome, None if lost."""
        now = self.clock.now()
        if isinstance(action, WaitAction):
            ok, why = check(action.until, self.facts)
            if ok:
                return f"condition held: {why}"
            due = now + action.timeout
            kind = "wait"
        else:
            due = now + action.for_
            kind = "delay"
        step["until"] = due
        timer_id = f"{rule.id}#run-{run.id}"
        run.delay_timer = timer_id
        outcome: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()

        async def finish(timer: Timer, result: str) -> None:
            got = await self.store.claim(timer)
            if not outcome.done():
                outcome.set_result(result if got else None)

        payload = {"run_id": run.id, "next": index + 1, "context": run.context, "trace": run.trace}
        timer = Timer(timer_id, rule.id, kind, due, payload)
        if isinstance(action, WaitAction):
            self.add(
                Waiter(
                    timer,
                    action.until,
                    condition_devices(action.until),
                    lambda: finish(timer, "condition met"),
                )
            )

        async def on_due(t: Timer) -> None:
            self.drop(t.id)
            await finish(t, "timeout" if kind == "wait" else "done")

        self.wheel.arm(timer, on_due)
        try:
            return await outcome
        finally:
            self.drop(timer_id)

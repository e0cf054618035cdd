"""The hot path: a bus event, the triggers indexed under it, and a crossing that fires a rule.

A trigger fires when its state is *entered* (a `state` trigger's `to`/`from`, a `numeric`
trigger's range, a device going on/offline). With `for`, entering arms a durable countdown
instead, and leaving the state cancels it; deadlines.py decides when it comes due.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from hub.events import DeviceAvailability, NamedEvent, PresenceChanged, StateChanged
from hub.rules.conditions import MISSING, describe_range, in_range, same_value
from hub.rules.facts import HubFacts
from hub.rules.index import TriggerIndex
from hub.rules.model import (
    AvailabilityTrigger,
    NumericTrigger,
    PresenceTrigger,
    StateTrigger,
    Trigger,
)
from hub.rules.state import Context, Rules, Run
from hub.rules.timers import Timer, TimerWheel
from hub.rules.waits import Waits

Fire = Callable[[str, Context], Run | None]
OnDue = Callable[[Timer], Awaitable[None]]


def still_holds(trig: Trigger | None, facts: HubFacts) -> tuple[bool, str]:
    """Whether the state a trigger enters holds now (for `for` countdowns and dry runs)."""
    if isinstance(trig, StateTrigger | NumericTrigger):
        value = facts.value(trig.device, trig.property)
        where = f"{trig.device}.{trig.property}"
        if isinstance(trig, StateTrigger):
            held = same_value(trig.to, value)
            when = "on any change" if trig.to is None else f"when it becomes {trig.to!r}"
        else:
            held = in_range(value, trig.above, trig.below)
            when = f"when it goes {describe_range(trig.above, trig.below)}"
        if value is MISSING:
            return False, f"{where} has no reported value yet; fires {when}"
        return held, f"{where} is {value!r}; fires {when}"
    if isinstance(trig, AvailabilityTrigger):
        online = facts.online(trig.device)
        if online is None:
            return False, f"no device {trig.device!r}"
        now = "online" if online else "offline"
        return online == (
            trig.to == "online"
        ), f"{trig.device} is {now}; fires when it goes {trig.to}"
    return False, "the trigger changed"


def countdown_id(rule_id: str, i: int) -> str:
    """The timer id of trigger i's `for` countdown."""
    return f"{rule_id}#for{i}"


class Triggers:
    """Bus handlers: look up the index, test the triggers found, fire or arm countdowns."""

    def __init__(
        self,
        index: TriggerIndex,
        rules: Rules,
        facts: HubFacts,
        waits: Waits,
        wheel: TimerWheel,
        fire: Fire,
        countdown_due: OnDue,
    ) -> None:
        self.index = index
        self.rules = rules
        self.facts = facts
        self.waits = waits
        self.wheel = wheel
        self.fire = fire
        self.countdown_due = countdown_due

    def on_state(self, ev: StateChanged) -> None:
        """Reported values changed."""
        if ev.device in self.waits.by_device:
            self.waits.device_changed(ev.device)
        index = self.index.state
        device = ev.device
        for key, new in ev.changes.items():
            entries = index.get((device, key))
            if not entries:
                continue
            old = ev.previous.get(key)
            for watch in entries:
                if watch.numeric:
                    above, below = watch.above, watch.below
                    inside = in_range(new, above, below)
                    crossed = inside and not in_range(old, above, below)
                else:
                    to, from_ = watch.to, watch.from_
                    inside = True if to is None else same_value(to, new)
                    crossed = inside and (from_ is None or same_value(from_, old))
                hold = watch.for_
                if hold is None and not crossed:
                    continue  # nothing fires and no countdown to arm or cancel
                ctx = {
                    "trigger": watch.index,
                    "type": watch.kind,
                    "ts": ev.ts,
                    "device": device,
                    "property": key,
                    "value": new,
                    "previous": old,
                }
                if watch.numeric:
                    ctx["range"] = watch.range
                if hold is None:  # crossed, as tested above: fire (what _edge would do)
                    self.fire(watch.rule_id, ctx)
                else:
                    self._edge(watch.rule_id, watch.index, hold, inside, crossed, ctx)

    def _edge(
        self,
        rule_id: str,
        i: int,
        hold: float | None,
        inside: bool,
        crossed: bool,
        ctx: dict[str, Any],
    ) -> None:
        """Fire on a crossing, or (with `for`) arm a countdown that leaving the range cancels."""
        if hold is None:
            if crossed:
                self.fire(rule_id, ctx)
            return
        timer_id = countdown_id(rule_id, i)
        if not inside:
            if self.wheel.get(timer_id) is not None:
                self.wheel.cancel(timer_id)
            self.wheel.release(timer_id)
            return
        if crossed and self.wheel.get(timer_id) is None and timer_id not in self.wheel.held:
            # An armed countdown is never restarted: the first crossing keeps its due time.
            ctx = {**ctx, "since": ctx["ts"], "ts": ctx["ts"] + hold}
            timer = Timer(timer_id, rule_id, "for", ctx["ts"], {"context": ctx})
            self.wheel.arm(timer, self.countdown_due)

    def on_availability(self, ev: DeviceAvailability) -> None:
        """A device went online or offline."""
        if ev.device in self.waits.by_device:
            self.waits.device_changed(ev.device)
        for rule_id, i in self.index.availability.get(ev.device, ()):
            trig = self.rules[rule_id].rule.triggers[i]
            assert isinstance(trig, AvailabilityTrigger)
            inside = ev.online == (trig.to == "online")
            ctx = {
                "trigger": i,
                "type": trig.type,
                "ts": ev.ts,
                "device": ev.device,
                "online": ev.online,
                "reason": ev.reason,
            }
            self._edge(rule_id, i, trig.for_, inside, inside, ctx)

    def on_presence(self, ev: PresenceChanged) -> None:
        """Someone arrived or left."""
        if self.waits.waiting:
            self.waits.check(set(self.waits.waiting))
        if not self.index.presence:
            return
        home_now = sum(1 for h in self.facts.people().values() if h)
        for rule_id, i in self.index.presence:
            trig = self.rules[rule_id].rule.triggers[i]
            assert isinstance(trig, PresenceTrigger)
            if trig.person is not None and trig.person != ev.person:
                continue
            if trig.to == "home":
                hit = ev.home
            elif trig.to == "away":
                hit = not ev.home
            elif trig.to == "everyone_away":
                hit = not ev.home and home_now == 0
            else:
                hit = ev.home and home_now == 1
            if hit:
                ctx = {
                    "trigger": i,
                    "type": trig.type,
                    "ts": ev.ts,
                    "person": ev.person,
                    "home": ev.home,
                }
                self.fire(rule_id, ctx)

    def on_named(self, ev: NamedEvent) -> None:
        """A named event (from the API or a rule's `event` action)."""
        for rule_id, i in self.index.event.get(ev.name, ()):
            ctx = {"trigger": i, "type": "event", "ts": ev.ts, "name": ev.name, "data": ev.data}
            self.fire(rule_id, ctx)

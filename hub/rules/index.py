"""Which rules a bus event can touch: triggers indexed by what they listen to.

A state change looks up `(device, property)` in a dict and touches only the rules listed
there; nothing scans all rules.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter, itemgetter
from typing import Any

from hub.rules.conditions import describe_range
from hub.rules.model import (
    AvailabilityTrigger,
    EventTrigger,
    NumericTrigger,
    PresenceTrigger,
    Rule,
    StateTrigger,
)

Entry = tuple[str, int]  # (rule id, trigger index)


class StateWatch:
    """A state or numeric trigger as the hot path reads it, on every change of its property.

    Its fields are copied into slots (the trigger is frozen): reading a pydantic field took 27 ns
    and a slot 7, and a state change read five or six of them. It also carries what finding its
    rule would otherwise cost, and a numeric range's words.
    """

    __slots__ = (
        "above",
        "below",
        "for_",
        "from_",
        "index",
        "kind",
        "numeric",
        "range",
        "rule_id",
        "to",
    )

    rule_id: str
    index: int  # of the trigger in its rule
    kind: str  # "state" or "numeric", as the trigger's `type`
    numeric: bool
    for_: float | None
    above: float | None  # numeric
    below: float | None
    range: str  # numeric: "above 25" ...
    to: Any  # state
    from_: Any

    def __init__(self, rule_id: str, index: int, trig: StateTrigger | NumericTrigger) -> None:
        self.rule_id = rule_id
        self.index = index
        self.kind = trig.type
        self.for_ = trig.for_
        self.numeric = isinstance(trig, NumericTrigger)
        if isinstance(trig, NumericTrigger):
            self.above, self.below = trig.above, trig.below
            self.range = describe_range(trig.above, trig.below)
            self.to = self.from_ = None
        else:
            self.to, self.from_ = trig.to, trig.from_
            self.above = self.below = None
            self.range = ""


class TriggerIndex:
    """Event-driven triggers of the enabled rules, by device/property, device, event name."""

    def __init__(self) -> None:
        self.state: dict[tuple[str, str], list[StateWatch]] = {}
        self.availability: dict[str, list[Entry]] = {}
        self.event: dict[str, list[Entry]] = {}
        self.presence: list[Entry] = []

    def add(self, rule: Rule) -> None:
        """List the rule under everything its triggers listen to."""
        for i, trig in enumerate(rule.triggers):
            entry = (rule.id, i)
            if isinstance(trig, StateTrigger | NumericTrigger):
                watch = StateWatch(rule.id, i, trig)
                self.state.setdefault((trig.device, trig.property), []).append(watch)
            elif isinstance(trig, AvailabilityTrigger):
                self.availability.setdefault(trig.device, []).append(entry)
            elif isinstance(trig, EventTrigger):
                self.event.setdefault(trig.name, []).append(entry)
            elif isinstance(trig, PresenceTrigger):
                self.presence.append(entry)

    def remove(self, rule: Rule) -> None:
        """Take the rule out of every list `add` put it in."""

        def drop(
            index: dict[Any, list[Any]], key: Any, rule_of: Callable[[Any], str] = itemgetter(0)
        ) -> None:
            entries = [e for e in index.get(key, ()) if rule_of(e) != rule.id]
            if entries:
                index[key] = entries
            else:
                index.pop(key, None)

        for trig in rule.triggers:
            if isinstance(trig, StateTrigger | NumericTrigger):
                drop(self.state, (trig.device, trig.property), attrgetter("rule_id"))
            elif isinstance(trig, AvailabilityTrigger):
                drop(self.availability, trig.device)
            elif isinstance(trig, EventTrigger):
                drop(self.event, trig.name)
        self.presence = [e for e in self.presence if e[0] != rule.id]

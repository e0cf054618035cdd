"""Which rules a bus event can touch: triggers indexed by what they listen to.

A state change looks up `(device, property)` in a dict and touches only the rules listed
there; nothing scans all rules.
"""

from __future__ import annotations

from typing import Any

from hub.rules.model import (
    AvailabilityTrigger,
    EventTrigger,
    NumericTrigger,
    PresenceTrigger,
    Rule,
    StateTrigger,
)

Entry = tuple[str, int]  # (rule id, trigger index)
# State entries carry their trigger too: the hot path tests it without finding the rule.
StateEntry = tuple[str, int, StateTrigger | NumericTrigger]


class TriggerIndex:
    """Event-driven triggers of the enabled rules, by device/property, device, event name."""

    def __init__(self) -> None:
        self.state: dict[tuple[str, str], list[StateEntry]] = {}
        self.availability: dict[str, list[Entry]] = {}
        self.event: dict[str, list[Entry]] = {}
        self.presence: list[Entry] = []

    def add(self, rule: Rule) -> None:
        """List the rule under everything its triggers listen to."""
        for i, trig in enumerate(rule.triggers):
            entry = (rule.id, i)
            if isinstance(trig, StateTrigger | NumericTrigger):
                self.state.setdefault((trig.device, trig.property), []).append((rule.id, i, trig))
            elif isinstance(trig, AvailabilityTrigger):
                self.availability.setdefault(trig.device, []).append(entry)
            elif isinstance(trig, EventTrigger):
                self.event.setdefault(trig.name, []).append(entry)
            elif isinstance(trig, PresenceTrigger):
                self.presence.append(entry)

    def remove(self, rule: Rule) -> None:
        """Take the rule out of every list `add` put it in."""

        def drop(index: dict[Any, list[Any]], key: Any) -> None:
            entries = [e for e in index.get(key, ()) if e[0] != rule.id]
            if entries:
                index[key] = entries
            else:
                index.pop(key, None)

        for trig in rule.triggers:
            if isinstance(trig, StateTrigger | NumericTrigger):
                drop(self.state, (trig.device, trig.property))
            elif isinstance(trig, AvailabilityTrigger):
                drop(self.availability, trig.device)
            elif isinstance(trig, EventTrigger):
                drop(self.event, trig.name)
        self.presence = [e for e in self.presence if e[0] != rule.id]

"""Which events a live subscriber wants; shared by the WebSocket and the relay link."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hub.errors import Invalid
from hub.events import EVENT_TYPES, Event


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Event types and devices to pass (empty: all)."""

    types: frozenset[str] = frozenset()
    devices: frozenset[str] = frozenset()

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> EventFilter:
        """From `?types=a,b&devices=x,y`; unknown types are an error naming the known ones."""
        types = frozenset(t for t in query.get("types", "").split(",") if t)
        unknown = types - set(EVENT_TYPES)
        if unknown:
            raise Invalid(
                f"unknown event types {', '.join(sorted(unknown))}; "
                f"known: {', '.join(sorted(EVENT_TYPES))}"
            )
        devices = frozenset(d for d in query.get("devices", "").split(",") if d)
        return cls(types, devices)

    def __call__(self, event: Event) -> bool:
        if self.types and event.type not in self.types:
            return False
        return not self.devices or event.device_id in self.devices

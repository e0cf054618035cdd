"""Who is home, as reported by phones through the API or relay."""

from __future__ import annotations

import json

from hub.clock import Clock
from hub.events import EventBus, PresenceChanged
from hub.store import Database

_KV_KEY = "presence"


class Presence:
    """People and whether each is home; changes go out as PresenceChanged events."""

    def __init__(self, db: Database, bus: EventBus, clock: Clock) -> None:
        self.db = db
        self.bus = bus
        self.clock = clock
        self.people: dict[str, dict[str, float | bool]] = {}

    async def load(self) -> None:
        """Read the last known presence."""
        raw = await self.db.get_kv(_KV_KEY)
        self.people = json.loads(raw) if raw else {}

    async def set(self, person: str, home: bool) -> None:
        """Record a person's arrival or departure."""
        previous = self.people.get(person, {}).get("home")
        self.people[person] = {"home": home, "since": self.clock.now()}
        await self.db.set_kv(_KV_KEY, json.dumps(self.people))
        if previous != home:
            self.bus.publish(PresenceChanged(ts=self.clock.now(), person=person, home=home))

    def anyone_home(self) -> bool:
        """True if at least one known person is home."""
        return any(p["home"] for p in self.people.values())

    def is_home(self, person: str) -> bool:
        """True if that person is home."""
        return bool(self.people.get(person, {}).get("home", False))

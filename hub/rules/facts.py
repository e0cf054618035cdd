"""What rule conditions read in a running hub: shadows, presence, the clock and the place."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hub.rules.conditions import MISSING
from hub.rules.schedule import Place

if TYPE_CHECKING:
    from hub.app import Hub


class HubFacts:
    """Conditions read the registry's shadows, the presence table and the hub clock."""

    def __init__(self, hub: Hub, place: Place) -> None:
        self._hub = hub
        self.place = place

    def value(self, device: str, prop: str) -> Any:
        """The last reported value, or MISSING."""
        rec = self._hub.registry.devices.get(device)
        if rec is None:
            return MISSING
        reported = rec.shadow.reported.get(prop)
        return MISSING if reported is None else reported.value

    def now(self) -> float:
        """The hub clock's epoch seconds."""
        return self._hub.clock.now()

    def people(self) -> Mapping[str, bool]:
        """Person -> is home."""
        return {p: bool(v.get("home")) for p, v in self._hub.presence.people.items()}

    def online(self, device: str) -> bool | None:
        """Whether a device is reachable (None: no such device)."""
        rec = self._hub.registry.devices.get(device)
        return None if rec is None else rec.online

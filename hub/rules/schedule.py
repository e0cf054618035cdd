"""When time-based triggers fire next: time of day, cron and sunrise/sunset (pure functions).

croniter (with dateutil) and astral load when a rule first needs them: most hubs have no cron
or sun rule, and a small board keeps the memory. `load_libraries()` imports them off the loop.
"""

from __future__ import annotations

import asyncio
import importlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from hub.rules.model import CronTrigger, SunTrigger, TimeTrigger

_LIBRARIES = ("croniter", "astral", "astral.sun")

# How a stored rule's JSON names the triggers that need them.
NEEDS_LIBRARIES = ('"type": "cron"', '"type": "sun"')


async def load_libraries() -> None:
    """Import croniter and astral in a worker thread (importing reads files)."""
    await asyncio.to_thread(lambda: [importlib.import_module(m) for m in _LIBRARIES])

ScheduledTrigger = TimeTrigger | CronTrigger | SunTrigger


@dataclass(frozen=True, slots=True)
class Place:
    """Where the hub is: its timezone, and coordinates for the sun (None if not configured)."""

    timezone: str = "UTC"
    latitude: float | None = None
    longitude: float | None = None

    @property
    def zone(self) -> ZoneInfo:
        """The timezone object."""
        return ZoneInfo(self.timezone)


def next_fire(trigger: ScheduledTrigger, after: float, place: Place) -> float | None:
    """The first firing strictly after `after` (epoch seconds), or None if there is none."""
    zone = place.zone
    start = datetime.fromtimestamp(after, zone)
    if isinstance(trigger, TimeTrigger):
        day = start.date()
        for _ in range(3):
            at = datetime.combine(day, trigger.at, tzinfo=zone).timestamp()
            if at > after:
                return at
            day += timedelta(days=1)
        return None
    if isinstance(trigger, CronTrigger):
        from croniter import croniter

        it = croniter(trigger.cron, start)
        nxt = float(it.get_next(float))
        while nxt <= after:
            nxt = float(it.get_next(float))
        return nxt
    return _next_sun(trigger, after, place)


def _next_sun(trigger: SunTrigger, after: float, place: Place) -> float | None:
    if place.latitude is None or place.longitude is None:
        return None
    from astral import LocationInfo
    from astral.sun import sunrise, sunset

    loc = LocationInfo(latitude=place.latitude, longitude=place.longitude, timezone=place.timezone)
    day: date = datetime.fromtimestamp(after, place.zone).date() - timedelta(days=1)
    fn = sunrise if trigger.event == "sunrise" else sunset
    for _ in range(400):  # polar night/day: the sun may not rise for months
        try:
            at = fn(loc.observer, day, tzinfo=place.zone).timestamp() + trigger.offset
        except ValueError:
            at = None
        if at is not None and at > after:
            return at
        day += timedelta(days=1)
    return None

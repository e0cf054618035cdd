"""MQTT topic filters: matching (`+` one level, `#` the rest) and a router from filters to handlers.

Pure code, no I/O. Exact filters are a dictionary lookup, so a hub with a thousand device topics
does not test every filter for every message.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


def is_wildcard(topic_filter: str) -> bool:
    """True when the filter has `+` or `#` levels."""
    return "+" in topic_filter or "#" in topic_filter


def valid_filter(topic_filter: str) -> bool:
    """MQTT 3.1.1 §4.7: `#` only as the last level, wildcards only as whole levels."""
    if not topic_filter:
        return False
    levels = topic_filter.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            return False
        if "+" in level and level != "+":
            return False
    return True


def matches(topic_filter: str, topic: str) -> bool:
    """Does a topic match a filter? Topics starting with `$` never match a leading wildcard."""
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    want = topic_filter.split("/")
    have = topic.split("/")
    for i, level in enumerate(want):
        if level == "#":
            return True
        if i >= len(have):
            return False
        if level != "+" and level != have[i]:
            return False
    return len(want) == len(have)


class Router(Generic[T]):
    """Filters to values (handlers); `match(topic)` yields the values of every matching filter."""

    def __init__(self) -> None:
        self._exact: dict[str, list[T]] = {}
        self._wild: dict[str, list[T]] = {}

    def add(self, topic_filter: str, value: T) -> None:
        """Route a filter to a value (a filter may have several)."""
        if not valid_filter(topic_filter):
            raise ValueError(f"{topic_filter!r} is not a valid MQTT topic filter")
        table = self._wild if is_wildcard(topic_filter) else self._exact
        table.setdefault(topic_filter, []).append(value)

    def remove(self, topic_filter: str, value: T | None = None) -> bool:
        """Forget one value of a filter (or all); True when the filter has none left."""
        table = self._wild if is_wildcard(topic_filter) else self._exact
        values = table.get(topic_filter, [])
        if value is None:
            values.clear()
        elif value in values:
            values.remove(value)
        if not values:
            table.pop(topic_filter, None)
            return True
        return False

    def get(self, topic_filter: str) -> list[T]:
        """The values routed from one filter."""
        table = self._wild if is_wildcard(topic_filter) else self._exact
        return list(table.get(topic_filter, ()))

    def filters(self) -> list[str]:
        """Every routed filter (what to subscribe to)."""
        return [*self._exact, *self._wild]

    def match(self, topic: str) -> Iterator[tuple[str, T]]:
        """(filter, value) for every filter matching the topic."""
        for value in self._exact.get(topic, ()):
            yield topic, value
        for topic_filter, values in self._wild.items():
            if matches(topic_filter, topic):
                for value in values:
                    yield topic_filter, value

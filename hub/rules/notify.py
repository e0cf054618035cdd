"""Where rule notifications go: an interface, a log sink and an event-bus sink (API WebSocket)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from hub.events import EventBus, Notification

_LOG = logging.getLogger("hub.rules.notify")


@dataclass(frozen=True, slots=True)
class Notice:
    """One message for people, from a rule's notify or remind action."""

    ts: float
    rule_id: str
    message: str
    title: str = ""
    kind: str = "notify"  # notify | remind
    count: int = 0  # which reminder this is (1-based), 0 for notify

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "ts": self.ts,
            "rule_id": self.rule_id,
            "message": self.message,
            "title": self.title,
            "kind": self.kind,
            "count": self.count,
        }


class NotificationSink(Protocol):
    """Delivers notices; raise to report failure (the trace records it)."""

    async def send(self, notice: Notice) -> None:
        """Deliver one notice."""
        ...


class LogSink:
    """Writes notices to the hub log."""

    async def send(self, notice: Notice) -> None:
        """Log at INFO."""
        _LOG.info("[%s] %s %s", notice.rule_id, notice.title, notice.message)


class BusSink:
    """Publishes Notification events; the API WebSocket (and later the relay) forwards them."""

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus

    async def send(self, notice: Notice) -> None:
        """Publish on the event bus."""
        self.bus.publish(
            Notification(
                ts=notice.ts, title=notice.title, message=notice.message, rule_id=notice.rule_id
            )
        )

"""Where rule notifications go: the hub's inbox first, then the sinks (the log, tests' lists).

The inbox (hub.core.notifications) stores each notice and publishes the `notification` event
that the API WebSocket and the relay forward; sinks are for everything else.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from hub.core.notifications import Inbox

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
    id: str = ""  # the inbox entry (a reminder's repeats share one); set when sent
    source: str = ""  # the reminder's timer id

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "ts": self.ts,
            "rule_id": self.rule_id,
            "message": self.message,
            "title": self.title,
            "kind": self.kind,
            "count": self.count,
            "id": self.id,
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


class Notifier:
    """Keeps each notice in the inbox (which publishes it), then hands it to the sinks."""

    def __init__(self, inbox: Inbox | None, sinks: Sequence[NotificationSink]) -> None:
        self.inbox = inbox
        self.sinks = sinks

    async def send(self, notice: Notice) -> dict[str, Any]:
        """Record and deliver one notice; the result (for the trace) names the inbox entry."""
        stored: dict[str, Any] = {}
        if self.inbox is not None:
            try:
                nid = await self.inbox.record(
                    rule_id=notice.rule_id,
                    kind="reminder" if notice.kind == "remind" else "alert",
                    title=notice.title,
                    message=notice.message,
                    notification_id=notice.id,
                    source=notice.source,
                    count=max(1, notice.count),
                )
            except Exception as err:  # the sinks still get it: a full disk must not mute alarms
                _LOG.exception("keeping a notification in the inbox failed")
                stored = {"inbox_failed": str(err)}
            else:
                if nid is None:  # a reminder resolved while this repeat was on its way
                    return {"skipped": "the notification was resolved"}
                notice = replace(notice, id=nid)
                stored = {"notification_id": nid}
        return {**await deliver(self.sinks, notice), **stored}


async def deliver(sinks: Sequence[NotificationSink], notice: Notice) -> dict[str, Any]:
    """Send a notice to every sink; a failing sink is logged and named in the result."""
    failures = {}
    for sink in sinks:
        try:
            await sink.send(notice)
        except Exception as err:
            _LOG.warning("notification sink %r failed: %s", sink, err)
            failures[type(sink).__name__] = str(err)
    return {"sent": notice.message, **({"failed": failures} if failures else {})}

"""Everything the hub reports, as it happens."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.widget import Widget
from textual.widgets import RichLog

from tui.screens.base import HubScreen


def describe(event: Mapping[str, Any], names: Mapping[str, str]) -> str:
    """One line for a live event: time, kind, device name and what changed."""
    ts = event.get("ts")
    when = time.strftime("%H:%M:%S", time.localtime(ts)) if isinstance(ts, int | float) else "--"
    kind = str(event.get("type", "?"))
    device = event.get("device")
    who = names.get(device, device) if isinstance(device, str) else ""
    if kind == "state_changed":
        what = ", ".join(f"{k}={_short(v)}" for k, v in (event.get("changes") or {}).items())
    elif kind == "desired_changed":
        what = "asked " + ", ".join(
            f"{k}={_short(v)}" for k, v in (event.get("values") or {}).items()
        )
    elif kind == "availability":
        what = ("online" if event.get("online") else "offline") + (
            f" ({event['reason']})" if event.get("reason") else ""
        )
    elif kind == "command_result":
        what = str(event.get("status", "")) + (
            f": {event['reason']}" if event.get("reason") else ""
        )
    elif kind == "notification":
        what = f"{event.get('title', '')}: {event.get('message', '')}"
    elif kind == "device_discovered":
        what = f"{event.get('name', '')} ({event.get('integration', '')} at {event.get('address')})"
    else:
        skip = {"type", "ts", "device"}
        what = _short({k: v for k, v in event.items() if k not in skip})
    parts = [when, f"{kind:<17}", who, what]
    return " ".join(p for p in parts if p)


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "…"


class EventsScreen(HubScreen):
    """A scrolling log of live events (the last 500)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("c", "clear", "Clear")]

    def compose_body(self) -> Iterable[Widget]:
        yield RichLog(id="log", wrap=False, markup=False, max_lines=2000)

    def on_mount(self) -> None:
        """Show what was seen so far, then follow."""
        super().on_mount()
        log = self.query_one(RichLog)
        for event in self.hub_app.event_log:
            log.write(self._line(event))
        self.hub_app.event_seen.subscribe(self, self._seen)

    def _line(self, event: Mapping[str, Any]) -> str:
        names = {d.id: d.name for d in self.hub_app.devices.values()}
        return describe(event, names)

    def _seen(self, event: dict[str, Any]) -> None:
        self.query_one(RichLog).write(self._line(event))

    def action_clear(self) -> None:
        """Clear the log."""
        self.hub_app.event_log.clear()
        self.query_one(RichLog).clear()

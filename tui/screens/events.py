"""Everything the hub reports, as it happens."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from textual import on
from textual.binding import Binding, BindingType
from textual.widget import Widget
from textual.widgets import Input, RichLog

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

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "clear", "Clear"),
        Binding("slash", "filter", "Filter"),
        # Esc (or Enter) leaves the filter field for the log, keeping what was typed.
        Binding("escape", "leave_filter", "Done", show=False),
    ]

    def compose_body(self) -> Iterable[Widget]:
        yield Input(
            placeholder="/ to filter by device, property or event type (Esc: back to the log)",
            id="filter",
            compact=True,
        )
        yield RichLog(id="log", wrap=False, markup=False, max_lines=2000)

    def on_mount(self) -> None:
        """Show what was seen so far, then follow."""
        super().on_mount()
        self._rewrite()
        self.hub_app.event_seen.subscribe(self, self._seen)
        self.query_one(RichLog).focus()

    def _line(self, event: Mapping[str, Any]) -> str:
        names = {d.id: d.name for d in self.hub_app.devices.values()}
        return describe(event, names)

    def _wanted(self, line: str) -> bool:
        needle = self.query_one("#filter", Input).value.strip().lower()
        return not needle or needle in line.lower()

    def _rewrite(self) -> None:
        log = self.query_one(RichLog)
        log.clear()
        for event in self.hub_app.event_log:
            line = self._line(event)
            if self._wanted(line):
                log.write(line)

    def _seen(self, event: dict[str, Any]) -> None:
        line = self._line(event)
        if self._wanted(line):
            self.query_one(RichLog).write(line)

    @on(Input.Changed, "#filter")
    def _filter_changed(self) -> None:
        self._rewrite()

    def action_filter(self) -> None:
        """Type a filter."""
        self.query_one("#filter", Input).focus()

    @on(Input.Submitted, "#filter")
    def action_leave_filter(self) -> None:
        """Back to the log (the filter stays applied)."""
        self.query_one(RichLog).focus()

    def action_clear(self) -> None:
        """Clear the log."""
        self.hub_app.event_log.clear()
        self.query_one(RichLog).clear()

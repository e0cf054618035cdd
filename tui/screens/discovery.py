"""Devices the hub found on the network: adopt them with a name and a room."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from textual import on, work
from textual.binding import Binding, BindingType
from textual.widget import Widget
from textual.widgets import DataTable, Static

from tui.errors import TuiError
from tui.models import Discovered
from tui.screens.base import HubScreen
from tui.screens.dialogs import NameRoomDialog


class DiscoveryScreen(HubScreen):
    """What the hub found and has not adopted yet."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "adopt", "Adopt", show=False),
        Binding("f5", "refresh", "Refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, Discovered] = {}

    def compose_body(self) -> Iterable[Widget]:
        yield Static("Found on the network — Enter to adopt", classes="title")
        table: DataTable[str] = DataTable(id="found", cursor_type="row")
        yield table
        yield Static("", id="found-message", classes="message")

    def on_mount(self) -> None:
        """List what was found and follow new finds."""
        super().on_mount()
        table: DataTable[str] = self.query_one("#found", DataTable)
        table.add_column("Name", key="name", width=24)
        table.add_column("Kind", key="integration", width=10)
        table.add_column("Address", key="address", width=16)
        table.add_column("Model", key="model")
        self.hub_app.event_seen.subscribe(self, self._seen)
        self.action_refresh()

    def on_screen_resume(self) -> None:
        """Refresh when shown again."""
        self.action_refresh()

    def _seen(self, event: dict[str, Any]) -> None:
        if event.get("type") in ("device_discovered", "device_added"):
            self.action_refresh()

    @work(exclusive=True, group="discovered")
    async def action_refresh(self) -> None:
        """Read the list again."""
        message = self.query_one("#found-message", Static)
        try:
            found = await self.client.discovered()
        except TuiError as err:
            message.update(str(err))
            return
        self.found = {f.key: f for f in found}
        table: DataTable[str] = self.query_one("#found", DataTable)
        table.clear()
        for f in sorted(found, key=lambda f: f.name):
            table.add_row(f.name, f.integration, f.address, f.model, key=f.key)
        message.update(
            "" if found else "Nothing new found. Devices appear here as the hub discovers them."
        )

    @on(DataTable.RowSelected, "#found")
    def _selected(self, event: DataTable.RowSelected) -> None:
        self.action_adopt()

    def action_adopt(self) -> None:
        """Adopt the highlighted device."""
        table: DataTable[str] = self.query_one("#found", DataTable)
        if not table.row_count:
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        found = self.found.get(key or "")
        if found is None:
            return
        rooms = sorted({d.room for d in self.hub_app.devices.values() if d.room})

        def adopt(answer: tuple[str, str] | None) -> None:
            if answer is not None:
                self._adopt(found, *answer)

        title = f"Adopt {found.name} ({found.integration})"
        self.app.push_screen(NameRoomDialog(title, found.name, "", rooms, "Adopt"), adopt)

    @work(group="adopt")
    async def _adopt(self, found: Discovered, name: str, room: str) -> None:
        try:
            await self.client.adopt(found.key, name=name, room=room or None)
        except TuiError as err:
            self.notify(f"could not adopt {found.name}: {err}", severity="error")
            return
        self.notify(f"adopted {name}" + (f" into {room}" if room else ""))
        self.action_refresh()

"""Devices the hub found on the network: adopt them with a name and a room."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from rich.text import Text
from textual import events, on, work
from textual.binding import Binding, BindingType
from textual.widget import Widget
from textual.widgets import DataTable, Static

from tui.errors import TuiError
from tui.models import Discovered
from tui.screens.base import HubScreen
from tui.screens.dialogs import NameRoomDialog
from tui.widgets import cell

COLUMNS = (("Name", "name"), ("Kind", "integration"), ("Address", "address"), ("Model", "model"))


def found_widths(width: int, found: list[Discovered]) -> tuple[int, int, int, int]:
    """Column widths that fill `width` (one cell of padding either side of each column): kind,
    address and model as wide as they need up to a limit, the name the rest."""
    free = max(0, width - 2 * len(COLUMNS))

    def want(values: list[str], title: str, most: int) -> int:
        return min(most, max([len(title), *map(len, values)]))

    kind = want([f.integration for f in found], "Kind", 12)
    address = want([f.address for f in found], "Address", 21)
    model = want([f.model for f in found], "Model", 16)
    name = free - kind - address - model
    if name < 12:
        model = max(5, model - (12 - name))
        name = max(6, free - kind - address - model)
    return name, kind, address, model


class DiscoveryScreen(HubScreen):
    """What the hub found and has not adopted yet."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "adopt", "Adopt", show=False),
        Binding("f5", "refresh", "Refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, Discovered] = {}
        self.error = ""  # why the list could not be read (kept when the table is refitted)

    def compose_body(self) -> Iterable[Widget]:
        yield Static("Found on the network — Enter to adopt", classes="title")
        table: DataTable[Text] = DataTable(id="found", cursor_type="row")
        yield table
        yield Static("", id="found-message", classes="message")

    def on_mount(self) -> None:
        """List what was found and follow new finds."""
        super().on_mount()
        self.hub_app.event_seen.subscribe(self, self._seen)
        self.action_refresh()

    def on_resize(self, event: events.Resize) -> None:
        """Fit the columns to the new width."""
        self.call_after_refresh(self._fill)

    def _fill(self) -> None:
        """The table, its columns fitted to the width and long texts cut with an ellipsis."""
        table: DataTable[Text] = self.query_one("#found", DataTable)
        found = sorted(self.found.values(), key=lambda f: f.name)
        width = table.size.width or self.app.size.width
        table.clear(columns=True)
        for (label, key), w in zip(COLUMNS, found_widths(width, found), strict=True):
            table.add_column(label, key=key, width=w)
        for f in found:
            table.add_row(
                cell(f.name), cell(f.integration), cell(f.address), cell(f.model), key=f.key
            )
        self._show_selected()

    def _show_selected(self) -> None:
        """The highlighted find in full under the table (its name may be cut above)."""
        message = self.query_one("#found-message", Static)
        if self.error:
            message.update(self.error)
            return
        if not self.found:
            message.update(
                "Nothing new found. Devices appear here as the hub discovers them."
            )
            return
        table: DataTable[Text] = self.query_one("#found", DataTable)
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        f = self.found.get(key or "")
        if f is not None:
            model = f" · {f.model}" if f.model else ""
            message.update(Text(f"{f.name} · {f.integration} at {f.address}{model}"))

    @on(DataTable.RowHighlighted, "#found")
    def _highlighted(self) -> None:
        self._show_selected()

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
            self.error = str(err)
            message.update(self.error)
            return
        self.error = ""
        self.found = {f.key: f for f in found}
        self._fill()

    @on(DataTable.RowSelected, "#found")
    def _selected(self, event: DataTable.RowSelected) -> None:
        self.action_adopt()

    def action_adopt(self) -> None:
        """Adopt the highlighted device."""
        table: DataTable[Text] = self.query_one("#found", DataTable)
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

"""Rooms on the left, their devices with live values on the right."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from textual import on
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import DataTable, OptionList
from textual.widgets.option_list import Option

from tui.models import Device
from tui.screens.base import HubScreen

ALL_ROOMS = "\0all"
NO_ROOM = "No room"


def room_of(device: Device) -> str:
    """The room a device is listed under."""
    return device.room or NO_ROOM


class DashboardScreen(HubScreen):
    """Rooms and devices; Enter opens a device."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open", show=False),
        Binding("space", "power", "On/off"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.room = ALL_ROOMS

    def compose_body(self) -> Iterable[Widget]:
        with Horizontal():
            yield OptionList(id="rooms")
            table: DataTable[str] = DataTable(id="devices", cursor_type="row", zebra_stripes=True)
            yield table

    def on_mount(self) -> None:
        """Build the table and follow changes."""
        super().on_mount()
        table: DataTable[str] = self.query_one("#devices", DataTable)
        table.add_column("Device", key="name", width=18)
        table.add_column("Room", key="room", width=11)
        table.add_column("State", key="state")
        self.hub_app.home_changed.subscribe(self, self._home_changed)
        self._rebuild()
        table.focus()

    def _home_changed(self, device_id: str | None) -> None:
        table: DataTable[str] = self.query_one("#devices", DataTable)
        device = self.hub_app.devices.get(device_id) if device_id else None
        if device is not None and device_id is not None and device_id in table.rows:
            table.update_cell(device_id, "state", self._state(device))
        else:
            self._rebuild()

    @staticmethod
    def _state(device: Device) -> str:
        if not device.online:
            return "offline"
        text = device.summary()
        return f"{text} …" if device.pending else text

    def _rebuild(self) -> None:
        devices = sorted(self.hub_app.devices.values(), key=lambda d: (room_of(d), d.name))
        rooms: dict[str, int] = {}
        for d in devices:
            rooms[room_of(d)] = rooms.get(room_of(d), 0) + 1
        options = self.query_one("#rooms", OptionList)
        highlighted = options.highlighted
        options.clear_options()
        options.add_option(Option(f"All ({len(devices)})", id=ALL_ROOMS))
        for name in rooms:
            options.add_option(Option(name, id=name))
        if highlighted is not None and highlighted < options.option_count:
            options.highlighted = highlighted

        table: DataTable[str] = self.query_one("#devices", DataTable)
        selected = self.selected_id()
        table.clear()
        for d in devices:
            if self.room in (ALL_ROOMS, room_of(d)):
                table.add_row(d.name, room_of(d), self._state(d), key=d.id)
        if not self.hub_app.loaded:
            table.add_row("", "", "waiting for the hub…", key="")
            return
        if not table.row_count:
            table.add_row("(no devices yet)", "", "press n to adopt new devices", key="")
        elif selected is not None and selected in table.rows:
            table.move_cursor(row=table.get_row_index(selected))

    def selected_id(self) -> str | None:
        """The device under the cursor."""
        table: DataTable[str] = self.query_one("#devices", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return key or None

    @on(OptionList.OptionHighlighted, "#rooms")
    def _room_chosen(self, event: OptionList.OptionHighlighted) -> None:
        self.room = event.option.id or ALL_ROOMS
        self._rebuild()

    @on(DataTable.RowSelected, "#devices")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
        """Open the highlighted device."""
        from tui.screens.device import DeviceScreen

        device_id = self.selected_id()
        if device_id in self.hub_app.devices:
            self.app.push_screen(DeviceScreen(device_id))

    async def action_power(self) -> None:
        """Switch the highlighted device on or off."""
        device = self.hub_app.devices.get(self.selected_id() or "")
        if device is None:
            return
        power = device.properties.get("power")
        if power is None or not power.writable:
            self.notify(f"{device.name} has no on/off switch")
            return
        await self.hub_app.set_values(device.id, {"power": not device.values.get("power")})

"""Rooms on the left, their devices with live values on the right."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.text import Text
from textual import events, on
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import DataTable, OptionList, Static
from textual.widgets.option_list import Option

from tui.models import Device
from tui.screens.base import SCREEN_KEYS, HubScreen
from tui.widgets import cell

ALL_ROOMS = "\0all"
NO_ROOM = "No room"
NO_DEVICES = (
    "No devices yet. Press n to see what the hub found on the network and adopt it, "
    "or add devices in the hub's homehub.toml."
)
WAITING = "Waiting for the hub…"
# Widest the name and room columns get; the state takes the rest of the row.
NAME_MAX, ROOM_MAX = 22, 12


def column_widths(width: int, names: list[str], rooms: list[str]) -> tuple[int, int, int]:
    """Name, room and state column widths that fill `width` cells of table (each column has one
    cell of padding either side): names and rooms as wide as they need up to a limit, the
    state gets the rest, at least 12."""
    free = max(0, width - 6)
    name = min(NAME_MAX, max([len("Device"), *map(len, names)]))
    room = min(ROOM_MAX, max([len("Room"), *map(len, rooms)]))
    state = free - name - room
    if state < 12:  # very narrow: names and rooms give way first
        room = max(4, room - (12 - state) // 2)
        name = max(6, free - room - 12)
        state = max(1, free - name - room)
    return name, room, state


def room_of(device: Device) -> str:
    """The room a device is listed under."""
    return device.room or NO_ROOM


class DashboardScreen(HubScreen):
    """Rooms and devices; Enter opens a device."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open", show=False),
        Binding("space", "power", "On/off"),
        # "/" searches devices by name (and rooms, as "Room: …") in the command palette;
        Binding("slash", "app.command_palette", "Find", show=False),  # no room at 80 columns
        *(Binding(key, f"app.switch_mode('{mode}')", label) for key, mode, label in SCREEN_KEYS),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.room = ALL_ROOMS
        self._widths = (0, 0, 0)

    def compose_body(self) -> Iterable[Widget]:
        with Horizontal():
            yield OptionList(id="rooms")
            with Vertical(id="dash-right"):
                table: DataTable[Text] = DataTable(
                    id="devices", cursor_type="row", zebra_stripes=True
                )
                yield table
                # The highlighted device in full (the table cuts long names and states with an
                # ellipsis at 80 columns), or what to do when there is nothing to list.
                yield Static(WAITING, id="dash-line")

    def on_mount(self) -> None:
        """Build the table and follow changes."""
        super().on_mount()
        self.hub_app.home_changed.subscribe(self, self._home_changed)
        self._rebuild()
        self.query_one("#devices", DataTable).focus()

    def on_resize(self, event: events.Resize) -> None:
        """Fit the columns to the new width (once the table has its new size)."""
        self.call_after_refresh(self._rebuild)

    def _home_changed(self, device_id: str | None) -> None:
        table: DataTable[Text] = self.query_one("#devices", DataTable)
        device = self.hub_app.devices.get(device_id) if device_id else None
        if device is not None and device_id is not None and device_id in table.rows:
            table.update_cell(device_id, "state", cell(self._state(device)))
            self._show_line()
        else:
            self._rebuild()

    @staticmethod
    def _state(device: Device) -> str:
        if not device.online:
            return "offline"
        text = device.summary() or "—"  # nothing reported (a hub like a Remo): not a blank
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

        table: DataTable[Text] = self.query_one("#devices", DataTable)
        selected = self.selected_id()
        shown = [d for d in devices if self.room in (ALL_ROOMS, room_of(d))]
        # The table's own width less its vertical scrollbar when the rows need one.
        width = table.size.width or 60
        if len(shown) + 1 > table.size.height:
            width -= table.styles.scrollbar_size_vertical
        widths = column_widths(width, [d.name for d in shown], [room_of(d) for d in shown])
        if widths != self._widths or not table.columns:
            self._widths = widths
            table.clear(columns=True)
            for (label, key), w in zip(
                (("Device", "name"), ("Room", "room"), ("State", "state")), widths, strict=True
            ):
                table.add_column(label, key=key, width=w)
        else:
            table.clear()
        for d in shown:
            table.add_row(cell(d.name), cell(room_of(d)), cell(self._state(d)), key=d.id)
        if selected is not None and selected in table.rows:
            table.move_cursor(row=table.get_row_index(selected))
        self._show_line()

    def fitted(self) -> bool:
        """The columns have been fitted to the table's present width (tests wait for it)."""
        table: DataTable[Text] = self.query_one("#devices", DataTable)
        return bool(table.size.width) and sum(self._widths) + 6 in (
            table.size.width, table.size.width - table.styles.scrollbar_size_vertical
        )

    def _show_line(self) -> None:
        line = self.query_one("#dash-line", Static)
        device = self.hub_app.devices.get(self.selected_id() or "")
        if not self.hub_app.loaded:
            line.update(WAITING)
        elif not self.hub_app.devices:
            line.update(NO_DEVICES)
        elif device is None:
            line.update(f"No devices in {self.room}." if self.room != ALL_ROOMS else "")
        else:
            line.update(Text(f"{device.name} ({room_of(device)}): {self._state(device)}"))

    @on(DataTable.RowHighlighted, "#devices")
    def _row_highlighted(self) -> None:
        self._show_line()

    def selected_id(self) -> str | None:
        """The device under the cursor."""
        table: DataTable[Text] = self.query_one("#devices", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return key or None

    def show_room(self, room: str) -> None:
        """List only this room's devices (as if chosen on the left)."""
        options = self.query_one("#rooms", OptionList)
        for i in range(options.option_count):
            if options.get_option_at_index(i).id == room:
                options.highlighted = i
                return

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

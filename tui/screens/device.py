"""One device: every property with a control that fits its type."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, ClassVar

from textual import events, on, work
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.widget import Widget
from textual.widgets import Button, Label, Select, Static, Switch

from tui.errors import TuiError
from tui.models import Device, PropertyInfo
from tui.screens.base import HubScreen
from tui.screens.dialogs import NameRoomDialog
from tui.widgets import Slider

BUTTON_W = 18  # the widest learned button names ('channel_down') and a border


def widget_key(name: str) -> str:
    """A Textual-safe id fragment for a property or command name ('power.lamp' -> 'power_2e_')."""
    return re.sub(r"[^A-Za-z0-9_-]", lambda m: f"_{ord(m.group()):x}_", name)


def _step(prop: PropertyInfo) -> float:
    if prop.step:
        return prop.step
    return 1.0 if prop.type == "int" else 0.5


def is_slider(prop: PropertyInfo) -> bool:
    """Percentages with a full range (brightness) get a slider; other numbers get +/-."""
    return (
        prop.type == "int"
        and prop.minimum is not None
        and prop.maximum is not None
        and (prop.unit == "%" or prop.name == "brightness")
    )


class DeviceScreen(HubScreen):
    """Controls for one device; values update live."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("m", "rename", "Name/room"),
    ]

    def __init__(self, device_id: str) -> None:
        super().__init__()
        self.device_id = device_id
        self._commands: list[str] = []
        self._keyed_names: dict[str, str] = {}  # widget key -> property or command name

    def _key_for(self, name: str) -> str:
        key = widget_key(name)
        self._keyed_names[key] = name
        return key

    def _name_for(self, widget_id: str | None, prefix: str) -> str:
        return self._keyed_names.get((widget_id or "").removeprefix(prefix), "")

    def _ir_commands(self) -> list[str]:
        device = self.device
        return list(device.values.get("ir_commands") or []) if device is not None else []

    @property
    def device(self) -> Device | None:
        """The device as last reported."""
        return self.hub_app.devices.get(self.device_id)

    def compose_body(self) -> Iterable[Widget]:
        device = self.device
        with VerticalScroll(id="device"):
            if device is None:
                yield Static("This device is gone.", classes="message")
                return
            yield Static(device.name, id="device-title", classes="title")
            yield Static(self._subtitle(device), id="device-sub", classes="muted")
            for prop in device.properties.values():
                if prop.type == "list":
                    continue
                with Horizontal(classes="prop-row", id=f"row-{self._key_for(prop.name)}"):
                    yield Label(prop.name.replace("_", " "), classes="prop-name")
                    yield Label(
                        prop.format(device.values.get(prop.name)),
                        id=f"val-{self._key_for(prop.name)}",
                        classes="prop-value",
                    )
                    if prop.writable:
                        yield from self._control(prop, device.values.get(prop.name))
            commands = device.values.get("ir_commands") or []
            if "ir_commands" in device.properties:
                yield Static("Remote buttons", classes="title")
                if not commands:
                    yield Static("no learned buttons yet (press i to learn one)", classes="muted")
                # A grid, as many columns as the width holds: a row of 9 buttons ran off an
                # 80-column screen (and Tab focused the hidden ones).
                with Grid(id="ir-buttons", classes="ir-buttons"):
                    for command in commands:
                        yield Button(
                            command, id=f"ir-{self._key_for(command)}", classes="ir-command"
                        )

    @staticmethod
    def _subtitle(device: Device) -> str:
        where = device.room or "no room"
        state = "online" if device.online else "OFFLINE — changes wait until it is back"
        kind = device.integration
        if device.model and device.model != device.integration:
            kind += f" {device.model}"
        return f"{where} · {kind} · {state}"

    def _control(self, prop: PropertyInfo, value: Any) -> Iterable[Widget]:
        name = self._key_for(prop.name)
        if prop.type == "bool":
            yield Switch(bool(value), id=f"ctl-{name}", classes="prop-control")
        elif prop.type == "enum":
            options = [(c, c) for c in prop.choices or ()]
            yield Select(
                options,
                value=value if value in (prop.choices or ()) else Select.NULL,
                allow_blank=value not in (prop.choices or ()),
                id=f"ctl-{name}",
                classes="prop-control",
                compact=True,
            )
        elif prop.type in ("int", "float") and is_slider(prop):
            yield Slider(
                float(value or 0),
                prop.minimum or 0,
                prop.maximum or 100,
                step=max(_step(prop), 10.0 if prop.unit == "%" else 1.0),
                unit=prop.unit or "",
                id=f"ctl-{name}",
            )
        elif prop.type in ("int", "float"):
            with Horizontal(classes="stepper prop-control"):
                yield Button("−", id=f"dec-{name}", classes="step")
                yield Button("+", id=f"inc-{name}", classes="step")

    def on_mount(self) -> None:
        """Follow this device."""
        super().on_mount()
        self._commands = self._ir_commands()
        self.hub_app.home_changed.subscribe(self, self._home_changed)
        self._fit_buttons(self.app.size.width)

    def on_resize(self, event: events.Resize) -> None:
        """Lay the remote's buttons out again for the new width."""
        self._fit_buttons(event.size.width)

    def _fit_buttons(self, width: int) -> None:
        for grid in self.query("#ir-buttons").results(Grid):
            # the screen less the page's padding, scrollbar and focus bar; BUTTON_W per button
            grid.styles.grid_size_columns = max(1, (width - 6) // BUTTON_W)

    def _home_changed(self, device_id: str | None) -> None:
        if device_id not in (None, self.device_id):
            return
        device = self.device
        if device is None:
            return
        if self._ir_commands() != self._commands:
            # a button was learned or removed: rebuild the button row
            self._commands = self._ir_commands()
            self.call_later(self.recompose)
            return
        self.query_one("#device-title", Static).update(device.name)
        self.query_one("#device-sub", Static).update(self._subtitle(device))
        for prop in device.properties.values():
            if prop.type == "list":
                continue
            value = device.values.get(prop.name)
            text = prop.format(value)
            if prop.name in device.pending:
                text += " …"
            for label in self.query(f"#val-{widget_key(prop.name)}").results(Label):
                label.update(text)
            self._sync_control(prop, value)

    def _sync_control(self, prop: PropertyInfo, value: Any) -> None:
        # Reported values move the controls, without echoing a write back to the hub.
        for switch in self.query(f"#ctl-{widget_key(prop.name)}").results(Switch):
            with switch.prevent(Switch.Changed):
                switch.value = bool(value)
        for select in self.query(f"#ctl-{widget_key(prop.name)}").results(Select):
            if value in (prop.choices or ()):
                with select.prevent(Select.Changed):
                    select.value = value
        for slider in self.query(f"#ctl-{widget_key(prop.name)}").results(Slider):
            if isinstance(value, int | float):
                slider.value = float(value)

    async def _write(self, name: str, value: Any) -> None:
        device = self.device
        if device is None or device.values.get(name) == value:
            return
        await self.hub_app.set_values(self.device_id, {name: value})

    @on(Switch.Changed)
    async def _switched(self, event: Switch.Changed) -> None:
        if event.switch.id and event.switch.id.startswith("ctl-"):
            await self._write(self._name_for(event.switch.id, "ctl-"), event.value)

    @on(Select.Changed)
    async def _chosen(self, event: Select.Changed) -> None:
        if event.select.id and event.select.id.startswith("ctl-") and isinstance(event.value, str):
            await self._write(self._name_for(event.select.id, "ctl-"), event.value)

    @on(Slider.Changed)
    async def _slid(self, event: Slider.Changed) -> None:
        name = self._name_for(event.slider.id, "ctl-")
        device = self.device
        if device is None or name not in device.properties:
            return
        prop = device.properties[name]
        await self._write(name, int(event.value) if prop.type == "int" else event.value)

    @on(Button.Pressed, ".step")
    async def _stepped(self, event: Button.Pressed) -> None:
        direction, _, key = (event.button.id or "").partition("-")
        name = self._keyed_names.get(key, "")
        device = self.device
        if device is None or name not in device.properties:
            return
        prop = device.properties[name]
        current = device.pending.get(name, device.values.get(name))
        if not isinstance(current, int | float):
            current = prop.minimum or 0
        value = current + (_step(prop) if direction == "inc" else -_step(prop))
        if prop.minimum is not None:
            value = max(prop.minimum, value)
        if prop.maximum is not None:
            value = min(prop.maximum, value)
        await self._write(name, int(value) if prop.type == "int" else float(value))

    @on(Button.Pressed, ".ir-command")
    async def _ir_pressed(self, event: Button.Pressed) -> None:
        command = str(event.button.label)
        if await self.hub_app.run_command(self.device_id, command) is not None:
            self.notify(f"sent {command}")

    def action_back(self) -> None:
        """Back to the dashboard."""
        self.app.pop_screen()

    def action_rename(self) -> None:
        """Rename the device or move it to another room."""
        device = self.device
        if device is None:
            return
        rooms = sorted({d.room for d in self.hub_app.devices.values() if d.room})

        def done(answer: tuple[str, str] | None) -> None:
            if answer is not None:
                self._update(*answer)

        dialog = NameRoomDialog(
            f"Rename or move {device.name}", device.name, device.room, rooms, "Save"
        )
        self.app.push_screen(dialog, done)

    @work(group="rename")
    async def _update(self, name: str, room: str) -> None:
        try:
            await self.client.update_device(self.device_id, name=name, room=room)
        except TuiError as err:
            self.notify(str(err), severity="error")
            return
        self.notify(f"saved {name}" + (f" in {room}" if room else ""))

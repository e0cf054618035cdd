"""Scenes: values for several devices at once. List, run, delete, and make one from how the
chosen devices are right now."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, DataTable, Input, Label, SelectionList, Static

from tui.errors import NotSupported, TuiError
from tui.models import Device
from tui.screens.base import HubScreen
from tui.screens.dialogs import ConfirmDialog

NO_SCENES = (
    "This hub has no scenes (it does not serve /api/v1/scenes); scenes come with the rules engine."
)


def scene_values(device: Device) -> dict[str, Any]:
    """What a scene keeps of a device: each writable property's reported value."""
    return {
        name: device.values[name]
        for name, prop in device.properties.items()
        if prop.writable and device.values.get(name) is not None
    }


def describe_values(device: Device | None, values: Mapping[str, Any]) -> str:
    """'on · 60 %' for a device, as its properties format them."""
    if device is None:
        return ", ".join(f"{k}={v}" for k, v in values.items())
    parts = []
    for name, value in values.items():
        prop = device.properties.get(name)
        parts.append(prop.format(value) if prop is not None else f"{name}={value}")
    return " · ".join(parts)


class NewSceneDialog(ModalScreen[tuple[str, list[str]] | None]):
    """A name and the devices whose current state the scene keeps."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, devices: list[Device]) -> None:
        super().__init__()
        self.devices = devices

    def compose(self) -> ComposeResult:
        with Vertical(id="new-scene"):
            yield Static("New scene from how these devices are now", classes="title")
            with Horizontal(classes="form-row"):
                yield Label("Name")
                yield Input(placeholder="e.g. Movie night", id="scene-name", compact=True)
            yield Static("Devices (Space picks):", classes="muted")
            yield SelectionList[str](
                *(
                    (f"{d.name} — {describe_values(d, scene_values(d))}", d.id)
                    for d in self.devices
                ),
                id="scene-devices",
            )
            yield Static("", id="scene-error")
            with Horizontal(classes="toolbar"):
                yield Button("Save", id="scene-save", variant="primary", compact=True)
                yield Button("Cancel", id="scene-cancel", compact=True)

    @on(Button.Pressed, "#scene-save")
    @on(Input.Submitted, "#scene-name")
    def _save(self, event: Any) -> None:
        name = self.query_one("#scene-name", Input).value.strip()
        chosen = list(self.query_one("#scene-devices", SelectionList).selected)
        error = self.query_one("#scene-error", Static)
        if not name:
            error.update("Give the scene a name.")
            self.query_one("#scene-name", Input).focus()
        elif "/" in name:
            error.update("A scene name cannot contain '/'.")
        elif not chosen:
            error.update("Pick at least one device (Space in the list).")
            self.query_one("#scene-devices", SelectionList).focus()
        else:
            self.dismiss((name, chosen))

    @on(Button.Pressed, "#scene-cancel")
    def action_cancel(self) -> None:
        """Close without a scene."""
        self.dismiss(None)


class ScenesScreen(HubScreen):
    """Stored scenes with what each sets."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "run", "Run", show=False),
        Binding("x", "run", "Run"),
        Binding("a", "new", "New"),
        Binding("d", "delete", "Delete"),
        Binding("f5", "refresh", "Refresh", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.scenes: dict[str, dict[str, dict[str, Any]]] = {}

    def compose_body(self) -> Iterable[Widget]:
        yield Static("Scenes — x or Enter runs, a makes one, d deletes", classes="title")
        table: DataTable[str] = DataTable(id="scenes", cursor_type="row")
        yield table
        yield Static("", id="scenes-message", classes="message")

    def on_mount(self) -> None:
        """List the scenes."""
        super().on_mount()
        table: DataTable[str] = self.query_one("#scenes", DataTable)
        table.add_column("Scene", key="name", width=18)
        table.add_column("Sets", key="sets")
        self.action_refresh()

    def on_screen_resume(self) -> None:
        """Read again when shown again."""
        self.action_refresh()

    def _sets(self, devices: Mapping[str, Mapping[str, Any]]) -> str:
        parts = []
        for device_id, values in devices.items():
            device = self.hub_app.devices.get(device_id)
            name = device.name if device is not None else device_id
            parts.append(f"{name}: {describe_values(device, values)}")
        return "; ".join(parts)

    @work(exclusive=True, group="scenes")
    async def action_refresh(self) -> None:
        """Read the scenes again."""
        message = self.query_one("#scenes-message", Static)
        table: DataTable[str] = self.query_one("#scenes", DataTable)
        try:
            scenes = await self.client.scenes()
        except NotSupported:
            table.display = False
            message.update(NO_SCENES)
            return
        except TuiError as err:
            message.update(str(err))
            return
        table.display = True
        self.scenes = scenes
        selected = self._selected()
        table.clear()
        for name in sorted(scenes):
            table.add_row(name, self._sets(scenes[name]), key=name)
        if selected is not None and selected in table.rows:
            table.move_cursor(row=table.get_row_index(selected))
        message.update(
            "" if scenes else "No scenes yet. Press a to make one from how devices are now."
        )

    def _selected(self) -> str | None:
        table: DataTable[str] = self.query_one("#scenes", DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    @on(DataTable.RowSelected, "#scenes")
    async def action_run(self) -> None:
        """Apply the highlighted scene."""
        name = self._selected()
        if name is None:
            return
        try:
            commands = await self.client.run_scene(name)
        except TuiError as err:
            self.notify(f"could not run {name}: {err}", severity="error")
            return
        self.notify(f"ran {name}: asked {len(commands)} device(s)", title="Scenes")

    def action_new(self) -> None:
        """Make a scene from the current state of chosen devices."""
        devices = sorted(
            (d for d in self.hub_app.devices.values() if scene_values(d)), key=lambda d: d.name
        )
        if not devices:
            self.notify("No device reports a value that can be set.", severity="warning")
            return

        def chosen(answer: tuple[str, list[str]] | None) -> None:
            if answer is not None:
                self._create(*answer)

        self.app.push_screen(NewSceneDialog(devices), chosen)

    @work(group="scene-save")
    async def _create(self, name: str, device_ids: list[str]) -> None:
        devices = self.hub_app.devices
        values = {d: scene_values(devices[d]) for d in device_ids if d in devices}
        try:
            await self.client.save_scene(name, values)
        except TuiError as err:
            self.notify(f"could not save {name}: {err}", severity="error")
            return
        self.notify(f"saved scene {name}", title="Scenes")
        self.action_refresh()

    def action_delete(self) -> None:
        """Delete the highlighted scene, after asking."""
        name = self._selected()
        if name is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._delete(name)

        self.app.push_screen(ConfirmDialog(f"Delete the scene {name}?", "Delete"), answered)

    @work(group="scene-delete")
    async def _delete(self, name: str) -> None:
        try:
            await self.client.delete_scene(name)
        except TuiError as err:
            self.notify(f"could not delete {name}: {err}", severity="error")
            return
        self.notify(f"deleted scene {name}", title="Scenes")
        self.action_refresh()

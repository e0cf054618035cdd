"""The TUI against a real in-process hub: control a device, see the reported value come back."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Input, Label, Select, Static, Switch
from tui_testkit import click, laid_out, wait_for

from hub.model import spec_for
from hub.testing import RunningHub, running_hub
from integrations.virtual import VirtualDevice, VirtualIntegration
from tui import HubClient
from tui.app import HomehubApp
from tui.screens.dashboard import DashboardScreen
from tui.screens.device import DeviceScreen, widget_key
from tui.widgets import Slider


def state_cell(app: HomehubApp, device_id: str) -> str:
    table = app.screen.query_one("#devices", DataTable)
    return str(table.get_cell(device_id, "state")) if device_id in table.rows else ""


async def test_toggle_lamp_from_dashboard(hub: RunningHub, virtual: VirtualIntegration) -> None:
    app = HomehubApp(HubClient(hub.url, hub.token))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(lambda: "virtual-lamp" in app.devices, "the device list")
        assert isinstance(app.screen, DashboardScreen)
        await wait_for(lambda: state_cell(app, "virtual-lamp") == "off · 60 %", "lamp shown off")
        table = app.screen.query_one("#devices", DataTable)
        table.move_cursor(row=table.get_row_index("virtual-lamp"))
        await pilot.press("space")
        lamp = virtual.devices["virtual-lamp"]
        await wait_for(lambda: lamp.values["power"] is True, "the lamp to be switched on")
        assert lamp.applied == [{"power": True}]
        await wait_for(
            lambda: state_cell(app, "virtual-lamp") == "on · 60 %", "the dashboard to show on"
        )
        assert app.devices["virtual-lamp"].values["power"] is True


async def test_device_screen_controls_follow_types(
    hub: RunningHub, virtual: VirtualIntegration
) -> None:
    app = HomehubApp(HubClient(hub.url, hub.token))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(lambda: "virtual-aircon" in app.devices, "the device list")
        table = app.screen.query_one("#devices", DataTable)
        await wait_for(lambda: "virtual-aircon" in table.rows, "the aircon listed")
        table.move_cursor(row=table.get_row_index("virtual-aircon"))
        await pilot.press("enter")
        await wait_for(lambda: laid_out(app, "#ctl-power"), "the device screen")
        screen = app.screen
        assert isinstance(screen, DeviceScreen)
        aircon = virtual.devices["virtual-aircon"]

        # bool -> a switch
        await click(pilot, "#ctl-power")
        await wait_for(lambda: aircon.values["power"] is True, "the aircon to switch on")
        await wait_for(lambda: screen.query_one("#ctl-power", Switch).value, "switch on")

        # temperature -> +/- in steps of 0.5
        await click(pilot, "#inc-target_temperature")
        await wait_for(lambda: aircon.values["target_temperature"] == 26.5, "26.5 °C")
        await wait_for(
            lambda: "26.5" in str(screen.query_one("#val-target_temperature", Label).content),
            "the new set point on screen",
        )
        await click(pilot, "#dec-target_temperature")
        await wait_for(lambda: aircon.values["target_temperature"] == 26.0, "26 °C again")

        # enum -> a Select of the choices
        select = screen.query_one("#ctl-mode", Select)
        assert select.value == "cool"
        select.value = "heat"
        await wait_for(lambda: aircon.values["mode"] == "heat", "heat mode")

        # reported changes from the device move the controls without writing back
        await virtual.sense("virtual-aircon", {"mode": "dry"})
        await wait_for(lambda: select.value == "dry", "the select to follow the device")
        await pilot.pause()
        assert {"mode": "dry"} not in aircon.applied


async def test_brightness_slider(hub: RunningHub, virtual: VirtualIntegration) -> None:
    app = HomehubApp(HubClient(hub.url, hub.token))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(lambda: "virtual-lamp" in app.devices, "the device list")
        app.push_screen(DeviceScreen("virtual-lamp"))
        await wait_for(lambda: laid_out(app, "#ctl-brightness"), "the device screen")
        slider = app.screen.query_one("#ctl-brightness", Slider)
        assert slider.value == 60
        slider.focus()
        await pilot.press("right")
        lamp = virtual.devices["virtual-lamp"]
        await wait_for(lambda: lamp.values["brightness"] == 70, "brightness 70 %")
        await pilot.press("end")
        await wait_for(lambda: lamp.values["brightness"] == 100, "brightness 100 %")
        await wait_for(
            lambda: "100 %" in str(app.screen.query_one("#val-brightness", Label).content),
            "the label to show 100 %",
        )


async def test_offline_device_is_shown(hub: RunningHub, virtual: VirtualIntegration) -> None:
    app = HomehubApp(HubClient(hub.url, hub.token))
    async with app.run_test(size=(100, 30)):
        await wait_for(lambda: "virtual-heater" in app.devices, "the device list")
        await virtual.unplug("virtual-heater")
        await wait_for(lambda: state_cell(app, "virtual-heater") == "offline", "offline shown")
        await virtual.plug_in("virtual-heater")
        await wait_for(lambda: state_cell(app, "virtual-heater") != "offline", "back online")


async def test_suffixed_properties_get_working_controls(tmp_path: Path) -> None:
    """An ESPHome-style node has 'power.lamp', 'brightness.lamp': names that are no widget ids."""
    node = VirtualDevice(
        "virtual-node", "Balcony node",
        {"power.lamp": spec_for("power.lamp"), "brightness.lamp": spec_for("brightness.lamp"),
         "mode.thermostat": spec_for("mode.thermostat")},
        {"power.lamp": False, "brightness.lamp": 40, "mode.thermostat": "auto"},
    )
    virtual = VirtualIntegration([node])
    async with running_hub(tmp_path / "hub", [virtual]) as rh:
        await rh.hub.wait_integrations()
        app = HomehubApp(HubClient(rh.url, rh.token))
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(lambda: app.loaded, "the device list")
            app.push_screen(DeviceScreen("virtual-node"))
            key = widget_key("power.lamp")
            await wait_for(lambda: laid_out(app, f"#ctl-{key}"), "the node's controls")
            await click(pilot, f"#ctl-{key}")
            await wait_for(lambda: node.values["power.lamp"] is True, "the lamp output on")
            slider = app.screen.query_one(f"#ctl-{widget_key('brightness.lamp')}", Slider)
            slider.focus()
            await pilot.press("left")
            await wait_for(lambda: node.values["brightness.lamp"] == 30, "brightness 30")
            app.screen.query_one(f"#ctl-{widget_key('mode.thermostat')}", Select).value = "heat"
            await wait_for(lambda: node.values["mode.thermostat"] == "heat", "heat mode")


async def test_rename_and_move_from_device_screen(hub: RunningHub) -> None:
    app = HomehubApp(HubClient(hub.url, hub.token))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: app.loaded, "the device list")
        app.push_screen(DeviceScreen("virtual-lamp"))
        await wait_for(lambda: laid_out(app, "#ctl-power"), "the lamp screen")
        screen = app.screen
        await pilot.press("m")
        await wait_for(lambda: laid_out(app, "#dlg-name"), "the dialog")
        app.screen.query_one("#dlg-name", Input).value = "Desk lamp"
        app.screen.query_one("#dlg-room", Input).value = "Office"
        await click(pilot, "#dlg-ok")
        await wait_for(lambda: app.devices["virtual-lamp"].room == "Office", "the move")
        body = (await hub.client.get("/api/v1/devices/virtual-lamp")).json()
        assert (body["name"], body["room"]) == ("Desk lamp", "Office")
        await wait_for(
            lambda: str(screen.query_one("#device-title", Static).content) == "Desk lamp",
            "the new name on screen",
        )
        assert str(screen.query_one("#device-sub", Static).content).startswith("Office · ")

"""Getting around: room filter, command palette, key bindings, and the small terminal."""

from __future__ import annotations

from textual.command import CommandList, CommandPalette
from textual.widgets import DataTable, OptionList
from tui_testkit import wait_for

from hub.testing import RunningHub
from integrations.virtual import VirtualIntegration
from tui import HubClient
from tui.app import HomehubApp
from tui.screens.dashboard import DashboardScreen
from tui.screens.energy import EnergyScreen
from tui.screens.events import EventsScreen


async def test_room_filter(hub: RunningHub) -> None:
    app = HomehubApp(HubClient(hub.url, hub.token))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: app.loaded, "the device list")
        table = app.screen.query_one("#devices", DataTable)
        await wait_for(lambda: table.row_count == 5, "all five devices")
        rooms = app.screen.query_one("#rooms", OptionList)
        rooms.focus()
        labels = [str(rooms.get_option_at_index(i).prompt) for i in range(rooms.option_count)]
        assert labels == ["All (5)", "Bathroom", "Bedroom", "Hall", "Living room", "Utility"]
        rooms.highlighted = labels.index("Bedroom")
        await wait_for(lambda: list(table.rows) == ["virtual-aircon"], "only the bedroom")
        rooms.highlighted = 0
        await wait_for(lambda: table.row_count == 5, "all again")
        await pilot.pause()


async def test_command_palette_and_keys(hub: RunningHub) -> None:
    app = HomehubApp(HubClient(hub.url, hub.token))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: app.loaded, "the device list")
        await pilot.press("ctrl+p")
        await wait_for(lambda: isinstance(app.screen, CommandPalette), "the palette")
        await pilot.press(*"energy")
        commands = app.screen.query_one(CommandList)
        await wait_for(lambda: commands.option_count, "a match")
        assert "Energy" in str(commands.get_option_at_index(0).prompt)
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, EnergyScreen), "the energy screen")
        await pilot.press("l")
        await wait_for(lambda: isinstance(app.screen, EventsScreen), "the log")
        await pilot.press("h")
        await wait_for(lambda: isinstance(app.screen, DashboardScreen), "home")


async def test_pending_write_is_marked_until_reported(
    hub: RunningHub, virtual: VirtualIntegration
) -> None:
    app = HomehubApp(HubClient(hub.url, hub.token))
    async with app.run_test(size=(80, 24)):
        await wait_for(lambda: app.loaded, "the device list")
        await virtual.unplug("virtual-lamp")
        await wait_for(lambda: not app.devices["virtual-lamp"].online, "the lamp offline")
        await app.set_values("virtual-lamp", {"brightness": 30})
        await wait_for(lambda: app.devices["virtual-lamp"].pending == {"brightness": 30},
                       "the desired value pending")
        await virtual.plug_in("virtual-lamp")
        await wait_for(lambda: not app.devices["virtual-lamp"].pending, "applied on return")
        table = app.screen.query_one("#devices", DataTable)
        await wait_for(lambda: str(table.get_cell("virtual-lamp", "state")) == "off · 30 %",
                       "the reported value shown")
        assert virtual.devices["virtual-lamp"].applied == [{"brightness": 30}]


async def test_palette_finds_devices_and_rooms(hub: RunningHub) -> None:
    """Before, "air" only matched "Learn an IR code"."""
    from tui.screens.device import DeviceScreen

    app = HomehubApp(HubClient(hub.url, hub.token))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: app.loaded, "the device list")
        await pilot.press("ctrl+p")
        await wait_for(lambda: isinstance(app.screen, CommandPalette), "the palette")
        await pilot.press(*"air")
        commands = app.screen.query_one(CommandList)
        await wait_for(lambda: commands.option_count, "a match")
        assert "Bedroom aircon" in str(commands.get_option_at_index(0).prompt)
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, DeviceScreen), "the aircon's page")
        assert app.screen.device_id == "virtual-aircon"

        await pilot.press("ctrl+p")
        await wait_for(lambda: isinstance(app.screen, CommandPalette), "the palette again")
        await pilot.press(*"room: bath")
        commands = app.screen.query_one(CommandList)
        await wait_for(lambda: commands.option_count, "a match")
        assert "Room: Bathroom" in str(commands.get_option_at_index(0).prompt)
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, DashboardScreen), "the dashboard")
        table = app.screen.query_one("#devices", DataTable)
        await wait_for(lambda: list(table.rows) == ["virtual-heater"], "only the bathroom")

        # "/" on the dashboard searches devices too
        await pilot.press("slash")
        await wait_for(lambda: isinstance(app.screen, CommandPalette), "the search")
        await pilot.press(*"lamp")
        commands = app.screen.query_one(CommandList)
        await wait_for(lambda: commands.option_count, "a match")
        assert "Reading lamp" in str(commands.get_option_at_index(0).prompt)
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, DeviceScreen), "the lamp's page")
        assert app.screen.device_id == "virtual-lamp"

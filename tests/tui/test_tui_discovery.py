"""Adopting a device the hub found, with a name and a room, from the discovery screen."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input
from tui_testkit import FindingVirtual, click, home_devices, wait_for

from hub.testing import RunningHub, running_hub
from tui import HubClient
from tui.app import HomehubApp
from tui.screens.dialogs import NameRoomDialog
from tui.screens.discovery import DiscoveryScreen


@pytest.fixture
async def finding_hub(tmp_path: Path) -> AsyncIterator[tuple[RunningHub, FindingVirtual]]:
    virtual = FindingVirtual(home_devices())
    async with running_hub(tmp_path / "hub", integrations=[virtual]) as rh:
        await rh.hub.wait_integrations()
        yield rh, virtual


async def test_adopt_with_name_and_room(
    finding_hub: tuple[RunningHub, FindingVirtual],
) -> None:
    rh, virtual = finding_hub
    app = HomehubApp(HubClient(rh.url, rh.token))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: app.loaded, "the device list")
        await pilot.press("n")
        await wait_for(lambda: isinstance(app.screen, DiscoveryScreen), "the discovery screen")
        table = app.screen.query_one("#found", DataTable)
        await wait_for(lambda: table.row_count == 1, "the found plug")
        assert str(table.get_cell("virtual-plug", "address")) == "127.0.0.77"
        table.focus()
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, NameRoomDialog), "the adopt dialog")
        name = app.screen.query_one("#dlg-name", Input)
        assert name.value == "Smart plug 3F2A"
        name.value = "Desk plug"
        app.screen.query_one("#dlg-room", Input).value = "Office"
        await click(pilot, "#dlg-ok")

        await wait_for(lambda: "virtual-plug" in app.devices, "the adopted plug in the TUI")
        plug = app.devices["virtual-plug"]
        assert (plug.name, plug.room) == ("Desk plug", "Office")
        body = (await rh.client.get("/api/v1/devices/virtual-plug")).json()
        assert (body["name"], body["room"]) == ("Desk plug", "Office")
        await wait_for(lambda: table.row_count == 0, "the plug to leave the found list")

        # and it is a working device: switch it on from the dashboard
        await pilot.press("h")
        devices = app.screen.query_one("#devices", DataTable)
        await wait_for(lambda: "virtual-plug" in devices.rows, "the plug on the dashboard")
        devices.move_cursor(row=devices.get_row_index("virtual-plug"))
        await pilot.press("space")
        await wait_for(lambda: virtual.devices["virtual-plug"].values["power"] is True, "plug on")

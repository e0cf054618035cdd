"""The TUI driving an emulated ECHONET Lite air conditioner over real UDP through a real hub.

Addresses 127.0.47.x belong to this module.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Label, Select
from tui_testkit import click, laid_out, wait_for

from hub.testing import RunningHub, running_hub
from integrations.echonet.emulator import EchonetNode
from integrations.echonet.integration import EchonetIntegration
from tui import HubClient
from tui.app import HomehubApp
from tui.screens.device import DeviceScreen
from tui.screens.dialogs import NameRoomDialog
from tui.screens.discovery import DiscoveryScreen

HUB = "127.0.47.2"
NODE = "127.0.47.10"


@pytest.fixture
async def echonet_home(tmp_path: Path) -> AsyncIterator[tuple[RunningHub, EchonetNode]]:
    node = EchonetNode(bind=NODE, objects=["aircon", "meter"])
    await node.start()
    config = {"integrations": {"echonet": {
        "bind": HUB, "hosts": [NODE], "multicast": False, "poll_interval_s": 0.3,
        "timeout_s": 1.0, "retries": 1}}}
    try:
        async with running_hub(tmp_path / "hub", [EchonetIntegration()], config=config) as rh:
            yield rh, node
    finally:
        await node.stop()


async def test_toggle_echonet_aircon(echonet_home: tuple[RunningHub, EchonetNode]) -> None:
    rh, node = echonet_home
    emulated = node.object("aircon")
    app = HomehubApp(HubClient(rh.url, rh.token))
    async with app.run_test(size=(100, 30)) as pilot:
        aircon = await wait_for(
            lambda: next((d for d in app.devices.values()
                          if d.model == "Home air conditioner"), None),
            "the emulated air conditioner",
        )
        table = app.screen.query_one("#devices", DataTable)
        await wait_for(lambda: aircon.id in table.rows, "the aircon on the dashboard")
        was_on = bool(app.devices[aircon.id].values.get("power"))
        table.move_cursor(row=table.get_row_index(aircon.id))
        await pilot.press("space")
        on_byte = b"\x31" if was_on else b"\x30"  # EPC 0x80: 0x30 on, 0x31 off
        await wait_for(lambda: emulated.values[0x80] == on_byte, "the emulator switched")
        expected = "off" if was_on else "on"
        await wait_for(
            lambda: str(table.get_cell(aircon.id, "state")).startswith(f"{expected} ·"),
            "the dashboard to show the reported power",
        )

        await pilot.press("enter")
        await wait_for(lambda: laid_out(app, "#ctl-mode"), "the aircon's screen")
        assert isinstance(app.screen, DeviceScreen)
        app.screen.query_one("#ctl-mode", Select).value = "heat"
        await wait_for(lambda: emulated.values[0xB0] == b"\x43", "heat mode (0x43) at the unit")
        setpoint = emulated.values[0xB3][0]
        await click(pilot, "#inc-target_temperature")
        await wait_for(lambda: emulated.values[0xB3] == bytes([setpoint + 1]),
                       "one degree more at the unit")  # ECHONET set points are whole degrees
        label = app.screen.query_one("#val-target_temperature", Label)
        await wait_for(lambda: str(label.content).startswith(f"{setpoint + 1}"),
                       "the reported set point on screen")


async def test_adopt_an_announced_node_with_name_and_room(tmp_path: Path) -> None:
    hub_bind, porch = "127.0.47.3", "127.0.47.11"
    config = {"integrations": {"echonet": {
        "bind": hub_bind, "hosts": [], "multicast": False, "poll_interval_s": 0.3,
        "timeout_s": 1.0, "retries": 1}}}
    node = EchonetNode(bind=porch, objects=["light"])
    node.peers.add(hub_bind)  # its instance-list INF reaches the hub, which offers the node
    try:
        async with running_hub(tmp_path / "hub", [EchonetIntegration()], config=config) as rh:
            app = HomehubApp(HubClient(rh.url, rh.token))
            async with app.run_test(size=(80, 24)) as pilot:
                await wait_for(lambda: app.loaded, "the (empty) device list")
                await pilot.press("n")
                await wait_for(lambda: isinstance(app.screen, DiscoveryScreen), "new devices")
                await node.start()
                table = app.screen.query_one("#found", DataTable)
                await wait_for(lambda: table.row_count == 1, "the announced node")
                table.focus()
                await pilot.press("enter")
                await wait_for(lambda: isinstance(app.screen, NameRoomDialog), "the dialog")
                app.screen.query_one("#dlg-name", Input).value = "Porch light"
                app.screen.query_one("#dlg-room", Input).value = "Porch"
                await click(pilot, "#dlg-ok")
                light = await wait_for(
                    lambda: next((d for d in app.devices.values() if d.name == "Porch light"),
                                 None),
                    "the adopted light under the typed name",
                )
                assert light.room == "Porch"
                assert [d.name for d in app.devices.values()] == ["Porch light"]
    finally:
        await node.stop()

"""Hub stopped: the TUI says so and retries; hub back: it reconnects and shows fresh state."""

from __future__ import annotations

import socket
from pathlib import Path

from textual.widgets import DataTable
from tui_testkit import home, wait_for

from hub.testing import running_hub
from tui import HubClient
from tui.app import HomehubApp
from tui.client import Backoff, LinkState
from tui.widgets import ConnectionBar


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bar_text(app: HomehubApp) -> str:
    bar = app.screen.query_one(ConnectionBar)
    return str(bar.content) if bar.display else ""


async def test_unreachable_then_reconnects(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "hub"
    virtual = home()
    async with running_hub(data, [virtual], config={"api_port": port}) as rh:
        await rh.hub.wait_integrations()
        token = rh.token
        client = HubClient(rh.url, token, backoff=Backoff(first=0.05, cap=0.3))
        app = HomehubApp(client)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(lambda: client.state is LinkState.CONNECTED, "the first connection")
            await wait_for(lambda: "virtual-lamp" in app.devices, "the device list")
            await wait_for(lambda: bar_text(app) == "", "the connecting message to go")

            await rh.hub.stop()
            await wait_for(lambda: "unreachable" in bar_text(app), "the unreachable message")
            assert "retrying" in bar_text(app)
            await pilot.press("space")  # a write while the hub is away says so, no crash
            await pilot.pause()

            # While the hub is away the lamp is switched on at the device itself.
            virtual.devices["virtual-lamp"].values["power"] = True
            async with running_hub(data, [virtual], config={"api_port": port}) as rh2:
                await rh2.hub.wait_integrations()
                await wait_for(lambda: client.state is LinkState.CONNECTED, "the reconnection")
                await wait_for(lambda: bar_text(app) == "", "the message to go")
                table = app.screen.query_one("#devices", DataTable)
                await wait_for(
                    lambda: str(table.get_cell("virtual-lamp", "state")).startswith("on ·"),
                    "the fresh state after reconnecting",
                )
                # and live events flow again
                await virtual.sense("virtual-motion", {"motion": True})
                await wait_for(
                    lambda: str(table.get_cell("virtual-motion", "state")) == "detected",
                    "a live event after reconnecting",
                )

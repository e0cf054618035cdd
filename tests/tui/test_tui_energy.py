"""The energy screen plots a meter's history from the hub over selectable ranges."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Select, Static
from tui_testkit import T0, home, seed_meter_history, wait_for

from hub.clock import ManualClock
from hub.testing import running_hub
from tui import HubClient
from tui.app import HomehubApp
from tui.screens.energy import EnergyScreen, resolution_for


def test_resolution_keeps_ranges_small() -> None:
    assert resolution_for(3600) == 30
    assert resolution_for(30 * 86400) == 21600


async def test_energy_history_ranges(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    virtual = home()
    async with running_hub(tmp_path / "hub", [virtual], clock=clock) as rh:
        await rh.hub.wait_integrations()
        now = await seed_meter_history(clock, virtual)
        app = HomehubApp(HubClient(rh.url, rh.token), clock=clock.now)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(lambda: app.loaded, "the device list")
            await pilot.press("e")
            await wait_for(lambda: isinstance(app.screen, EnergyScreen), "the energy screen")
            screen = app.screen
            device = screen.query_one("#energy-device", Select)
            await wait_for(lambda: device.value == "virtual-meter", "the meter chosen")
            assert screen.query_one("#energy-property", Select).value == "power_w"
            message = screen.query_one("#energy-message", Static)
            await wait_for(lambda: "over the last 24 hours" in str(message.content), "24 h")
            assert str(message.content).startswith("48 points")
            assert screen.plot_title == "power_w (W), last 24 hours"

            await pilot.press("1")
            await wait_for(lambda: "last 1 hour" in str(message.content), "the 1 h range")
            assert str(message.content).startswith("3 points")  # the samples at -1 h, -30 min, 0

            screen.query_one("#energy-property", Select).value = "energy_kwh"
            await wait_for(lambda: "energy_kwh" in str(screen.plot_title), "the energy plot")
            points = await app.client.history("virtual-meter", "energy_kwh", now - 3600, now)
            assert [p["value"] for p in points] == [1245.75, 1246.0, 1246.25]

"""The energy screen plots a meter's history from the hub over selectable ranges."""

from __future__ import annotations

import re
from pathlib import Path

from textual.widget import Widget
from textual.widgets import Select, Static
from textual_plotext import PlotextPlot
from tui_testkit import T0, home, seed_meter_history, wait_for

from hub.clock import ManualClock
from hub.testing import running_hub
from tui import HubClient
from tui.app import HomehubApp
from tui.models import Device
from tui.screens.energy import (
    RANGES,
    EnergyScreen,
    default_device,
    range_for_age,
    resolution_for,
)


def shown(app: HomehubApp, widget: Widget) -> list[str]:
    """The widget's lines as the terminal shows them."""
    region = widget.region
    strips = app.screen._compositor.render_strips()
    return ["".join(seg.text for seg in strips[y].crop(region.x, region.right))
            for y in range(region.y, region.bottom)]


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
            assert isinstance(screen, EnergyScreen)
            device = screen.query_one("#energy-device", Select)
            await wait_for(lambda: device.value == "virtual-meter", "the meter chosen")
            message = screen.query_one("#energy-message", Static)
            # a day of history: the day is shown, power and energy both, units on the axes
            await wait_for(lambda: "in the last 24 hours" in str(message.content), "24 h")
            assert str(message.content).startswith("now 850.0 W · energy 1246 kWh · 96 samples")
            assert screen.plot_title == "Smart meter: power (W), last 24 hours"
            assert screen.energy_title.startswith("Smart meter: energy (kWh) since ")
            for plot_id, unit in (("#plot-power", "W"), ("#plot-energy", "kWh")):
                plot = screen.query_one(plot_id, PlotextPlot)
                assert plot.display and plot.region.height >= 8, plot.region
                await pilot.pause()
                lines = shown(app, plot)
                # the unit under the y axis, local clock times along the x axis
                assert lines[-1].strip() == unit, lines
                assert re.search(r"\d\d:\d\d\s+\d\d:\d\d", lines[-2]), lines

            await pilot.press("1")
            await wait_for(lambda: "last 1 hour" in str(message.content), "the 1 h range")
            # the samples at -1 h, -30 min, 0 of power and of energy
            assert "6 samples in the last 1 hour" in str(message.content)
            points = await app.client.history("virtual-meter", "energy_kwh", now - 3600, now)
            assert [p["value"] for p in points] == [1245.75, 1246.0, 1246.25]

            # live: a new reading is on screen without pressing anything
            await clock.set(now + 60)
            await virtual.sense("virtual-meter", {"power_w": 1234.0})
            await wait_for(lambda: "now 1234 W" in str(message.content), "the live value")


def test_sensible_defaults() -> None:
    meter = Device.from_dict({"id": "m", "name": "Smart meter 1", "properties": [
        {"name": "power_w", "type": "float"}, {"name": "energy_kwh", "type": "float"}]})
    solar = Device.from_dict({"id": "s", "name": "Solar power 1", "properties": [
        {"name": "power_w", "type": "float"}, {"name": "energy_kwh", "type": "float"}]})
    battery = Device.from_dict({"id": "b", "name": "A battery", "properties": [
        {"name": "power_w", "type": "float"}]})
    lamp = Device.from_dict({"id": "l", "name": "Lamp", "properties": [
        {"name": "power", "type": "bool"}]})
    assert default_device([battery, solar, meter, lamp]) is meter
    assert default_device([battery, solar]) is solar
    assert default_device([lamp]) is None
    # a young history opens on the last hour (a day would squeeze it into one edge)
    assert RANGES[range_for_age(20 * 60)][0] == "1 hour"
    assert RANGES[range_for_age(5 * 3600)][0] == "24 hours"
    assert RANGES[range_for_age(None)][0] == "24 hours"


async def test_a_young_constant_meter_opens_on_the_hour_as_a_line(tmp_path: Path) -> None:
    """The demo's case: a meter reporting the same value since the hub started 10 min ago."""
    clock = ManualClock(T0)
    virtual = home()
    async with running_hub(tmp_path / "hub", [virtual], clock=clock) as rh:
        await rh.hub.wait_integrations()
        await clock.set(T0 + 600)
        app = HomehubApp(HubClient(rh.url, rh.token), clock=clock.now)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(lambda: app.loaded, "the device list")
            await pilot.press("e")
            await wait_for(lambda: isinstance(app.screen, EnergyScreen), "the energy screen")
            screen = app.screen
            assert isinstance(screen, EnergyScreen)
            message = screen.query_one("#energy-message", Static)
            await wait_for(lambda: "in the last 1 hour" in str(message.content), "the hour")
            assert screen.query_one("#energy-range", Select).value == 0
            plot = screen.query_one("#plot-power", PlotextPlot)
            # one sample and the live value now: a line across ten minutes, not a dot
            await pilot.pause()
            dots = sum(ch in "⠁⠂⠄⡀⠈⠐⠠⢀⠉⠒⠤⣀⠑⠢⡠⠊⠔⡐" for line in shown(app, plot) for ch in line)
            assert dots >= 5, shown(app, plot)

"""Every hub screen at 80x24 in its empty, normal and error state (#13 "Must show").

Normal states of most screens are in test_tui_snapshots.py (the small test flat); here: the
dashboard with a home like the demo's (19 devices: ECHONET, Broadlink, ESPHome, Nature Remo and
virtual ones, fixed values), every screen against a hub with nothing on it, every screen while
the hub is unreachable, and the rule editor refusing a rule at its line.

Update after an intended change with `pytest tests/tui/test_tui_snapshot_states.py
--snapshot-update` and look at the SVGs.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Static
from tui_hub_thread import HubThread
from tui_testkit import T0, laid_out, wait_for

from hub.clock import ManualClock
from hub.model import spec_for
from hub.rules import RulesEngine
from integrations.virtual import VirtualDevice, VirtualIntegration
from tui import HubClient
from tui.app import HomehubApp
from tui.client import LinkState
from tui.screens.dashboard import DashboardScreen
from tui.screens.device import DeviceScreen

SIZE = (80, 24)
Snap = Callable[..., bool]
TV = ["channel_down", "channel_up", "mute", "power", "power_off", "power_on", "source",
      "volume_down", "volume_up"]


def _d(dev_id: str, name: str, values: dict[str, Any], room: str | None = None,
       model: str = "") -> VirtualDevice:
    return VirtualDevice(dev_id, name, {k: spec_for(k) for k in values}, values, room=room)


def demo_like_home() -> list[VirtualDevice]:
    """The devices `homehub demo` shows (names, rooms and kinds of value), with fixed values."""
    return [
        _d("ac1", "Air conditioner 1", {"power": True, "mode": "cool", "target_temperature": 24.0,
                                        "temperature": 28.0, "humidity": 55.0,
                                        "fan_speed": "auto"}),
        _d("balcony", "Balcony Sensor", {"temperature": 14.7, "humidity": 62.2,
                                         "motion": False}),
        _d("den-ir", "Den Ir Blaster", {"temperature": 22.4}),
        _d("light1", "Light 1", {"power": False, "brightness": 80, "light_mode": "normal"}),
        _d("rm4", "Living room RM4", {"temperature": 23.45, "humidity": 41.5}),
        _d("remo", "Remo-DE0000", {}),
        _d("meter", "Smart meter 1", {"power_w": 1471.0, "energy_kwh": 1234.5,
                                      "energy_export_kwh": 12.3}),
        _d("solar", "Solar power 1", {"power_w": 1713.0, "energy_kwh": 5000.0}),
        _d("battery", "Storage battery 1", {"battery_soc": 50.0, "battery_mode": "standby",
                                            "power_w": 0.0}),
        _d("water", "Water heater 1", {"power": True, "heater_mode": "auto",
                                       "hot_water_supply": False, "tank_litres": 300.0}),
        _d("heater", "Bathroom heater", {"power": False, "target_temperature": 21.0,
                                         "temperature": 18.5}, "Bathroom"),
        _d("bedroom-ac", "Bedroom AC", {"ir_commands": []}, "Bedroom"),
        _d("den-ac", "Den air conditioner", {"ir_commands": []}, "Den"),
        _d("den-tv", "Den TV", {"ir_commands": TV}, "Den"),
        _d("motion", "Hall motion", {"motion": False}, "Hall"),
        _d("living-tv", "Living room TV", {"ir_commands": ["mute", "power", "volume_down",
                                                           "volume_up"]}, "Living room"),
        _d("lamp", "Reading lamp", {"power": False, "brightness": 60}, "Living room"),
        _d("study-ac", "Study air conditioner", {"ir_commands": []}, "Study"),
        _d("study-tv", "Study TV", {"ir_commands": TV}, "Study"),
    ]


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Times on screen in UTC, whatever this machine's zone."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture(scope="module")
def demo_thread(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubThread]:
    """A hub with the demo's devices."""
    with HubThread(tmp_path_factory.mktemp("demo") / "hub",
                   [VirtualIntegration(demo_like_home())], clock=ManualClock(T0),
                   config={"name": "Demo home"}) as ht:
        yield ht


@pytest.fixture(scope="module")
def empty_thread(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubThread]:
    """A hub with a rules engine and nothing else: no devices, rules, scenes or finds."""
    with HubThread(tmp_path_factory.mktemp("empty") / "hub", [], components=[RulesEngine()],
                   clock=ManualClock(T0), config={"name": "New flat"}) as ht:
        yield ht


def app_for(ht: HubThread) -> HomehubApp:
    assert ht.clock is not None
    return HomehubApp(HubClient(ht.rh.url, ht.rh.token), clock=ht.clock.now)


def connected_then(
    steps: Callable[[Pilot[Any]], Awaitable[None]],
) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, HomehubApp)
        await wait_for(
            lambda: app.client is not None and app.client.state is LinkState.CONNECTED
            and app.loaded,
            "the app connected",
        )
        await steps(pilot)
        await pilot.pause()

    return before


# ---------------------------------------------------------------- normal: the demo's home
def test_dashboard_with_the_demo_home(snap_compare: Snap, demo_thread: HubThread) -> None:
    async def steps(pilot: Pilot[Any]) -> None:
        table = pilot.app.screen.query_one("#devices", DataTable)
        await wait_for(lambda: table.row_count == 19, "the demo's 19 devices")
        screen = pilot.app.screen
        await wait_for(lambda: isinstance(screen, DashboardScreen) and screen.fitted(), "fitted")
        table.move_cursor(row=table.get_row_index("ac1"))

    assert snap_compare(app_for(demo_thread), terminal_size=SIZE, run_before=connected_then(steps))


def test_den_tv_with_nine_buttons(snap_compare: Snap, demo_thread: HubThread) -> None:
    async def steps(pilot: Pilot[Any]) -> None:
        pilot.app.push_screen(DeviceScreen("den-tv"))
        await wait_for(lambda: laid_out(pilot.app, "#ir-volume_up"), "the ninth button")

    assert snap_compare(app_for(demo_thread), terminal_size=SIZE, run_before=connected_then(steps))


def test_aircon_detail_demo(snap_compare: Snap, demo_thread: HubThread) -> None:
    async def steps(pilot: Pilot[Any]) -> None:
        pilot.app.push_screen(DeviceScreen("ac1"))
        await wait_for(lambda: laid_out(pilot.app, "#ctl-fan_speed"), "the aircon's controls")

    assert snap_compare(app_for(demo_thread), terminal_size=SIZE, run_before=connected_then(steps))


# ---------------------------------------------------------------- empty: a hub with nothing
EMPTY_WAITS: dict[str, tuple[str, str, str]] = {
    # key: (screen key, widget holding the message, text it shows once loaded)
    "dashboard": ("h", "#dash-line", "No devices yet"),
    "rules": ("r", "#rules-message", "No rules yet"),
    "scenes": ("s", "#scenes-message", ""),
    "events": ("l", "#log", ""),
    "discovery": ("n", "#found-message", "Nothing new found"),
    "ir": ("i", "#start", ""),
    "energy": ("e", "#energy-message", "No meter"),
}


@pytest.mark.parametrize("screen", list(EMPTY_WAITS))
def test_empty(snap_compare: Snap, empty_thread: HubThread, screen: str) -> None:
    key, selector, text = EMPTY_WAITS[screen]

    async def steps(pilot: Pilot[Any]) -> None:
        if key != "h":
            await pilot.press(key)
        await wait_for(lambda: laid_out(pilot.app, selector), f"the {screen} screen")
        if text:
            shown = pilot.app.screen.query_one(selector, Static)
            await wait_for(lambda: text in str(shown.content), f"'{text}'")
        await pilot.pause(0.2)

    assert snap_compare(app_for(empty_thread), terminal_size=SIZE,
                        run_before=connected_then(steps))


# ---------------------------------------------------------------- error: the hub is gone
ERROR_WAITS: dict[str, tuple[str, str]] = {
    "rules": ("r", "#rules-message"),
    "scenes": ("s", "#scenes-message"),
    "events": ("l", "#log"),
    "discovery": ("n", "#found-message"),
    "ir": ("i", "#start"),
    "energy": ("e", "#energy-message"),
}


@pytest.mark.parametrize("screen", list(ERROR_WAITS))
def test_unreachable(snap_compare: Snap, screen: str) -> None:
    """The hub does not answer (nothing listens on port 9): each screen says so."""
    key, selector = ERROR_WAITS[screen]
    client = HubClient("http://127.0.0.1:9", "token", timeout=2)

    async def before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, HomehubApp)
        await wait_for(lambda: "unreachable" in app.link[1], "the unreachable message")
        await pilot.press(key)
        await wait_for(lambda: laid_out(app, selector), f"the {screen} screen")
        if screen in ("rules", "scenes", "discovery"):
            shown = app.screen.query_one(selector, Static)
            await wait_for(lambda: "does not answer" in str(shown.content), "the screen's message")
        await pilot.pause(0.2)

    assert snap_compare(HomehubApp(client), terminal_size=SIZE, run_before=before)


def test_rule_refused_at_its_line(snap_compare: Snap, empty_thread: HubThread) -> None:
    """The YAML editor with a rule the hub refuses: the problem and the line it is on."""

    async def steps(pilot: Pilot[Any]) -> None:
        from tui.screens.rules import NEW_RULE, RuleEditScreen

        text = NEW_RULE.replace("to: true", "to: maybe").replace("type: state", "type: statee")
        pilot.app.push_screen(RuleEditScreen(None, text))
        await wait_for(lambda: laid_out(pilot.app, "#editor"), "the editor")
        await pilot.press("ctrl+s")
        error = pilot.app.screen.query_one("#rule-error", Static)
        await wait_for(lambda: "line" in str(error.content), "the problem at its line")

    assert snap_compare(app_for(empty_thread), terminal_size=SIZE,
                        run_before=connected_then(steps))

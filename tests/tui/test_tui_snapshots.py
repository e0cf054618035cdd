"""Snapshots of the main screens at 80x24 against a real hub with fixed data and a fixed clock.

Update after an intended change with `pytest tests/tui/test_tui_snapshots.py --snapshot-update`
and look at the SVGs (snapshot_report.html shows the differences).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.color import ColorSystem
from textual.pilot import Pilot
from textual.widgets import DataTable, RichLog, Static
from tui_focus import SYSTEMS, export_downgraded
from tui_hub_thread import HubThread
from tui_testkit import T0, FindingVirtual, home_devices, laid_out, seed_meter_history, wait_for

from hub.clock import ManualClock
from hub.rules import RulesEngine
from tui import HubClient
from tui.app import HomehubApp
from tui.client import LinkState
from tui.screens.dashboard import DashboardScreen
from tui.screens.device import DeviceScreen

RULE = {
    "id": "hall_light",
    "name": "Light on when the hall sees motion",
    "triggers": [{"type": "state", "device": "virtual-motion", "property": "motion", "to": True}],
    "actions": [{"type": "set", "device": "virtual-lamp", "values": {"power": True}}],
}
SIZE = (80, 24)

Snap = Callable[..., bool]


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Times on screen in UTC, whatever this machine's zone."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture(scope="module")
def home_thread(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubThread]:
    """One hub for all snapshots: virtual home, a found plug, a rule that has fired, history."""
    clock = ManualClock(T0)
    virtual = FindingVirtual(home_devices())
    rules = RulesEngine()
    with HubThread(
        tmp_path_factory.mktemp("snap") / "hub",
        [virtual],
        components=[rules],
        clock=clock,
        config={"name": "Test flat"},
    ) as ht:
        resp = ht.call(ht.rh.client.post("/api/v1/rules", json=RULE))
        assert resp.status_code == 201, resp.text
        scene = {
            "devices": {
                "virtual-lamp": {"power": True, "brightness": 30},
                "virtual-aircon": {"power": True, "mode": "cool"},
            }
        }
        resp = ht.call(ht.rh.client.put("/api/v1/scenes/Movie night", json=scene))
        assert resp.status_code == 200, resp.text
        ht.call(seed_meter_history(clock, virtual))
        ht.call(virtual.sense("virtual-motion", {"motion": True}))
        ht.call(wait_for(lambda: virtual.devices["virtual-lamp"].values["power"], "the rule"))
        ht.call(virtual.sense("virtual-motion", {"motion": False}))
        ht.virtual = virtual  # type: ignore[attr-defined]
        yield ht


def make_app(ht: HubThread) -> HomehubApp:
    assert ht.clock is not None
    return HomehubApp(HubClient(ht.rh.url, ht.rh.token), clock=ht.clock.now)


async def connected(pilot: Pilot[Any]) -> HomehubApp:
    app = pilot.app
    assert isinstance(app, HomehubApp)
    await wait_for(
        lambda: app.client is not None and app.client.state is LinkState.CONNECTED and app.loaded,
        "the app connected",
    )
    return app


def run(steps: Callable[[Pilot[Any]], Awaitable[None]]) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def before(pilot: Pilot[Any]) -> None:
        await connected(pilot)
        await steps(pilot)
        await pilot.pause()

    return before


def test_dashboard(snap_compare: Snap, home_thread: HubThread) -> None:
    async def steps(pilot: Pilot[Any]) -> None:
        table = pilot.app.screen.query_one("#devices", DataTable)
        await wait_for(lambda: table.row_count == 5, "five devices")
        screen = pilot.app.screen
        await wait_for(lambda: isinstance(screen, DashboardScreen) and screen.fitted(), "fitted")

    assert snap_compare(make_app(home_thread), terminal_size=SIZE, run_before=run(steps))


def test_device_detail(snap_compare: Snap, home_thread: HubThread) -> None:
    async def steps(pilot: Pilot[Any]) -> None:
        pilot.app.push_screen(DeviceScreen("virtual-aircon"))
        await wait_for(lambda: laid_out(pilot.app, "#ctl-fan_speed"), "the aircon's controls")

    assert snap_compare(make_app(home_thread), terminal_size=SIZE, run_before=run(steps))


def test_lamp_detail(snap_compare: Snap, home_thread: HubThread) -> None:
    async def steps(pilot: Pilot[Any]) -> None:
        pilot.app.push_screen(DeviceScreen("virtual-lamp"))
        await wait_for(lambda: laid_out(pilot.app, "#ctl-brightness"), "the lamp's controls")

    assert snap_compare(make_app(home_thread), terminal_size=SIZE, run_before=run(steps))


def test_rules(snap_compare: Snap, home_thread: HubThread) -> None:
    async def steps(pilot: Pilot[Any]) -> None:
        await pilot.press("r")
        await wait_for(lambda: laid_out(pilot.app, "#rules"), "the rules screen")
        table = pilot.app.screen.query_one("#rules", DataTable)
        await wait_for(lambda: table.row_count == 1, "the rule")

    assert snap_compare(make_app(home_thread), terminal_size=SIZE, run_before=run(steps))


def test_scenes(snap_compare: Snap, home_thread: HubThread) -> None:
    async def steps(pilot: Pilot[Any]) -> None:
        await pilot.press("s")
        await wait_for(lambda: laid_out(pilot.app, "#scenes"), "the scenes screen")
        table = pilot.app.screen.query_one("#scenes", DataTable)
        await wait_for(lambda: table.row_count == 1, "the scene")

    assert snap_compare(make_app(home_thread), terminal_size=SIZE, run_before=run(steps))


def test_new_scene_dialog(snap_compare: Snap, home_thread: HubThread) -> None:
    async def steps(pilot: Pilot[Any]) -> None:
        await pilot.press("s")
        await wait_for(lambda: laid_out(pilot.app, "#scenes"), "the scenes screen")
        await pilot.press("a")
        await wait_for(lambda: laid_out(pilot.app, "#scene-devices"), "the dialog")
        await pilot.press(*"Evening", "tab", "space")

    assert snap_compare(make_app(home_thread), terminal_size=SIZE, run_before=run(steps))


def test_delete_rule_question(snap_compare: Snap, home_thread: HubThread) -> None:
    async def steps(pilot: Pilot[Any]) -> None:
        await pilot.press("r")
        table = pilot.app.screen.query_one("#rules", DataTable)
        await wait_for(lambda: table.row_count == 1, "the rule")
        table.focus()
        await pilot.press("d")
        await wait_for(lambda: laid_out(pilot.app, "#confirm-ok"), "the question")

    assert snap_compare(make_app(home_thread), terminal_size=SIZE, run_before=run(steps))


def test_events_log(snap_compare: Snap, home_thread: HubThread) -> None:
    virtual = home_thread.virtual  # type: ignore[attr-defined]

    async def steps(pilot: Pilot[Any]) -> None:
        await pilot.press("l")
        await wait_for(lambda: laid_out(pilot.app, "#log"), "the log screen")
        await home_thread.wait(virtual.sense("virtual-heater", {"temperature": 19.0}))
        await home_thread.wait(virtual.unplug("virtual-motion"))
        await home_thread.wait(virtual.plug_in("virtual-motion"))
        log = pilot.app.screen.query_one(RichLog)
        await wait_for(lambda: len(log.lines) == 3, "three events")

    try:
        assert snap_compare(make_app(home_thread), terminal_size=SIZE, run_before=run(steps))
    finally:
        home_thread.call(virtual.sense("virtual-heater", {"temperature": 18.5}))


def test_discovery(snap_compare: Snap, home_thread: HubThread) -> None:
    async def steps(pilot: Pilot[Any]) -> None:
        await pilot.press("n")
        await wait_for(lambda: laid_out(pilot.app, "#found"), "the discovery screen")
        table = pilot.app.screen.query_one("#found", DataTable)
        await wait_for(lambda: table.row_count == 1, "the found plug")

    assert snap_compare(make_app(home_thread), terminal_size=SIZE, run_before=run(steps))


def test_energy(snap_compare: Snap, home_thread: HubThread) -> None:
    async def steps(pilot: Pilot[Any]) -> None:
        await pilot.press("e")
        await wait_for(lambda: laid_out(pilot.app, "#plot"), "the energy screen")
        message = pilot.app.screen.query_one("#energy-message", Static)
        await wait_for(lambda: "24 hours · live" in str(message.content), "the plots")

    assert snap_compare(make_app(home_thread), terminal_size=SIZE, run_before=run(steps))


def test_ir_learning(snap_compare: Snap, home_thread: HubThread) -> None:
    async def steps(pilot: Pilot[Any]) -> None:
        await pilot.press("i")
        await wait_for(lambda: laid_out(pilot.app, "#start"), "the IR wizard")

    assert snap_compare(make_app(home_thread), terminal_size=SIZE, run_before=run(steps))


def test_unreachable(snap_compare: Snap, tmp_path: Path) -> None:
    client = HubClient("http://127.0.0.1:9", "token", timeout=2)

    async def before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, HomehubApp)
        await wait_for(lambda: "unreachable" in app.link[1], "the unreachable message")
        await pilot.pause()

    assert snap_compare(HomehubApp(client), terminal_size=SIZE, run_before=before)


def test_adopt_dialog(snap_compare: Snap, home_thread: HubThread) -> None:
    async def steps(pilot: Pilot[Any]) -> None:
        await pilot.press("n")
        await wait_for(lambda: laid_out(pilot.app, "#found"), "the discovery screen")
        table = pilot.app.screen.query_one("#found", DataTable)
        await wait_for(lambda: table.row_count == 1, "the found plug")
        table.focus()
        await pilot.press("enter")
        await wait_for(lambda: laid_out(pilot.app, "#dlg-room"), "the adopt dialog")
        pilot.app.screen.query_one("#dlg-room").focus()

    assert snap_compare(make_app(home_thread), terminal_size=SIZE, run_before=run(steps))


def test_pairing(snap_compare: Snap) -> None:
    client = HubClient("http://127.0.0.1:9")  # no token yet: the app asks for the code first

    async def before(pilot: Pilot[Any]) -> None:
        await wait_for(lambda: laid_out(pilot.app, "#code"), "the pairing screen")
        await pilot.press(*"12345")
        await pilot.pause()

    assert snap_compare(HomehubApp(client), terminal_size=SIZE, run_before=before)


class ColourApp(HomehubApp):
    """The app as a terminal with fewer colours shows it (snapshots per colour system)."""

    def __init__(self, client: HubClient, system: ColorSystem, clock: Any) -> None:
        super().__init__(client, clock=clock)
        self.system = system

    def export_screenshot(self, *, title: str | None = None, simplify: bool = False) -> str:
        return export_downgraded(self, self.system)


@pytest.mark.parametrize("colours", list(SYSTEMS))
def test_focus_on_a_switch(snap_compare: Snap, home_thread: HubThread, colours: str) -> None:
    """The aircon's power switch has the focus: visible in 16, 256 and true colours."""

    async def steps(pilot: Pilot[Any]) -> None:
        pilot.app.push_screen(DeviceScreen("virtual-aircon"))
        await wait_for(lambda: laid_out(pilot.app, "#ctl-fan_speed"), "the aircon's controls")
        pilot.app.screen.query_one("#ctl-power").focus()

    app = ColourApp(HubClient(home_thread.rh.url, home_thread.rh.token), SYSTEMS[colours],
                    ht_clock(home_thread))
    assert snap_compare(app, terminal_size=SIZE, run_before=run(steps))


@pytest.mark.parametrize("colours", list(SYSTEMS))
def test_focus_on_a_stepper(snap_compare: Snap, home_thread: HubThread, colours: str) -> None:
    """The heater's + button has the focus."""

    async def steps(pilot: Pilot[Any]) -> None:
        pilot.app.push_screen(DeviceScreen("virtual-heater"))
        await wait_for(lambda: laid_out(pilot.app, "#inc-target_temperature"), "the stepper")
        pilot.app.screen.query_one("#inc-target_temperature").focus()

    app = ColourApp(HubClient(home_thread.rh.url, home_thread.rh.token), SYSTEMS[colours],
                    ht_clock(home_thread))
    assert snap_compare(app, terminal_size=SIZE, run_before=run(steps))


@pytest.mark.parametrize("colours", list(SYSTEMS))
def test_focus_in_the_rule_form(snap_compare: Snap, home_thread: HubThread, colours: str) -> None:
    """The rule form with a trigger chosen and the focus on the value list."""

    async def steps(pilot: Pilot[Any]) -> None:
        await pilot.press("r")
        await wait_for(lambda: laid_out(pilot.app, "#rules"), "the rules")
        await pilot.press("a")
        await wait_for(lambda: laid_out(pilot.app, "#rf-trigger"), "the rule form")
        await pilot.press(*"Hall light")
        screen = pilot.app.screen
        screen.query_one("#rf-trigger .pp-device").value = "virtual-motion"
        await wait_for(lambda: laid_out(pilot.app, "#rf-trigger .pp-choice"), "the values")
        screen.query_one("#rf-trigger .pp-choice").value = True
        screen.query_one("#rf-trigger .pp-choice").focus()

    app = ColourApp(HubClient(home_thread.rh.url, home_thread.rh.token), SYSTEMS[colours],
                    ht_clock(home_thread))
    assert snap_compare(app, terminal_size=SIZE, run_before=run(steps))


def ht_clock(ht: HubThread) -> Any:
    assert ht.clock is not None
    return ht.clock.now

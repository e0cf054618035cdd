"""Where the focus is must be unmistakable in 16-colour, 256-colour and true-colour terminals.

Tab goes through every widget of every screen; each focused widget is compared with itself
unfocused, cell by cell, as each kind of terminal shows it (tui_focus.looks). Before, switches,
selects and the -/+ buttons only changed background from #1e1e1e to #272727: the same black on a
16-colour terminal and hard to see anywhere.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable
from tui_focus import SYSTEMS, looks, visible_difference
from tui_testkit import FindingVirtual, home_devices, laid_out, wait_for

from hub.rules import RulesEngine
from hub.testing import RunningHub, running_hub
from tui import HubClient
from tui.app import HomehubApp
from tui.screens.device import DeviceScreen

RULE = {
    "id": "hall_light",
    "name": "Light on when the hall sees motion",
    "triggers": [{"type": "state", "device": "virtual-motion", "property": "motion", "to": True}],
    "actions": [{"type": "set", "device": "virtual-lamp", "values": {"power": True}}],
}


@pytest.fixture
async def full_hub(tmp_path: Path) -> AsyncIterator[RunningHub]:
    virtual = FindingVirtual(home_devices())
    async with running_hub(tmp_path / "hub", [virtual], components=[RulesEngine()]) as rh:
        await rh.hub.wait_integrations()
        assert (await rh.client.post("/api/v1/rules", json=RULE)).status_code == 201
        scene = {"devices": {"virtual-lamp": {"power": True}}}
        assert (await rh.client.put("/api/v1/scenes/Evening", json=scene)).status_code == 200
        yield rh


async def tab_through(pilot: Pilot[Any], where: str) -> list[str]:
    """Tab to each widget once; the problems found (empty: every focus is visible)."""
    app = pilot.app
    problems: list[str] = []
    seen: set[int] = set()
    for _ in range(40):
        await pilot.press("tab")
        await pilot.pause()
        widget = app.focused
        if widget is None or id(widget) in seen:
            break
        seen.add(id(widget))
        focused = {name: looks(app, widget, system) for name, system in SYSTEMS.items()}
        app.set_focus(None)
        await pilot.pause()
        for name, system in SYSTEMS.items():
            if not visible_difference(focused[name], looks(app, widget, system)):
                problems.append(f"{where}: {widget!r} looks the same focused ({name} colours)")
        widget.focus()
        await pilot.pause()
    assert seen, f"{where}: nothing took the focus"
    return problems


def on_mode(key: str, ready: str) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def go(pilot: Pilot[Any]) -> None:
        await pilot.press("h")
        await pilot.press(key)
        await wait_for(lambda: laid_out(pilot.app, ready), f"{ready} shown")

    return go


def with_rows(key: str, table: str) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def go(pilot: Pilot[Any]) -> None:
        await on_mode(key, table)(pilot)
        await wait_for(
            lambda: pilot.app.screen.query_one(table, DataTable).row_count, f"{table} rows"
        )

    return go


def device(device_id: str, ready: str) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def go(pilot: Pilot[Any]) -> None:
        await pilot.press("h")
        pilot.app.push_screen(DeviceScreen(device_id))
        await wait_for(lambda: laid_out(pilot.app, ready), f"{device_id}'s controls")

    return go


def form(pilot_keys: tuple[str, ...], ready: str) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def go(pilot: Pilot[Any]) -> None:
        await pilot.press("h")
        await pilot.press(*pilot_keys)
        await wait_for(lambda: laid_out(pilot.app, ready), f"{ready} shown")

    return go


SCREENS: dict[str, Callable[[Pilot[Any]], Awaitable[None]]] = {
    "dashboard": with_rows("h", "#devices"),
    "rules": with_rows("r", "#rules"),
    "scenes": with_rows("s", "#scenes"),
    "events": on_mode("l", "#log"),
    "discovery": with_rows("n", "#found"),
    "ir": on_mode("i", "#start"),
    "energy": on_mode("e", "#plot"),
    "aircon": device("virtual-aircon", "#ctl-fan_speed"),
    "lamp": device("virtual-lamp", "#ctl-brightness"),
    "heater": device("virtual-heater", "#inc-target_temperature"),
    "rule form": form(("r", "a"), "#rf-trigger"),
    "new scene": form(("s", "a"), "#scene-devices"),
}


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_focus_is_visible_on_every_screen(
    full_hub: RunningHub, size: tuple[int, int]
) -> None:
    app = HomehubApp(HubClient(full_hub.url, full_hub.token))
    problems: list[str] = []
    async with app.run_test(size=size) as pilot:
        await wait_for(lambda: app.loaded, "the device list")
        for where, go in SCREENS.items():
            app.set_focus(None)  # keys go to the screen, not into a field
            await go(pilot)
            problems += await tab_through(pilot, where)
            while len(app.screen_stack) > 1:
                app.pop_screen()
                await pilot.pause()
    assert not problems, "\n".join(problems)

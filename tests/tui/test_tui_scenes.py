"""Deleting rules, and the scenes screen (list, run, make from the current state, delete)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, SelectionList, Static
from tui_testkit import home, wait_for

from hub.rules import RulesEngine
from hub.testing import RunningHub, running_hub
from integrations.virtual import VirtualIntegration
from tui import HubClient
from tui.app import HomehubApp
from tui.screens.dialogs import ConfirmDialog
from tui.screens.rules import RulesScreen
from tui.screens.scenes import NewSceneDialog, ScenesScreen

RULE = {
    "id": "hall_light",
    "name": "Light on when the hall sees motion",
    "triggers": [{"type": "state", "device": "virtual-motion", "property": "motion", "to": True}],
    "actions": [{"type": "set", "device": "virtual-lamp", "values": {"power": True}}],
}


@pytest.fixture
async def rules_hub(tmp_path: Path) -> AsyncIterator[tuple[RunningHub, VirtualIntegration]]:
    virtual = home()
    async with running_hub(tmp_path / "hub", [virtual], components=[RulesEngine()]) as rh:
        await rh.hub.wait_integrations()
        resp = await rh.client.post("/api/v1/rules", json=RULE)
        assert resp.status_code == 201, resp.text
        yield rh, virtual


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_delete_a_rule_after_confirming(
    rules_hub: tuple[RunningHub, VirtualIntegration], size: tuple[int, int]
) -> None:
    rh, _ = rules_hub
    app = HomehubApp(HubClient(rh.url, rh.token))
    async with app.run_test(size=size) as pilot:
        await wait_for(lambda: app.loaded, "the device list")
        await pilot.press("r")
        await wait_for(lambda: isinstance(app.screen, RulesScreen), "the rules screen")
        table = app.screen.query_one("#rules", DataTable)
        await wait_for(lambda: "hall_light" in table.rows, "the rule listed")
        table.focus()

        await pilot.press("d")
        await wait_for(lambda: isinstance(app.screen, ConfirmDialog), "the question")
        await pilot.press("enter")  # Enter alone is Cancel: nothing is deleted by accident
        await wait_for(lambda: isinstance(app.screen, RulesScreen), "back, nothing deleted")
        assert (await rh.client.get("/api/v1/rules/hall_light")).status_code == 200

        await pilot.press("d")
        await wait_for(lambda: isinstance(app.screen, ConfirmDialog), "the question again")
        await pilot.press("y")
        await wait_for(lambda: isinstance(app.screen, RulesScreen), "back to the list")
        message = app.screen.query_one("#rules-message", Static)
        await wait_for(lambda: "No rules yet" in str(message.content), "the empty list")
        assert (await rh.client.get("/api/v1/rules/hall_light")).status_code == 404


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_scenes_make_run_and_delete(
    rules_hub: tuple[RunningHub, VirtualIntegration], size: tuple[int, int]
) -> None:
    rh, virtual = rules_hub
    app = HomehubApp(HubClient(rh.url, rh.token))
    async with app.run_test(size=size) as pilot:
        await wait_for(lambda: app.loaded, "the device list")
        await pilot.press("s")
        await wait_for(lambda: isinstance(app.screen, ScenesScreen), "the scenes screen")
        message = app.screen.query_one("#scenes-message", Static)
        await wait_for(lambda: "No scenes yet" in str(message.content), "the empty list")

        await pilot.press("a")
        await wait_for(lambda: isinstance(app.screen, NewSceneDialog), "the new-scene dialog")
        dialog = app.screen
        await pilot.press("enter")  # no name yet: said, not saved
        error = dialog.query_one("#scene-error", Static)
        await wait_for(lambda: "name" in str(error.content), "the missing-name message")
        await pilot.press(*"Evening")
        await pilot.press("tab")
        picks = dialog.query_one("#scene-devices", SelectionList)
        assert picks.has_focus
        labels = [str(picks.get_option_at_index(i).prompt) for i in range(picks.option_count)]
        assert "Reading lamp — off · 60 %" in labels, labels
        assert not any(label.startswith("Hall motion") for label in labels)  # nothing to set
        for _ in range(labels.index("Reading lamp — off · 60 %")):
            await pilot.press("down")
        await pilot.press("space")
        assert list(picks.selected) == ["virtual-lamp"]
        dialog.query_one("#scene-name", Input).focus()
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, ScenesScreen), "back to the scenes")
        table = app.screen.query_one("#scenes", DataTable)
        await wait_for(lambda: "Evening" in table.rows, "the scene listed")
        assert str(table.get_cell("Evening", "sets")) == "Reading lamp: off · 60 %"
        scenes = (await rh.client.get("/api/v1/scenes")).json()["scenes"]
        assert scenes == [
            {"name": "Evening", "devices": {"virtual-lamp": {"power": False, "brightness": 60}}}
        ]

        # someone changes the lamp; running the scene brings it back
        await virtual.sense("virtual-lamp", {"power": True, "brightness": 90})
        await wait_for(lambda: app.devices["virtual-lamp"].values["brightness"] == 90, "the change")
        table.focus()
        await pilot.press("x")
        lamp = virtual.devices["virtual-lamp"]
        await wait_for(lambda: lamp.values == {"power": False, "brightness": 60}, "the scene ran")

        await pilot.press("d")
        await wait_for(lambda: isinstance(app.screen, ConfirmDialog), "the question")
        await pilot.press("y")
        await wait_for(lambda: "No scenes yet" in str(message.content), "the scene gone")
        assert (await rh.client.get("/api/v1/scenes")).json()["scenes"] == []

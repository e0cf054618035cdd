"""Writing a rule without ids: devices and properties picked from lists by name, the rule shown
in words and YAML as it is built, saved through the hub, and it fires."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Select, Static, TextArea
from textual.widgets._select import SelectOverlay
from tui_testkit import home, wait_for

from hub.rules import RulesEngine
from hub.testing import RunningHub, running_hub
from integrations.virtual import VirtualIntegration
from tui import HubClient
from tui.app import HomehubApp
from tui.screens.rule_form import RuleFormScreen
from tui.screens.rules import RuleEditScreen, RulesScreen


@pytest.fixture
async def rules_hub(tmp_path: Path) -> AsyncIterator[tuple[RunningHub, VirtualIntegration]]:
    virtual = home()
    async with running_hub(tmp_path / "hub", [virtual], components=[RulesEngine()]) as rh:
        await rh.hub.wait_integrations()
        yield rh, virtual


async def choose(pilot: Pilot[Any], select: Select[Any], label: str) -> None:
    """Open a list with Enter, move to `label` with the arrow keys, take it with Enter."""
    await wait_for(lambda: select.display and select.region.width > 0, f"the list for {label}")
    select.focus()
    await pilot.press("enter")
    overlay = select.query_one(SelectOverlay)
    await wait_for(lambda: overlay.has_focus, "the open list")
    labels = [str(overlay.get_option_at_index(i).prompt) for i in range(overlay.option_count)]
    assert label in labels, labels
    while str(overlay.get_option_at_index(overlay.highlighted or 0).prompt) != label:
        await pilot.press("down" if labels.index(label) > (overlay.highlighted or 0) else "up")
    await pilot.press("enter")
    await wait_for(lambda: not select.expanded, "the list closed")
    await pilot.pause()


def part(screen: Any, picker: str, cls: str) -> Any:
    return screen.query_one(f"#{picker} .{cls}")


async def open_form(pilot: Pilot[Any], app: HomehubApp) -> RuleFormScreen:
    await wait_for(lambda: app.loaded, "the device list")
    await pilot.press("r")
    await wait_for(lambda: isinstance(app.screen, RulesScreen), "the rules screen")
    await pilot.press("a")
    await wait_for(lambda: isinstance(app.screen, RuleFormScreen), "the rule form")
    screen = app.screen
    assert isinstance(screen, RuleFormScreen)
    return screen


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_rule_from_lists_is_saved_with_ids_and_fires(
    rules_hub: tuple[RunningHub, VirtualIntegration], size: tuple[int, int]
) -> None:
    rh, virtual = rules_hub
    app = HomehubApp(HubClient(rh.url, rh.token))
    async with app.run_test(size=size) as pilot:
        form = await open_form(pilot, app)
        words = form.query_one("#rf-words", Static)
        await pilot.press(*"Lamp on with motion")
        await wait_for(lambda: "When: choose a device" in str(words.content), "what is missing")

        await choose(pilot, part(form, "rf-trigger", "pp-device"), "Hall motion")
        # one property: taken at once; its values are words, not true/false
        assert part(form, "rf-trigger", "pp-prop").value == "motion"
        await choose(pilot, part(form, "rf-trigger", "pp-choice"), "detected")

        await choose(pilot, form.query_one("#rf-cond-kind", Select), "a device value")
        await choose(pilot, part(form, "rf-condition", "pp-device"), "Bathroom heater")
        await choose(pilot, part(form, "rf-condition", "pp-prop"), "temperature")
        await choose(pilot, part(form, "rf-condition", "pp-op"), "is below")
        part(form, "rf-condition", "pp-number").focus()
        await pilot.press("1", "9")

        await choose(pilot, part(form, "rf-action", "pp-device"), "Reading lamp")
        props = part(form, "rf-action", "pp-prop")
        await choose(pilot, props, "power")
        await choose(pilot, part(form, "rf-action", "pp-choice"), "on")

        text = str(words.content)
        assert "When Hall motion's motion becomes detected — now: clear" in text, text
        assert (
            "Only if Bathroom heater's temperature is below 19.0 °C — now: 18.5 °C, holds" in text
        )
        assert "Then set Reading lamp's power to on (now: off)" in text
        assert "the rule would run" in text
        preview = form.query_one("#rf-yaml", TextArea).text
        assert "device: virtual-motion" in preview and "below: 19" in preview, preview

        await pilot.press("ctrl+s")
        await wait_for(lambda: isinstance(app.screen, RulesScreen), "saved and back")
        saved = (await rh.client.get("/api/v1/rules/lamp_on_with_motion")).json()
        assert saved["triggers"] == [
            {"type": "state", "device": "virtual-motion", "property": "motion", "to": True}
        ]
        assert saved["conditions"] == [
            {
                "type": "numeric",
                "device": "virtual-heater",
                "property": "temperature",
                "below": 19.0,
            }
        ]
        assert saved["actions"] == [
            {"type": "set", "device": "virtual-lamp", "values": {"power": True}}
        ]
        await virtual.sense("virtual-motion", {"motion": True})
        await wait_for(lambda: virtual.devices["virtual-lamp"].values["power"], "the rule fired")


async def test_form_says_what_is_missing_and_shows_hub_refusals(
    rules_hub: tuple[RunningHub, VirtualIntegration],
) -> None:
    rh, _ = rules_hub
    app = HomehubApp(HubClient(rh.url, rh.token))
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot, app)
        error = form.query_one("#rule-error", Static)
        await pilot.press("ctrl+s")
        await wait_for(lambda: "When: choose a device" in str(error.content), "the first gap")

        await choose(pilot, part(form, "rf-trigger", "pp-device"), "Bedroom aircon")
        await choose(pilot, part(form, "rf-trigger", "pp-prop"), "target temperature")
        await choose(pilot, part(form, "rf-trigger", "pp-op"), "goes above")
        part(form, "rf-trigger", "pp-number").focus()
        await pilot.press(*"99")
        await pilot.press("ctrl+s")
        await wait_for(lambda: "goes from 16 to 30" in str(error.content), "the range")
        number = part(form, "rf-trigger", "pp-number")
        number.value = ""
        number.focus()
        await pilot.press(*"27")
        await choose(pilot, form.query_one("#rf-act-kind", Select), "notify me")
        form.query_one("#rf-message", Input).focus()
        await pilot.press(*"too warm")
        await pilot.press("ctrl+s")
        await wait_for(lambda: "Name: say what the rule does" in str(error.content), "no name")
        form.query_one("#rf-name", Input).focus()
        await pilot.press(*"Bedroom warm")
        words = str(form.query_one("#rf-words", Static).content)
        assert "goes above 27.0 °C (crosses into it, not while it stays there)" in words

        # the same name twice: the hub refuses, the form says why and stays
        resp = await rh.client.post(
            "/api/v1/rules",
            json={
                "id": "bedroom_warm",
                "triggers": [{"type": "event", "name": "x"}],
                "actions": [{"type": "notify", "message": "m"}],
            },
        )
        assert resp.status_code == 201
        await pilot.press("ctrl+s")
        await wait_for(lambda: "exists" in str(error.content), "the hub's refusal")
        assert isinstance(app.screen, RuleFormScreen)

        # power users go on in YAML with what is filled in
        await pilot.press("ctrl+y")
        await wait_for(lambda: isinstance(app.screen, RuleEditScreen), "the YAML editor")
        text = app.screen.query_one(TextArea).text
        assert "device: virtual-aircon" in text and "above: 27" in text, text

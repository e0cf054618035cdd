"""The rules screen against a hub with the rules engine: list, last fired, on/off, traces, YAML."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from textual.widgets import DataTable, Static, TextArea
from tui_testkit import home, wait_for

from hub.rules import RulesEngine
from hub.testing import RunningHub, running_hub
from integrations.virtual import VirtualIntegration
from tui import HubClient
from tui.app import HomehubApp
from tui.screens.rules import RuleEditScreen, RulesScreen, TextScreen, TraceScreen, yaml_problem

RULE = {
    "id": "hall_light",
    "name": "Light on when the hall sees motion",
    "triggers": [{"type": "state", "device": "virtual-motion", "property": "motion",
                  "to": True}],
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


def cell(app: HomehubApp, column: str) -> str:
    return str(app.screen.query_one("#rules", DataTable).get_cell("hall_light", column))


async def test_rules_list_toggle_trace_and_edit(
    rules_hub: tuple[RunningHub, VirtualIntegration],
) -> None:
    rh, virtual = rules_hub
    app = HomehubApp(HubClient(rh.url, rh.token))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: app.loaded, "the device list")
        await pilot.press("r")
        await wait_for(lambda: isinstance(app.screen, RulesScreen), "the rules screen")
        table = app.screen.query_one("#rules", DataTable)
        await wait_for(lambda: "hall_light" in table.rows, "the rule listed")
        assert cell(app, "last") == "never"
        assert cell(app, "enabled") == "yes"

        # it fires: the lamp goes on, and the list says when
        await virtual.sense("virtual-motion", {"motion": True})
        await wait_for(lambda: virtual.devices["virtual-lamp"].values["power"], "the rule's set")
        await pilot.press("f5")
        await wait_for(lambda: cell(app, "last") != "never", "last fired")

        # its trace
        table.focus()
        await pilot.press("t")
        await wait_for(lambda: isinstance(app.screen, TraceScreen), "the trace screen")
        trace = app.screen.query_one(TextArea).text
        assert "virtual-motion" in trace and "result:" in trace
        # local date and time and how long the run took, not epoch seconds
        assert re.search(r"ts: '?\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d", trace), trace
        assert re.search(r"took: \d+\.\d+ s", trace), trace
        assert not re.search(r"\b1[78]\d{8}\.\d", trace), trace
        await pilot.press("escape")

        # would it fire now? (the hall sees motion: yes)
        await wait_for(lambda: isinstance(app.screen, RulesScreen), "back to the list")
        await pilot.press("w")
        await wait_for(lambda: isinstance(app.screen, TextScreen), "the dry run's answer")
        words = app.screen.query_one(TextArea).text
        assert words.startswith("Would fire now: yes\n"), words
        assert "Hall motion's motion is True; fires when it becomes True" in words
        assert "Then set Reading lamp's power to on" in words
        assert "virtual-" not in words  # names, not ids
        await pilot.press("escape")
        await wait_for(lambda: isinstance(app.screen, RulesScreen), "back to the list")

        # switch it off
        await pilot.press("space")
        await wait_for(lambda: cell(app, "enabled") == "no", "the rule off")
        assert (await rh.client.get("/api/v1/rules/hall_light")).json()["enabled"] is False
        await pilot.press("w")
        await wait_for(lambda: isinstance(app.screen, TextScreen), "the dry run's answer")
        words = app.screen.query_one(TextArea).text
        assert "Would fire now: no\n  because the rule is disabled" in words, words
        await pilot.press("escape")
        await wait_for(lambda: isinstance(app.screen, RulesScreen), "back to the list")

        # edit as YAML: a mistake is shown at its line, the fix is saved
        await pilot.press("y")
        await wait_for(lambda: isinstance(app.screen, RuleEditScreen), "the editor")
        editor = app.screen.query_one(TextArea)
        text = editor.text
        assert text.startswith("- id: hall_light\n")
        bad = text.replace("property: motion", "property: motion\n    for: soon")
        editor.load_text(bad)
        await pilot.press("ctrl+s")
        error = app.screen.query_one("#rule-error", Static)
        await wait_for(lambda: str(error.content), "a validation error")
        line = bad.splitlines().index("    for: soon") + 1
        assert str(error.content).startswith(f"line {line}:"), error.content
        assert editor.cursor_location[0] == line - 1

        editor.load_text(text.replace("name: Light on", "name: Lamp on"))
        await pilot.press("ctrl+s")
        await wait_for(lambda: isinstance(app.screen, RulesScreen), "saved and back")
        saved = (await rh.client.get("/api/v1/rules/hall_light")).json()
        assert saved["name"] == "Lamp on when the hall sees motion"
        await wait_for(lambda: cell(app, "name").startswith("Lamp on"), "the new name listed")


def test_local_checks_before_the_hub() -> None:
    line, message = yaml_problem("- id: a\n  x: [\n", "a") or (None, "")
    assert line == 3
    assert message.startswith("not valid YAML:")
    assert yaml_problem("- id: b\n", "a") is not None
    assert yaml_problem("id: a\n", "a") is not None
    assert yaml_problem("- id: a\n", "a") is None

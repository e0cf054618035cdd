"""Events log, rules and IR learning against a hub that has neither rules nor IR endpoints."""

from __future__ import annotations

import pytest
from aiohttp import web
from textual.widgets import DataTable, Input, RichLog, Select, Static
from tui_testkit import click, wait_for

from hub.testing import RunningHub
from integrations.virtual import VirtualIntegration
from tui import HubClient
from tui.app import HomehubApp
from tui.errors import ApiError, HubUnreachable, NotSupported
from tui.screens.events import EventsScreen, describe
from tui.screens.ir_learn import IrLearnScreen
from tui.screens.rules import NO_RULES_ENGINE, RulesScreen


def log_text(log: RichLog) -> str:
    return "\n".join(line.text for line in log.lines)


async def test_events_log_shows_live_events(hub: RunningHub, virtual: VirtualIntegration) -> None:
    app = HomehubApp(HubClient(hub.url, hub.token))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: app.loaded, "the device list")
        await virtual.sense("virtual-heater", {"temperature": 19.5})
        await pilot.press("l")
        await wait_for(lambda: isinstance(app.screen, EventsScreen), "the log screen")
        log = app.screen.query_one(RichLog)
        await wait_for(lambda: "Bathroom heater temperature=19.5" in log_text(log), "old event")
        await virtual.unplug("virtual-motion")
        await wait_for(lambda: "Hall motion offline (unplugged)" in log_text(log), "new event")
        await pilot.press("slash", *"heater")
        await wait_for(lambda: "Hall motion" not in log_text(log), "the filter")
        assert "Bathroom heater temperature=19.5" in log_text(log)
        await virtual.sense("virtual-heater", {"temperature": 20.0})
        await virtual.sense("virtual-motion", {"motion": True})
        await wait_for(lambda: "temperature=20.0" in log_text(log), "a new matching event")
        assert "Hall motion" not in log_text(log)
        # Esc leaves the filter for the log; the filter stays; c clears the log, not the field
        assert app.focused is app.screen.query_one("#filter", Input)
        await pilot.press("escape")
        assert app.focused is log and isinstance(app.screen, EventsScreen)
        assert app.screen.query_one("#filter", Input).value == "heater"
        await pilot.press("slash")
        assert app.focused is app.screen.query_one("#filter", Input)
        app.screen.query_one("#filter", Input).value = ""
        await pilot.press("enter")  # Enter leaves it too
        assert app.focused is log
        await wait_for(lambda: "Hall motion" in log_text(log), "everything again")
        await pilot.press("c")
        await wait_for(lambda: not log.lines, "a cleared log")


def test_describe_events() -> None:
    names = {"d1": "Lamp"}
    line = describe({"type": "command_result", "ts": None, "device": "d1",
                     "status": "failed", "reason": "unplugged"}, names)
    assert line == "-- command_result    Lamp failed: unplugged"
    line = describe({"type": "device_discovered", "name": "Plug", "integration": "esphome",
                     "address": "127.0.0.5"}, names)
    assert line == "-- device_discovered Plug (esphome at 127.0.0.5)"


async def test_rules_screen_without_rules_engine(hub: RunningHub) -> None:
    client = HubClient(hub.url, hub.token)
    app = HomehubApp(client)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: app.loaded, "the device list")
        try:
            await client.rules()
        except NotSupported:
            pass
        else:
            return  # this hub has grown a rules engine; test_tui_rules covers it
        await pilot.press("r")
        await wait_for(lambda: isinstance(app.screen, RulesScreen), "the rules screen")
        message = app.screen.query_one("#rules-message", Static)
        await wait_for(lambda: str(message.content) == NO_RULES_ENGINE, "the no-rules message")
        assert not app.screen.query_one("#rules", DataTable).display
        await pilot.press("space", "t", "y")  # nothing to act on; no crash
        await pilot.press("h")
        assert app.screen.id != "rules"


async def test_ir_learning_on_a_device_that_is_no_blaster(hub: RunningHub) -> None:
    app = HomehubApp(HubClient(hub.url, hub.token))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: app.loaded, "the device list")
        await pilot.press("i")
        await wait_for(lambda: isinstance(app.screen, IrLearnScreen), "the IR screen")
        screen = app.screen
        status = screen.query_one("#ir-status", Static)
        await click(pilot, "#start")
        await wait_for(lambda: "Choose the blaster" in str(status.content), "a blaster prompt")
        screen.query_one("#blaster", Select).value = "virtual-lamp"
        start = screen.query_one("#start")
        await wait_for(lambda: not start.has_class("-active"), "the button to be clickable")
        await click(pilot, "#start")
        await wait_for(lambda: "cannot learn IR codes" in str(status.content), "the hub's reason")


async def test_missing_endpoints_mean_not_supported(hub: RunningHub) -> None:
    client = HubClient(hub.url, hub.token)
    try:
        with pytest.raises(NotSupported):
            await client.rules()  # this hub runs without the rules engine
        with pytest.raises(NotSupported):
            await client.request("POST", "/no/such/feature", json={})
        with pytest.raises(ApiError) as info:
            await client.device("no-such-device")
        assert info.value.status == 404
        assert not isinstance(info.value, NotSupported)
    finally:
        await client.close()


async def test_unreachable_hub_is_a_typed_error() -> None:
    client = HubClient("http://127.0.0.1:9", "t", timeout=2)
    try:
        with pytest.raises(HubUnreachable, match="does not answer"):
            await client.devices()
    finally:
        await client.close()


async def test_something_else_at_the_address() -> None:
    async def page(request: web.Request) -> web.Response:
        return web.Response(text="<html>router login</html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/{tail:.*}", page)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    client = HubClient(f"http://127.0.0.1:{port}", "t")
    try:
        with pytest.raises(ApiError, match="not JSON"):
            await client.devices()
        tui = HomehubApp(client)
        async with tui.run_test(size=(80, 24)):
            await wait_for(lambda: "is it a homehub hub? — retrying" in tui.link[1], "the message")
            assert "answered HTTP 200 instead of the events stream" in tui.link[1]
    finally:
        await client.close()
        await runner.cleanup()

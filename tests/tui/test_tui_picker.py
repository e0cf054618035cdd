"""The hub picker (no hub chosen yet): every key its footer shows works, the others are hidden.

Before the fix, r and n crashed the app with "no hub chosen yet" (exit status 0) and e, i, l
switched away from the picker to empty screens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widgets import Input, OptionList
from tui_testkit import wait_for

from hub.testing import RunningHub
from tui.app import HomehubApp
from tui.client import LinkState
from tui.config import TokenStore
from tui.screens.connect import HubPickerScreen, PairScreen
from tui.screens.dashboard import DashboardScreen
from tui.screens.rules import RulesScreen

HUB_KEYS = ("h", "r", "s", "l", "n", "i", "e", "c", "b")
SCREEN_KEYS = {"r", "s", "l", "n", "i", "e"}  # the dashboard's footer lists these


def footer_keys(app: HomehubApp) -> set[str]:
    """The keys the footer of the current screen shows (enabled, shown bindings)."""
    return {
        key
        for key, active in app.screen.active_bindings.items()
        if active.binding.show and active.enabled
    }


def picker_app(tmp_path: Path) -> HomehubApp:
    store = TokenStore(tmp_path / "cfg" / "tui.json")
    return HomehubApp(None, store=store, browse_interfaces=["127.0.0.1"])


async def test_hub_keys_are_hidden_and_harmless_in_the_picker(tmp_path: Path) -> None:
    app = picker_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: isinstance(app.screen, HubPickerScreen), "the picker")
        app.screen.query_one("#hubs", OptionList).focus()
        await pilot.pause()
        shown = footer_keys(app)
        assert not shown & set(HUB_KEYS), shown
        assert "escape" in shown
        for key in HUB_KEYS:
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, HubPickerScreen), f"{key} left the picker"
        assert app.is_running and app.return_code is None
        # the palette offers no hub screens either
        commands = [c.title for c in app.get_system_commands(app.screen)]
        assert "Rules" not in commands and "Energy" not in commands
        # escape is shown, and it does what it says
        await pilot.press("escape")
        await wait_for(lambda: not app.is_running, "the app closed")
    assert app.return_value == 1


async def test_pairing_dialog_hides_hub_keys_then_they_work(
    tmp_path: Path, hub: RunningHub
) -> None:
    app = picker_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: isinstance(app.screen, HubPickerScreen), "the picker")
        field = app.screen.query_one("#url", Input)
        field.focus()
        field.value = hub.url
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, PairScreen), "the pairing dialog")
        app.screen.set_focus(None)
        await pilot.pause()
        assert not footer_keys(app) & set(HUB_KEYS)
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, PairScreen) and app.is_running

        code = await hub.hub.auth.create_pairing_code()
        app.screen.query_one("#code", Input).value = code
        app.screen.query_one("#code", Input).focus()
        await pilot.press("enter")
        client: Any = app.client
        await wait_for(lambda: client.state is LinkState.CONNECTED and app.loaded, "connected")
        await wait_for(lambda: isinstance(app.screen, DashboardScreen), "the dashboard")
        app.screen.set_focus(None)
        await pilot.pause()
        assert footer_keys(app) >= SCREEN_KEYS
        assert "h" not in footer_keys(app)  # Home, on the dashboard, would do nothing
        await pilot.press("r")
        await wait_for(lambda: isinstance(app.screen, RulesScreen), "the rules screen")

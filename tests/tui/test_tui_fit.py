"""Everything fits at 80x24, or is cut visibly (an ellipsis, and the full text one line below):
the dashboard's names and states, a remote with nine buttons, the found-devices table, the
empty dashboard's hint and every screen's footer (#13 point 6)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widgets import Button, DataTable, Footer, Static
from textual.widgets._footer import FooterKey
from tui_testkit import FindingVirtual, home_devices, laid_out, wait_for

from hub.model import DiscoveredDevice, spec_for
from hub.testing import running_hub
from integrations.virtual import VirtualDevice, VirtualIntegration
from tui import HubClient
from tui.app import HomehubApp
from tui.screens.dashboard import NO_DEVICES
from tui.screens.device import DeviceScreen

SIZE = (80, 24)
NINE = ["channel_down", "channel_up", "mute", "power", "power_off", "power_on", "source",
        "volume_down", "volume_up"]


def screen_lines(app: HomehubApp) -> list[str]:
    """The text of every line of the screen as the terminal shows it."""
    return ["".join(seg.text for seg in strip) for strip in app.screen._compositor.render_strips()]


def long_home() -> list[VirtualDevice]:
    """The test flat, a TV with nine remote buttons and names and states too long for 80 columns."""
    devices = home_devices()
    devices.append(VirtualDevice(
        "virtual-tv", "Den TV", {"ir_commands": spec_for("ir_commands")},
        {"ir_commands": NINE}, room="Den",
    ))
    devices.append(VirtualDevice(
        "virtual-long", "Upstairs landing ceiling light with a very long name",
        {"power": spec_for("power"), "brightness": spec_for("brightness"),
         "temperature": spec_for("temperature"), "humidity": spec_for("humidity")},
        {"power": True, "brightness": 80, "temperature": 21.25, "humidity": 55.5},
        room="Upstairs landing and stairs",
    ))
    return devices


async def test_dashboard_cuts_with_an_ellipsis_and_shows_the_row_in_full(tmp_path: Path) -> None:
    async with running_hub(tmp_path / "hub", [VirtualIntegration(long_home())]) as rh:
        await rh.hub.wait_integrations()
        app = HomehubApp(HubClient(rh.url, rh.token))
        async with app.run_test(size=SIZE) as pilot:
            table = app.screen.query_one("#devices", DataTable)
            await wait_for(lambda: table.row_count == 7, "seven devices")
            await pilot.pause()
            # no column runs past the table's right edge (it would be cut without a sign)
            await wait_for(
                lambda: table.virtual_size.width <= table.scrollable_content_region.width,
                "the columns fitted to the width",
            )
            lines = screen_lines(app)
            row = next(line for line in lines if "Upstairs" in line)
            assert "…" in row, row  # the long name, room and state are visibly cut
            # ... and the highlighted device is spelled out in full under the table
            table.move_cursor(row=table.get_row_index("virtual-long"))
            line = app.screen.query_one("#dash-line", Static)
            await wait_for(lambda: "very long name" in str(line.content), "the full row")
            await pilot.pause()
            text = " ".join(screen_lines(app))
            assert "Upstairs landing ceiling light with a very long name" in text
            assert "on · 80 % · 21.2 °C · 55.5 %" in text
            # the TV's state is its buttons, not an empty cell
            tv_row = next(line for line in screen_lines(app) if "Den TV" in line)
            assert "9 remote buttons" in tv_row

            # wider: the columns grow and nothing is cut any more
            await pilot.resize_terminal(160, 40)
            await wait_for(
                lambda: any("with a very long name" in ln and "Upstairs landing and stairs" in ln
                            for ln in screen_lines(app)),
                "the long row uncut at 160 columns",
            )


async def test_nine_remote_buttons_are_all_on_screen_and_tab_reaches_each(
    tmp_path: Path,
) -> None:
    async with running_hub(tmp_path / "hub", [VirtualIntegration(long_home())]) as rh:
        await rh.hub.wait_integrations()
        app = HomehubApp(HubClient(rh.url, rh.token))
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(lambda: "virtual-tv" in app.devices, "the TV")
            app.push_screen(DeviceScreen("virtual-tv"))
            await wait_for(lambda: laid_out(app, "#ir-volume_up"), "the buttons")
            await pilot.pause()
            screen = app.screen.region
            buttons = list(app.screen.query(".ir-command").results(Button))
            assert [str(b.label) for b in buttons] == NINE
            for button in buttons:
                assert screen.contains_region(button.region), (str(button.label), button.region)
                assert str(button.label) in "".join(screen_lines(app)[button.region.y + 1])
            # Tab visits every button, and the one it lands on is always on screen
            seen = set()
            for _ in range(20):
                await pilot.press("tab")
                focused = app.focused
                if isinstance(focused, Button) and focused.has_class("ir-command"):
                    assert screen.contains_region(focused.region), focused.region
                    seen.add(str(focused.label))
            assert seen == set(NINE)


async def test_found_devices_table_fits_and_names_in_full_below(tmp_path: Path) -> None:
    class LongFind(FindingVirtual):
        PLUG = DiscoveredDevice(
            key="virtual-node", integration="echonet", name="ECHONET Lite node at 127.0.0.66",
            address="127.0.0.66", model="1 ECHONET Lite objects",
        )

    async with running_hub(tmp_path / "hub", [LongFind(home_devices())]) as rh:
        await rh.hub.wait_integrations()
        app = HomehubApp(HubClient(rh.url, rh.token))
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(lambda: app.loaded, "the devices")
            await pilot.press("n")
            await wait_for(lambda: laid_out(app, "#found"), "the discovery screen")
            table = app.screen.query_one("#found", DataTable)
            await wait_for(lambda: table.row_count == 1, "the found node")
            await pilot.pause()
            assert table.virtual_size.width <= table.scrollable_content_region.width
            message = app.screen.query_one("#found-message", Static)
            await wait_for(lambda: "127.0.0.66" in str(message.content), "the find in full")
            await pilot.pause()
            text = " ".join(screen_lines(app))
            assert "ECHONET Lite node at 127.0.0.66" in text
            assert "1 ECHONET Lite" in text and "objects" in text


async def test_empty_dashboard_says_what_to_do_in_full(tmp_path: Path) -> None:
    async with running_hub(tmp_path / "hub", []) as rh:
        app = HomehubApp(HubClient(rh.url, rh.token))
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(lambda: app.loaded, "the (empty) device list")
            line = app.screen.query_one("#dash-line", Static)
            await wait_for(lambda: str(line.content) == NO_DEVICES, "the hint")
            await pilot.pause()
            assert app.screen.region.contains_region(line.region)
            region = line.region  # the hint's own cells, as the terminal shows them
            text = " ".join(
                "".join(seg.text for seg in strip.crop(region.x, region.right)).strip()
                for strip in app.screen._compositor.render_strips()[region.y:region.bottom]
            )
            assert "Press n to see what the hub found on the network and adopt it" in text
            assert "homehub.toml" in text


def footer_overflows(app: HomehubApp) -> list[str]:
    """Footer keys that do not fit whole on the footer line, left of the palette's key."""
    footer = app.screen.query_one(Footer)
    keys = list(footer.query(FooterKey).results(FooterKey))
    palette = [k for k in keys if k.has_class("-command-palette")]
    right = palette[0].region.x if palette else footer.region.right
    return [
        f"{key.key_display} {key.description}"
        for key in keys
        if key not in palette and (key.region.width == 0 or key.region.right > right)
    ]


async def test_every_footer_fits_80_columns(tmp_path: Path) -> None:
    async with running_hub(tmp_path / "hub", [FindingVirtual(long_home())]) as rh:
        await rh.hub.wait_integrations()
        app = HomehubApp(HubClient(rh.url, rh.token))
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(lambda: app.loaded, "the devices")
            problems: dict[str, Any] = {}
            for key in ("h", "r", "s", "l", "n", "i", "e"):
                await pilot.press(key)
                await pilot.pause(0.2)
                problems[type(app.screen).__name__] = footer_overflows(app)
            await pilot.press("h")
            app.push_screen(DeviceScreen("virtual-long"))
            await wait_for(lambda: laid_out(app, "#ctl-power"), "the device page")
            await pilot.pause()
            problems["DeviceScreen"] = footer_overflows(app)
            assert not any(problems.values()), problems

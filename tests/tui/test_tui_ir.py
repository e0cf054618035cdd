"""IR through the TUI with the Broadlink emulator: press a remote button on a device screen,
learn a new one with the wizard, and see it appear as a button that sends exactly that code.

Address 127.0.0.160 belongs to this module.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from textual.widgets import Button, Input, Select, Static
from tui_testkit import click, laid_out, wait_for

from hub.testing import RunningHub, running_hub
from integrations.broadlink import captures
from integrations.broadlink.emulator import BroadlinkEmulator
from integrations.broadlink.integration import BroadlinkIntegration, blaster_device_id
from tui import HubClient
from tui.app import HomehubApp
from tui.screens.device import DeviceScreen
from tui.screens.ir_learn import IrLearnScreen, describe_code

ADDR = "127.0.0.160"
TV_POWER = captures.nec_packet(0x04, 0x08)
LEARNED = captures.nec_packet(0x04, 0x66)


@pytest.fixture
async def ir_hub(tmp_path: Path) -> AsyncIterator[tuple[RunningHub, BroadlinkEmulator]]:
    blaster = BroadlinkEmulator(ADDR, model="rm4pro", name="Living RM4")
    async with blaster:
        cfg = {
            "hosts": [ADDR],
            "timeout": 2,
            "poll_interval": 0.3,
            "store_path": str(tmp_path / "broadlink.json"),
            "devices": [{
                "id": "living-tv", "name": "Living room TV", "blaster": ADDR,
                "room": "Living room",
                "profile": {"kind": "tv", "commands": {"power": TV_POWER.hex()},
                            "power": {"toggle": "power"}},
            }],
        }
        config = {"integrations": {"broadlink": cfg}}
        async with running_hub(tmp_path / "hub", [BroadlinkIntegration()], config=config) as rh:
            await rh.hub.wait_integrations()
            yield rh, blaster


async def clickable(pilot_app: HomehubApp, selector: str) -> None:
    button = pilot_app.screen.query_one(selector, Button)
    await wait_for(lambda: not button.has_class("-active"), f"{selector} clickable")


async def test_ir_buttons_and_learning_wizard(
    ir_hub: tuple[RunningHub, BroadlinkEmulator],
) -> None:
    rh, blaster = ir_hub
    blaster_id = blaster_device_id(blaster.mac_text)
    app = HomehubApp(HubClient(rh.url, rh.token))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(lambda: {"living-tv", blaster_id} <= set(app.devices), "the devices")

        # a remote button on the device screen sends its code through the blaster
        app.push_screen(DeviceScreen("living-tv"))
        await wait_for(lambda: laid_out(app, "#ir-power"), "the IR buttons")
        await click(pilot, "#ir-power")
        await wait_for(lambda: blaster.sent == [TV_POWER], "the power code sent")
        await pilot.press("escape")

        # learn a new button
        await pilot.press("i")
        await wait_for(lambda: isinstance(app.screen, IrLearnScreen), "the IR wizard")
        screen = app.screen
        blasters = screen.query_one("#blaster", Select)
        blasters.value = blaster_id
        screen.query_one("#timeout", Input).value = "30"
        await click(pilot, "#start")
        status = screen.query_one("#ir-status", Static)
        await wait_for(lambda: blaster.learning, "the blaster listening")
        await wait_for(lambda: "Waiting for the button" in str(status.content), "the countdown")
        blaster.press(LEARNED)
        await wait_for(lambda: "Captured" in str(status.content), "the capture")
        assert "NEC code (address 0x04, command 0x66)" in str(status.content)
        # the wizard goes on where something is still to choose: the device, then the name
        assert app.focused is screen.query_one("#target", Select)
        assert screen.query_one("#command", Input).placeholder.startswith("e.g. ")
        screen.query_one("#target", Select).value = "living-tv"
        screen.query_one("#command", Input).value = "netflix"
        await clickable(app, "#save")
        await click(pilot, "#save")
        await wait_for(lambda: "Saved 'netflix' to Living room TV" in str(status.content), "saved")

        # the new button appears on the device screen and sends exactly the learned code
        await wait_for(
            lambda: "netflix" in app.devices["living-tv"].values.get("ir_commands", ()),
            "the new command reported",
        )
        app.push_screen(DeviceScreen("living-tv"))
        await wait_for(lambda: laid_out(app, "#ir-netflix"), "the new button")
        # a device screen that is open while a button is learned grows the button too
        resp = await rh.client.post("/api/v1/ir/learn",
                                    json={"blaster_id": blaster_id, "timeout_s": 30})
        session = rh.hub.ir_learning.sessions[resp.json()["session_id"]]
        await wait_for(lambda: blaster.learning, "the blaster listening again")
        blaster.press(TV_POWER)
        await wait_for(lambda: session.state == "captured", "the capture")
        await rh.client.post(f"/api/v1/ir/learn/{session.id}/save",
                             json={"device_id": "living-tv", "command": "power_again"})
        await wait_for(lambda: laid_out(app, "#ir-power_again"), "the button on the open screen")
        await click(pilot, "#ir-netflix")
        await wait_for(lambda: blaster.sent[-1:] == [LEARNED], "the learned code sent")


async def test_learning_timeout_is_explained(
    ir_hub: tuple[RunningHub, BroadlinkEmulator],
) -> None:
    rh, blaster = ir_hub
    app = HomehubApp(HubClient(rh.url, rh.token))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: app.loaded, "the devices")
        await pilot.press("i")
        await wait_for(lambda: isinstance(app.screen, IrLearnScreen), "the IR wizard")
        screen = app.screen
        screen.query_one("#blaster", Select).value = blaster_device_id(blaster.mac_text)
        screen.query_one("#timeout", Input).value = "1"
        await click(pilot, "#start")
        status = screen.query_one("#ir-status", Static)
        await wait_for(lambda: "No button press arrived in time" in str(status.content), "timeout")


def test_describe_code() -> None:
    assert describe_code({"protocol": "NEC", "address": 4, "command": 8}) == (
        "a NEC code (address 0x04, command 0x08)"
    )
    assert describe_code({"protocol": None, "broadlink_hex": "26001a00"}) == "a raw code 26001a00"

"""The TUI shows the one-time code that attaches the hub to a relay account."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widgets._toast import Toast
from tui_testkit import home_devices, wait_for

from hub.relay_link import RelayLink
from hub.testing import running_hub
from integrations.virtual import VirtualIntegration
from relay import RelayConfig, RelayServer
from tui import HubClient
from tui.app import HomehubApp


class NotingApp(HomehubApp):
    """The app, remembering the notifications it showed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.notes: list[str] = []

    def notify(self, message: str, **kwargs: Any) -> None:  # type: ignore[override]
        self.notes.append(message)
        super().notify(message, **kwargs)


async def test_claim_code_from_the_tui_claims_the_hub(tmp_path: Path) -> None:
    relay = RelayServer(RelayConfig(data_dir=tmp_path / "relay", port=0))
    await relay.start()
    try:
        link = RelayLink(relay.url)
        async with running_hub(tmp_path / "hub", [VirtualIntegration(home_devices())],
                               components=[link]) as rh:
            await link.wait_connected(15)
            app = NotingApp(HubClient(rh.url, rh.token))
            async with app.run_test(size=(80, 24)) as pilot:
                await wait_for(lambda: app.loaded, "the device list")
                await pilot.press("c")
                note = await wait_for(
                    lambda: next((n for n in app.notes if "Claim code" in n), None),
                    "the claim code notification",
                )
            code = note.split("[b]")[1].split("[/b]")[0]
            await relay.create_account("owner@example.org", "a long password 123")
            hub_id = await relay.claim("owner@example.org", "a long password 123", code)
            assert hub_id
    finally:
        await relay.stop()


async def test_claim_code_without_a_relay_says_how_to_link(tmp_path: Path) -> None:
    async with running_hub(tmp_path / "hub", [VirtualIntegration(home_devices())]) as rh:
        app = NotingApp(HubClient(rh.url, rh.token))
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(lambda: app.loaded, "the device list")
            await pilot.press("c")
            note = await wait_for(
                lambda: next((n for n in app.notes if "relay" in n), None), "the explanation"
            )
            assert "[relay] url" in note
            # ... and the toast on screen still says "[relay]" (not eaten as a markup tag)
            # (the toast renders the notification as Textual does on screen)
            notification = next(n for n in app._notifications if "relay" in n.message)
            shown = str(Toast(notification).render())
            assert "set [relay] url in" in shown, shown

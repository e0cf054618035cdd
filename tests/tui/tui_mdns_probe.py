"""Runs inside a private network namespace (see test_tui_mdns.py) and prints JSON events.

A real hub announces itself over mDNS with its own LAN discovery component (TXT: id, name,
api); the TUI's HubBrowser must find it through zeroconf, and the TUI's hub picker must list it
and connect to it.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from hub.discovery.component import LanDiscovery
from hub.testing import running_hub
from integrations.virtual import VirtualIntegration
from tui.app import HomehubApp
from tui.browse import HubBrowser
from tui.client import HubClient, LinkState
from tui.config import TokenStore
from tui.screens.connect import HubPickerScreen

IFACE = ["127.0.0.1"]


def emit(event: str, **data: Any) -> None:
    print(json.dumps({"event": event, **data}), flush=True)


async def wait_for(cond: Any, what: str, timeout: float = 20.0) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (result := cond()):
        if loop.time() > deadline:
            emit("timeout", what=what)
            raise SystemExit(1)
        await asyncio.sleep(0.05)
    return result


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        lan = LanDiscovery(interfaces=IFACE)
        async with running_hub(Path(tmp) / "hub", [VirtualIntegration()],
                               config={"name": "Test flat"}, components=[lan]) as rh:
            await rh.hub.wait_integrations()
            health = (await rh.client.get("/api/v1/health")).json()
            emit("hub", url=rh.url, hub_id=health["hub_id"], name=health["name"])

            # 1. the browser on its own
            async with HubBrowser(IFACE) as browser:
                hubs = await browser.wait_for_hubs(20)
                for hub in hubs:
                    emit("found", name=hub.name, url=hub.url, hub_id=hub.hub_id,
                         api=hub.api_version)
                client = HubClient(hubs[0].url)
                emit("health", **await client.health())
                await client.close()

                # 2. the TUI's picker lists it; choosing it connects with the saved token
                store = TokenStore(Path(tmp) / "tui.json")
                store.save(rh.url, rh.token, health["hub_id"])
                app = HomehubApp(None, store=store, browse_interfaces=IFACE)
                async with app.run_test(size=(80, 24)) as pilot:
                    await wait_for(lambda: isinstance(app.screen, HubPickerScreen), "picker")
                    options = app.screen.query_one("#hubs")
                    await wait_for(lambda: options.option_count == 1, "the hub in the picker")
                    emit("picker", option=str(options.get_option_at_index(0).prompt))
                    options.focus()
                    await pilot.press("enter")
                    await wait_for(lambda: app.client is not None
                                   and app.client.state is LinkState.CONNECTED and app.loaded,
                                   "the TUI connected to the found hub")
                    emit("tui", url=app.client.url if app.client else "",
                         devices=sorted(app.devices))

                # 3. the hub says goodbye when it stops
                await lan.stop()
                await wait_for(lambda: not browser.hubs, "the goodbye")
                emit("removed")
    emit("done")


if __name__ == "__main__":
    try:
        asyncio.run(asyncio.wait_for(main(), 90))
    except TimeoutError:
        emit("timeout", what="overall")
        sys.exit(1)

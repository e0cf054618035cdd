"""GET /api/v1/health names what is degraded (issue 12, also build), without a token."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx

from hub.app import load_integration
from hub.relay_link import ReconnectLogic, RelayLink
from hub.testing import running_hub
from integrations.virtual import VirtualIntegration
from integrations.virtual.integration import demo_devices


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nobody listens there once it is closed


async def test_health_is_ok_when_all_is_well(tmp_path: Path) -> None:
    async with running_hub(tmp_path, [VirtualIntegration(demo_devices())]) as rh:
        await rh.hub.wait_integrations()
        body = (await httpx.AsyncClient(base_url=rh.url).get("/api/v1/health")).json()
    assert (body["status"], body["problems"]) == ("ok", [])


async def test_health_names_each_degraded_part(tmp_path: Path) -> None:
    virtual = VirtualIntegration(demo_devices())
    link = RelayLink(
        f"ws://127.0.0.1:{closed_port()}", reconnect=ReconnectLogic(base_s=0.05, cap_s=0.2)
    )
    config = {"integrations": {"echonet": {"hosts": "192.0.2.1"}}}  # not a list: refused
    async with running_hub(
        tmp_path, [virtual, load_integration("echonet")], config, components=[link]
    ) as rh:
        await rh.hub.wait_integrations()
        await virtual.unplug("virtual-lamp")
        async with httpx.AsyncClient(base_url=rh.url) as anon:
            r = await anon.get("/api/v1/health")
    assert r.status_code == 200  # the hub answers: a monitor reads status and problems
    body = r.json()
    assert body["status"] == "degraded"
    parts = {p["part"]: p["reason"] for p in body["problems"]}
    assert set(parts) == {"integration:echonet", "devices", "relay"}, parts
    assert "hosts must be a list" in parts["integration:echonet"]
    assert parts["devices"] == f"1 of {len(demo_devices())} offline"
    assert parts["relay"].startswith("link ")
    assert "virtual-lamp" not in r.text  # no device names without a token

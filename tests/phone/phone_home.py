"""A whole home for the phone tests: a real relay, a real hub dialling out to it, an emulated
ECHONET Lite node (air conditioner, meter, solar, battery) over real UDP, the demo's emulated
Broadlink blaster (an IR TV and an IR air conditioner) and the virtual devices. The hub can be
stopped and started again on the same data folder, as a power cut would do, while the relay
keeps what it last knew.

Addresses 127.0.21.x belong to this suite.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from relay_testkit import PASSWORD, eventually, relay_config

from hub.app import load_integration
from hub.backup.service import BackupService
from hub.config import HubConfig
from hub.relay_link import ReconnectLogic, RelayLink
from hub.rules import RulesEngine
from hub.testing import RunningHub, running_hub
from integrations.broadlink.demo import demo_config, demo_emulator
from integrations.broadlink.emulator import BroadlinkEmulator
from integrations.echonet.emulator import EchonetNode
from integrations.echonet.integration import EchonetIntegration
from integrations.virtual.integration import VirtualIntegration, demo_devices
from relay import RelayConfig, RelayServer

RELAY_HOST = "127.0.21.1"
HUB_HOST = "127.0.21.2"
NODE_HOST = "127.0.21.10"
BLASTER_HOST = "127.0.21.11"
OWNER = "owner@example.org"
MEMBER = "member@example.org"
STRANGER = "stranger@example.org"

ECHONET = {
    "bind": HUB_HOST,
    "hosts": [NODE_HOST],
    "multicast": False,
    "poll_interval_s": 0.3,
    "timeout_s": 1.0,
    "retries": 1,
}
AIRCON_ON = b"\x30"  # ECHONET EPC 0x80: 0x30 on, 0x31 off
AIRCON_OFF = b"\x31"


def phone_relay_config(data_dir: Path, **kw: Any) -> RelayConfig:
    """The relay's test settings, plus the phone's (push to a local endpoint) where supported."""
    fields = {f.name for f in dataclasses.fields(RelayConfig)}
    extra = {k: v for k, v in {"push_allow_insecure_endpoints": True}.items() if k in fields}
    return relay_config(data_dir, host=RELAY_HOST, **{**extra, **kw})


@dataclass
class PhoneHome:
    """The running parts and handles to stop and start the hub."""

    relay: RelayServer
    node: EchonetNode
    blaster: BroadlinkEmulator
    hub_dir: Path
    hub: RunningHub | None = None
    link: RelayLink | None = None
    _hub_stack: contextlib.AsyncExitStack | None = None
    extra_config: dict[str, Any] = field(default_factory=dict)
    relay_running: bool = True
    backups: bool = False  # run the backup component (as `homehub hub` does)

    @property
    def aircon(self) -> Any:
        """The emulated air conditioner (its `values` are the unit's ECHONET properties)."""
        return self.node.object("aircon")

    @property
    def relay_hub_id(self) -> str:
        """The hub's id at the relay."""
        assert self.link is not None and self.link.client is not None
        return self.link.client.relay_hub_id

    async def start_hub(self) -> RunningHub:
        """Start the hub (again) on its data folder and wait until it is linked."""
        assert self.hub is None, "the hub is already running"
        stack = contextlib.AsyncExitStack()
        link = RelayLink(self.relay.url, reconnect=ReconnectLogic(base_s=0.05, cap_s=0.5))
        integrations = {"echonet": ECHONET, "broadlink": demo_config(self.blaster)}
        config = {"api_host": HUB_HOST, "integrations": integrations, **self.extra_config}
        components: list[Any] = [RulesEngine(), link]
        if self.backups:
            components.append(BackupService(HubConfig(data_dir=self.hub_dir)))
        rh = await stack.enter_async_context(
            running_hub(
                self.hub_dir,
                [
                    EchonetIntegration(),
                    load_integration("broadlink"),
                    VirtualIntegration(demo_devices()),
                ],
                config=config,
                components=components,
            )
        )
        self._hub_stack, self.hub, self.link = stack, rh, link
        await rh.hub.wait_integrations()
        await link.wait_connected(15)
        return rh

    async def stop_hub(self) -> None:
        """Stop the hub (its tunnel drops; the relay keeps the last state it synced)."""
        assert self._hub_stack is not None
        stack, self._hub_stack = self._hub_stack, None
        self.hub = None
        self.link = None
        await stack.aclose()

    async def stop_relay(self) -> None:
        """Stop the relay (the internet side goes away; the hub keeps running)."""
        if self.relay_running:
            self.relay_running = False
            await self.relay.stop()

    async def claim_code(self) -> str:
        """A claim code from the hub's LAN API, as a person at home gets it."""
        assert self.hub is not None
        r = await self.hub.client.post("/api/v1/relay/claim-code")
        assert r.status_code == 200, r.text
        return str(r.json()["code"])

    async def pairing_code(self) -> str:
        """A one-time pairing code for the LAN app, as `homehub pair` makes it."""
        assert self.hub is not None
        return await self.hub.hub.auth.create_pairing_code()

    async def aircon_id(self) -> str:
        """The air conditioner's device id at the hub (once the hub has read the node)."""
        assert self.hub is not None
        client = self.hub.client

        async def find() -> str | None:
            devices = (await client.get("/api/v1/devices")).json()["devices"]
            for d in devices:
                names = {p["name"] for p in d["properties"]}
                if d["integration"] == "echonet" and "target_temperature" in names:
                    return str(d["id"])
            return None

        return str(await eventually(find, what="the ECHONET air conditioner at the hub"))

    async def relay_sees_devices(self, hub_id: str, token: str, count_at_least: int) -> None:
        """Wait until the relay's copy has the hub's devices (what the phone will load)."""
        async with httpx.AsyncClient(
            base_url=self.relay.url, headers={"Authorization": f"Bearer {token}"}, timeout=10
        ) as phone:

            async def synced() -> bool:
                r = await phone.get(f"/v1/hubs/{hub_id}/devices")
                return r.status_code == 200 and len(r.json()["devices"]) >= count_at_least

            await eventually(synced, what="the hub's devices at the relay")


@contextlib.asynccontextmanager
async def phone_home(
    tmp_path: Path,
    hub_config: dict[str, Any] | None = None,
    *,
    backups: bool = False,
    **relay_kw: Any,
) -> AsyncIterator[PhoneHome]:
    """Start the emulated node, the relay (with three accounts) and the linked hub."""
    node = EchonetNode(bind=NODE_HOST, objects=["aircon", "meter", "solar", "battery"])
    await node.start()
    # The demo's RM4 pro with an IR TV and a Daikin IR air conditioner behind it.
    blaster = demo_emulator(BLASTER_HOST)
    await blaster.start()
    relay = RelayServer(phone_relay_config(tmp_path / "relay", **relay_kw))
    await relay.start()
    home = PhoneHome(
        relay, node, blaster, tmp_path / "hub", extra_config=dict(hub_config or {}), backups=backups
    )
    try:
        for email in (OWNER, MEMBER, STRANGER):
            await relay.create_account(email, PASSWORD)
        await home.start_hub()
        yield home
    finally:
        if home._hub_stack is not None:
            await home.stop_hub()
        await home.stop_relay()
        await blaster.stop()
        await node.stop()


async def bearer_login(relay_url: str, email: str) -> str:
    """A bearer session token (for checks the test makes beside the browser)."""
    async with httpx.AsyncClient(base_url=relay_url, timeout=10) as client:
        r = await client.post("/v1/sessions", json={"email": email, "password": PASSWORD})
        assert r.status_code == 201, r.text
        return str(r.json()["token"])


def deadline(seconds: float) -> float:
    """A monotonic deadline `seconds` from now."""
    return time.monotonic() + seconds

"""`homehub demo`: a whole emulated home on loopback, shown working.

It starts emulators that speak the real protocols (an ECHONET Lite node with six appliances,
a Broadlink RM blaster with an IR TV and air conditioner, an ESPHome board, a Nature Remo with
a TV and an air conditioner behind it), a relay, a hub
configured to reach them and linked to the relay (an account claims it), and a few virtual
devices; then it turns the air conditioner on through the API and, through the relay, reads
what the hub reports, as a phone would. Everything binds to 127.0.x.x: nothing leaves this
machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from hub.app import Hub
from hub.auth import CODE_TTL_S
from hub.cli.demo_home import DemoAddresses, demo_addresses, home_life
from hub.components import default_components
from hub.config import HubConfig
from hub.relay_link.component import RelayLink
from hub.relay_link.demo import claim_for_demo
from relay import RelayConfig
from relay.errors import Conflict
from relay.voice.oauth import OAuthClient
from relay.voice.service import VoiceRelayServer


class _Stoppable:
    """A background task in the list of things the demo stops at the end."""

    def __init__(self, task: asyncio.Task[None]) -> None:
        self._task = task

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class _DemoRelay:
    """The demo relay as `claim_for_demo` uses it; a restarted demo (same --data-dir) finds
    its account already there and logs in to it."""

    def __init__(self, relay: VoiceRelayServer) -> None:
        self._relay = relay

    @property
    def url(self) -> str:
        return self._relay.url

    async def create_account(self, email: str, password: str) -> str:
        try:
            return await self._relay.create_account(email, password)
        except Conflict:
            return ""  # made by an earlier run of this demo

    async def claim(self, email: str, password: str, code: str) -> str:
        return await self._relay.claim(email, password, code)

    async def login(self, email: str, password: str) -> str:
        return await self._relay.login(email, password)


class _Output:
    # With --json, stdout carries only the JSON line; the story goes to stderr.
    quiet = False


def _say(text: str) -> None:
    print(text, file=sys.stderr if _Output.quiet else sys.stdout, flush=True)


@contextlib.asynccontextmanager
async def emulated_home(at: DemoAddresses) -> AsyncIterator[dict[str, Any]]:
    """Start every emulator; yield their addresses and the hub's integration config."""
    from integrations.broadlink.demo import demo_config, demo_emulator
    from integrations.echonet.emulator import EchonetNode
    from integrations.esphome.demo import demo_ir_node
    from integrations.esphome.emulator import EsphomeEmulator
    from integrations.nature_remo.demo import demo_config as remo_config
    from integrations.nature_remo.demo import demo_remo

    echonet = EchonetNode(
        at.echonet_node, ["aircon", "meter", "solar", "battery", "light", "water_heater"]
    )
    # Fixed identities per address block: a restarted demo finds the devices it stored.
    broadlink = demo_emulator(at.broadlink, mac=bytes([0x34, 0xEA, 0x34, 0xDE, 0x00, at.block]))
    esphome = EsphomeEmulator("balcony-sensor", bind=at.esphome, port=0)
    esphome_ir, ir_entry = demo_ir_node(at.esphome_ir, port=0)
    remo = demo_remo(at.remo, instance=f"Remo-DE{at.block:04X}")
    started: list[Any] = []
    try:
        for emulator in (echonet, broadlink, esphome, esphome_ir, remo):
            await emulator.start()
            started.append(emulator)
        ir_entry["port"] = esphome_ir.port
        life = asyncio.create_task(home_life(at, esphome, esphome_ir), name="demo-life")
        started.append(_Stoppable(life))
        yield {
            "emulators": {
                "echonet": f"{at.echonet_node}:3610",
                "broadlink": f"{at.broadlink}:{broadlink.port}",
                "esphome": f"{at.esphome}:{esphome.port}",
                "esphome_ir": f"{at.esphome_ir}:{esphome_ir.port}",
                "nature_remo": remo.url,
            },
            "integrations": {
                "virtual": {},
                "echonet": {
                    "bind": at.echonet_hub,
                    "hosts": [at.echonet_node],
                    "multicast": False,
                    "poll_interval_s": 5.0,
                },
                "broadlink": demo_config(broadlink),
                "esphome": {"devices": [{"host": at.esphome, "port": esphome.port}, ir_entry]},
                "nature_remo": remo_config(remo),
            },
        }
    finally:
        for emulator in reversed(started):
            with contextlib.suppress(Exception):
                await emulator.stop()


async def _wait_for(client: httpx.AsyncClient, predicate: Any, timeout: float) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        devices = (await client.get("/api/v1/devices")).json()["devices"]
        found = predicate(devices)
        if found or loop.time() > deadline:
            return found
        await asyncio.sleep(0.2)


async def _show_it_working(client: httpx.AsyncClient) -> None:
    def aircon(devices: list[dict[str, Any]]) -> Any:
        return next(
            (
                d
                for d in devices
                if d["integration"] == "echonet"
                and "target_temperature" in {p["name"] for p in d["properties"]}
            ),
            None,
        )

    ac = await _wait_for(client, aircon, 15.0)
    devices = (await client.get("/api/v1/devices")).json()["devices"]
    _say(f"\nThe hub knows {len(devices)} devices:")
    for d in devices:
        reported = d["shadow"]["reported"]
        values = ", ".join(f"{k}={v['value']}" for k, v in sorted(reported.items())[:4])
        state = "online" if d["online"] else "offline"
        _say(f"  {d['name'][:28]:28} {d['integration']:11} {state:7} {values}")
    if ac is None:
        _say("\nThe ECHONET air conditioner did not appear; see the log above for why.")
        return
    _say(f"\nTurning on {ac['name']} at 24 °C through the API ...")
    r = await client.put(
        f"/api/v1/devices/{ac['id']}/desired",
        json={"values": {"power": True, "mode": "cool", "target_temperature": 24}},
    )
    command_id = r.json()["command_id"]
    for _ in range(50):
        status = (await client.get(f"/api/v1/commands/{command_id}")).json()
        if status["status"] in ("confirmed", "failed", "expired", "superseded"):
            break
        await asyncio.sleep(0.2)
    shadow = (await client.get(f"/api/v1/devices/{ac['id']}/shadow")).json()
    rep = {k: v["value"] for k, v in shadow["reported"].items()}
    _say(
        f"  command {status['status']}{': ' + status['reason'] if status['reason'] else ''};"
        f" the unit now reports power={rep.get('power')} mode={rep.get('mode')} "
        f"target={rep.get('target_temperature')} room={rep.get('temperature')} °C"
    )


async def run_demo(args: argparse.Namespace) -> int:
    """Run the demo until Ctrl-C (or --duration)."""
    _Output.quiet = bool(args.json)
    with contextlib.ExitStack() as stack:
        data_dir = Path(
            args.data_dir
            or stack.enter_context(tempfile.TemporaryDirectory(prefix="homehub-demo-"))
        )
        at = stack.enter_context(demo_addresses())
        async with emulated_home(at) as home:
            # The demo relay also serves account linking and the Alexa/Google webhooks.
            relay = VoiceRelayServer(
                RelayConfig(data_dir=data_dir / "relay", port=0),
                [OAuthClient("demo-assistant", ("http://127.0.0.1/linked",), None, "demo")],
            )
            await relay.start()
            config = HubConfig(
                data_dir=data_dir,
                name="Demo home",
                api_host="127.0.0.1",
                api_port=args.port,
                advertise=False,
                integrations=home["integrations"],
                relay_url=relay.url,
            )
            hub = Hub(config, components=default_components(config))
            try:
                await hub.start()
                _, token = await hub.auth.create_token("demo")
                link = next(c for c in hub.components if isinstance(c, RelayLink))
                linked = await claim_for_demo(link, _DemoRelay(relay))
                # The phone app: from the relay (sign in with the demo account) and from the
                # hub on the LAN (a one-time pairing code), so a person can try both at once.
                pairing_code = await hub.auth.create_pairing_code()
                info = {
                    "hub_url": hub.url,
                    "token": token,
                    "emulators": home["emulators"],
                    "data_dir": str(data_dir),
                    "phone_url": f"{linked.phone_url}/",
                    "lan_url": f"{hub.url}/",
                    "pairing_code": pairing_code,
                    **linked.to_dict(),
                }
                _say(
                    f"homehub demo is running.\n  API:   {hub.url}/api/v1  (OpenAPI: "
                    f"{hub.url}/api/v1/openapi.json)\n  token: {token}\n  data:  {data_dir}\n"
                    f"  relay: {linked.phone_url}  (account {linked.email}, password "
                    f"{linked.password}; the hub dialled out to it)\n"
                    f"  phone: {linked.phone_url}/  (the phone app through the relay: sign in as "
                    f"{linked.email} / {linked.password})\n"
                    f"  LAN:   {hub.url}/  (the same app from the hub: pairing code "
                    f"{pairing_code}, one use, {CODE_TTL_S / 60:.0f} minutes)\n"
                    f"  voice: POST {linked.phone_url}/v1/alexa and "
                    f"{linked.phone_url}/v1/google/fulfillment (OAuth client 'demo-assistant')"
                )
                for kind, where in home["emulators"].items():
                    _say(f"  emulated {kind:11} at {where}")
                await hub.wait_integrations()
                if args.json:  # once the emulated devices are in, so scripts can use them
                    print(json.dumps(info), flush=True)
                async with httpx.AsyncClient(
                    base_url=hub.url, headers={"Authorization": f"Bearer {token}"}, timeout=10
                ) as client:
                    await _show_it_working(client)
                await _show_the_relay(linked.phone_url, linked.hub_id, linked.token)
                _say(
                    f"\nTry: homehub tui --url {hub.url} --token {token}\n"
                    f"     curl -H 'Authorization: Bearer {token}' {hub.url}/api/v1/devices\n"
                    f"     curl -H 'Authorization: Bearer {linked.token}' "
                    f"{linked.phone_url}/v1/hubs   (as a phone, through the relay)\n"
                    "Ctrl-C stops the demo."
                )
                if args.duration is not None:
                    await asyncio.sleep(args.duration)
                else:
                    await asyncio.Event().wait()
            finally:
                await hub.stop()
                await relay.stop()
    return 0


async def _show_the_relay(relay_url: str, hub_id: str, token: str) -> None:
    """What a phone sees: the hub online, and its devices from the relay's synced copy."""
    async with httpx.AsyncClient(
        base_url=relay_url, headers={"Authorization": f"Bearer {token}"}, timeout=10
    ) as phone:
        hub = (await phone.get(f"/v1/hubs/{hub_id}")).json()
        devices = (await phone.get(f"/v1/hubs/{hub_id}/devices")).json()["devices"]
    state = "online" if hub["online"] else "offline"
    _say(f"\nThrough the relay, a phone sees the hub {state} with {len(devices)} devices.")

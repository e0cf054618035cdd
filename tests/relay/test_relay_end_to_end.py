"""A phone on the relay controls a virtual device on a hub that only ever dialled out."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import httpx
from relay_testkit import Phone, claim_code, eventually, linked_hub

from relay import RelayServer


async def test_phone_controls_device_through_relay(tmp_path: Path, relay: RelayServer) -> None:
    async with linked_hub(tmp_path / "hub", relay.url) as hub:
        phone = await Phone.login(relay.url, "alice@example.org")
        try:
            hub_id = await phone.claim(await claim_code(hub))
            assert hub_id == hub.relay_hub_id

            listing = (await phone.client.get("/v1/hubs")).json()["hubs"]
            assert [(h["hub_id"], h["online"]) for h in listing] == [(hub_id, True)]

            async def lamp_cached() -> dict | None:
                r = await phone.client.get(f"/v1/hubs/{hub_id}/devices/virtual-lamp")
                return r.json() if r.status_code == 200 else None

            lamp = await eventually(lamp_cached, what="lamp in the relay cache")
            assert lamp["shadow"]["reported"]["power"]["value"] is False

            r = await phone.client.put(
                f"/v1/hubs/{hub_id}/devices/virtual-lamp/desired",
                json={"values": {"power": True, "brightness": 35}},
                headers={"Idempotency-Key": "phone-1"},
            )
            assert r.status_code == 202, r.text
            command_id = r.json()["command_id"]

            # The emulated device really applied it, and the relay's cache converged.
            await eventually(lambda: hub.virtual.devices["virtual-lamp"].values["power"] is True)
            assert hub.virtual.devices["virtual-lamp"].applied == [
                {"power": True, "brightness": 35}
            ]

            async def converged() -> bool:
                got = await lamp_cached()
                return bool(got) and got["shadow"]["reported"]["brightness"]["value"] == 35

            await eventually(converged, what="relay cache to converge")

            # The hub's API, proxied: same handlers, the relay account as principal.
            r = await phone.client.get(f"/v1/hubs/{hub_id}/api/commands/{command_id}")
            assert r.status_code == 200, r.text
            assert r.json()["status"] in ("sent", "confirmed")
            r = await phone.client.get(f"/v1/hubs/{hub_id}/api/devices")
            assert {d["id"] for d in r.json()["devices"]} >= {"virtual-lamp", "virtual-heater"}

            # A retried write with the same key is not applied twice.
            r = await phone.client.put(
                f"/v1/hubs/{hub_id}/devices/virtual-lamp/desired",
                json={"values": {"power": True, "brightness": 35}},
                headers={"Idempotency-Key": "phone-1"},
            )
            assert r.status_code == 202
            assert r.json()["command_id"] == command_id
            assert r.json()["replayed"] is True
            assert len(hub.virtual.devices["virtual-lamp"].applied) == 1

            # Claim codes cannot be minted through the relay (only on the LAN).
            r = await phone.client.post(f"/v1/hubs/{hub_id}/api/relay/claim-code")
            assert r.status_code == 403
        finally:
            await phone.close()


async def test_live_events_reach_the_phone(tmp_path: Path, relay: RelayServer) -> None:
    async with linked_hub(tmp_path / "hub", relay.url) as hub:
        phone = await Phone.login(relay.url, "alice@example.org")
        hub_id = await phone.claim(await claim_code(hub))
        url = relay.url.replace("http", "ws") + f"/v1/hubs/{hub_id}/events"
        try:
            async with aiohttp.ClientSession() as session, session.ws_connect(
                url, headers={"Authorization": f"Bearer {phone.token}"}
            ) as ws:
                hello = json.loads((await ws.receive(timeout=10)).data)
                assert hello == {"type": "hello", "hub_id": hub_id, "online": True}
                await hub.virtual.sense("virtual-heater", {"temperature": 23.5})
                while True:
                    event = json.loads((await ws.receive(timeout=10)).data)
                    if event["type"] == "state_changed":
                        break
                assert event["device"] == "virtual-heater"
                assert event["changes"] == {"temperature": 23.5}
        finally:
            await phone.close()


async def test_a_request_the_hub_does_not_answer_is_a_504_and_others_still_pass(
    tmp_path: Path, relay: RelayServer
) -> None:
    async with linked_hub(tmp_path / "hub", relay.url) as hub:
        phone = await Phone.login(relay.url, "alice@example.org")
        hub_id = await phone.claim(await claim_code(hub))
        gate = __import__("asyncio").Event()
        original = hub.link.on_request

        async def slow(request):  # type: ignore[no-untyped-def]
            if request.path.endswith("/rooms"):
                await gate.wait()
            return await original(request)

        hub.link.on_request = slow  # type: ignore[method-assign]
        object.__setattr__(relay, "config", relay.config.with_overrides(request_timeout_s=0.5))
        try:
            r = await phone.client.get(f"/v1/hubs/{hub_id}/api/rooms")
            assert r.status_code == 504
            assert "did not answer" in r.json()["error"]["message"]
            # Others are not delayed: another endpoint answers at once.
            r = await phone.client.get(f"/v1/hubs/{hub_id}/api/health")
            assert r.status_code == 200
        finally:
            gate.set()
            await phone.close()


async def test_demo_wiring_links_and_claims_automatically(
    tmp_path: Path, relay_backend: str
) -> None:
    from relay_testkit import running_relay

    from hub.relay_link import ReconnectLogic, RelayLink, claim_for_demo
    from hub.testing import running_hub
    from integrations.virtual.integration import VirtualIntegration, demo_devices

    async with running_relay(tmp_path / "relay") as relay:
        link = RelayLink(relay.url, reconnect=ReconnectLogic(base_s=0.05, cap_s=0.5))
        async with running_hub(
            tmp_path / "hub", [VirtualIntegration(demo_devices())],
            config={"api_host": "127.0.6.2"}, components=[link],
        ):
            info = await claim_for_demo(link, relay)
            async with httpx.AsyncClient(
                base_url=info.phone_url, headers={"Authorization": f"Bearer {info.token}"}
            ) as phone:
                hubs = (await phone.get("/v1/hubs")).json()["hubs"]
            assert [h["hub_id"] for h in hubs] == [info.hub_id]
            assert info.to_dict()["relay_hub_id"] == info.hub_id


async def test_a_phone_that_stops_reading_delays_no_other_phone(
    tmp_path: Path, relay: RelayServer
) -> None:
    import asyncio
    import time

    from hub.events import NamedEvent

    async with linked_hub(tmp_path / "hub", relay.url) as hub:
        phone = await Phone.login(relay.url, "alice@example.org")
        hub_id = await phone.claim(await claim_code(hub))
        url = relay.url.replace("http", "ws") + f"/v1/hubs/{hub_id}/events"
        headers = {"Authorization": f"Bearer {phone.token}"}
        try:
            async with aiohttp.ClientSession() as session, session.ws_connect(
                url, headers=headers
            ) as stalled, session.ws_connect(url, headers=headers) as live:
                await live.receive(timeout=10)  # hello; `stalled` never reads again
                blob = "x" * 8000
                seen = 0
                deadline = time.monotonic() + 60
                for batch in range(40):
                    for i in range(50):
                        hub.rh.hub.bus.publish(
                            NamedEvent(ts=time.time(), name=f"e{batch}-{i}", data={"b": blob})
                        )
                    # The live phone keeps up batch after batch while the other one is stuck.
                    while True:
                        msg = await live.receive(timeout=max(1.0, deadline - time.monotonic()))
                        event = json.loads(msg.data)
                        if event.get("type") == "named_event":
                            seen += 1
                            if event["name"] == f"e{batch}-49":
                                break
                    await asyncio.sleep(0)
                assert seen == 2000
                assert not stalled.closed
                # The stuck phone really was stuck: its own queue overflowed, nobody else's.
                subs = relay.routing._subs[hub_id]  # type: ignore[attr-defined]
                assert sorted(s.dropped > 0 for s in subs) == [False, True]
        finally:
            await phone.close()

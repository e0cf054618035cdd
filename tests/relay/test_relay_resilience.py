"""Restarts, offline queues, oversized frames, drain: the tunnel heals and limits stay local."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest
from relay_testkit import (
    RELAY_HOST,
    Phone,
    claim_code,
    eventually,
    linked_hub,
    relay_config,
    running_relay,
)

from hub.relay_link import HubIdentity, LinkState, ReconnectLogic, TunnelClient
from relay import RelayServer
from relay import protocol as p


async def _restart(relay: RelayServer) -> RelayServer:
    port = relay.port
    await relay.drain()
    await relay.stop()
    fresh = RelayServer(relay.config.with_overrides(port=port))
    await fresh.start()
    return fresh


async def test_relay_restart_and_offline_queue_applied_exactly_once(
    tmp_path: Path, relay_backend: str
) -> None:
    relay = RelayServer(relay_config(tmp_path / "relay"))
    await relay.start()
    await relay.create_account("alice@example.org", "correct horse battery")
    try:
        async with linked_hub(tmp_path / "hub", relay.url) as hub:
            client = hub.link.client
            assert client is not None
            phone = await Phone.login(relay.url, "alice@example.org")
            hub_id = await phone.claim(await claim_code(hub))
            await phone.close()

            # 1. The relay restarts: the hub comes back by itself.
            sessions = client.sessions
            relay = await _restart(relay)
            await eventually(lambda: client.sessions > sessions and client.connected,
                             what="hub to reconnect after the relay restarted")
            assert hub_id in relay.sessions

            # 2. The hub goes offline; the phone queues writes in order.
            await client.stop()
            await eventually(lambda: hub_id not in relay.sessions, what="hub offline")
            phone = await Phone.login(relay.url, "alice@example.org")
            try:
                listing = (await phone.client.get("/v1/hubs")).json()["hubs"]
                assert listing[0]["online"] is False
                assert listing[0]["last_seen"] > 0
                for i, values in enumerate(({"power": True}, {"brightness": 20},
                                            {"brightness": 80})):
                    r = await phone.client.put(
                        f"/v1/hubs/{hub_id}/devices/virtual-lamp/desired",
                        json={"values": values},
                        headers={"Idempotency-Key": f"offline-{i}"},
                    )
                    assert r.status_code == 202, r.text
                    assert r.json()["queued"] is True
                lamp = hub.virtual.devices["virtual-lamp"]
                assert lamp.applied == []
                # Cached state is still served while the hub is away.
                r = await phone.client.get(f"/v1/hubs/{hub_id}/devices/virtual-lamp")
                assert r.status_code == 200
                assert r.json()["shadow"]["reported"]["power"]["value"] is False

                # 3. The relay restarts while the hub is away, the hub comes back.
                relay = await _restart(relay)
                phone.client.base_url = relay.url
                client.start()
                await eventually(lambda: lamp.values["brightness"] == 80, what="queue applied")

                async def all_delivered() -> bool:
                    q = (await phone.read(f"/v1/hubs/{hub_id}/queue"))["queue"]
                    return [i["status"] for i in q] == ["delivered"] * 3

                await eventually(all_delivered, what="queue marked delivered")
                assert lamp.applied == [{"power": True}, {"brightness": 20}, {"brightness": 80}]

                # 4. Another reconnect replays nothing; redelivering the same item by hand
                # (a relay that crashed before recording delivery) is answered as a replay.
                sessions = client.sessions
                relay = await _restart(relay)
                phone.client.base_url = relay.url
                await eventually(lambda: client.sessions > sessions and client.connected)
                item = (await relay.store.queued(hub_id, ("delivered",)))[0]
                resp = await relay.queue.forward(
                    hub_id, item.account_id, item.device_id, item.body, item.idempotency_key
                )
                assert resp.status == 202
                assert resp.body["replayed"] is True
                # A fresh write behind it: the hub applies a device's writes in order, so once
                # this one is applied, a wrongly repeated apply would already be in the list.
                fresh = await relay.queue.forward(
                    hub_id, item.account_id, item.device_id, {"values": {"brightness": 55}},
                    "after-the-replay"
                )
                assert fresh.status == 202
                await eventually(lambda: lamp.applied[-1:] == [{"brightness": 55}],
                                 what="the write after the replay applied")
                assert lamp.applied == [{"power": True}, {"brightness": 20}, {"brightness": 80},
                                        {"brightness": 55}]
            finally:
                await phone.close()
    finally:
        await relay.stop()


class _Echo:
    """A minimal tunnel handler: answers every request with its path."""

    async def on_welcome(self, client: TunnelClient, welcome: p.Welcome) -> None:
        await client.send(p.ResyncDone(()))

    async def on_request(self, request: p.Request) -> p.Response:
        return p.Response(request.id, 200, {"path": request.path})

    def on_disconnected(self) -> None:
        pass


@pytest.mark.parametrize("excess", [10, 3 * 64 * 1024], ids=["just-over", "over-twice"])
async def test_oversized_frame_closes_only_that_tunnel(
    tmp_path: Path, excess: int, relay_backend: str
) -> None:
    limit = 64 * 1024
    async with running_relay(tmp_path / "relay", max_frame_bytes=limit) as relay:
        clients = [
            TunnelClient(
                relay.url, HubIdentity.generate(), _Echo(),
                reconnect=ReconnectLogic(base_s=5, cap_s=5),
            )
            for _ in range(3)
        ]
        for c in clients:
            c.start()
        try:
            for c in clients:
                await c.wait_connected(15)
            bad, *good = clients
            frame = p.encode(
                p.EventFrame({"type": "named_event", "blob": "x" * (limit + excess)})
            )
            await bad.send_raw(frame)
            await eventually(lambda: bad.state is not LinkState.CONNECTED, what="bad tunnel closed")
            assert "1009" in bad.last_error
            assert "limit" in bad.last_error
            routing = relay.routing
            for c in good:
                assert c.connected
                resp = await routing.call(
                    c.relay_hub_id, p.Request(0, "GET", "/api/v1/health"), timeout=10
                )
                assert resp.body == {"path": "/api/v1/health"}
        finally:
            for c in clients:
                await c.stop()


class _RecordingLogic(ReconnectLogic):
    def __init__(self) -> None:
        super().__init__(base_s=0.05, cap_s=5.0)
        self.hints: list[float] = []

    def hint(self, delay_s: float) -> None:
        self.hints.append(delay_s)
        super().hint(delay_s)


async def test_drain_spreads_reconnects_and_refuses_new_tunnels(
    tmp_path: Path, relay_backend: str
) -> None:
    async with running_relay(tmp_path / "relay", drain_spread_s=2.0) as relay:
        logics = [_RecordingLogic() for _ in range(20)]
        clients = [
            TunnelClient(relay.url, HubIdentity.generate(), _Echo(), reconnect=logic)
            for logic in logics
        ]
        for c in clients:
            c.start()
        try:
            for c in clients:
                await c.wait_connected(15)
            await relay.drain()
            await eventually(lambda: not relay.sessions, what="tunnels closed")
            async with aiohttp.ClientSession() as session:
                with pytest.raises(aiohttp.WSServerHandshakeError) as err:
                    await session.ws_connect(relay.tunnel_url)
                assert err.value.status == 503
                assert err.value.headers is not None and "Retry-After" in err.value.headers
            # Each hub was told its own delay within the spread: no single wave on return.
            hints = [logic.hints[0] for logic in logics]
            assert all(0 <= h <= 2.0 for h in hints)
            assert len(set(hints)) >= 15
            assert max(hints) - min(hints) > 0.5
        finally:
            for c in clients:
                await c.stop()


async def test_admission_rate_is_bounded(tmp_path: Path, relay_backend: str) -> None:
    async with running_relay(tmp_path / "relay", admit_rate=5.0, admit_burst=3.0) as relay:
        statuses = []
        async with aiohttp.ClientSession() as session:
            for _ in range(8):
                try:
                    ws = await session.ws_connect(relay.tunnel_url)
                    statuses.append(101)
                    await ws.close()
                except aiohttp.WSServerHandshakeError as err:
                    statuses.append(err.status)
        assert statuses[:3] == [101, 101, 101]
        assert 503 in statuses[3:]
        assert RELAY_HOST in relay.url


async def test_cache_resyncs_after_a_gap(tmp_path: Path, relay_backend: str) -> None:
    async with running_relay(tmp_path / "relay") as relay:
        await relay.create_account("alice@example.org", "correct horse battery")
        async with linked_hub(tmp_path / "hub", relay.url) as hub:
            client = hub.link.client
            assert client is not None
            phone = await Phone.login(relay.url, "alice@example.org")
            try:
                hub_id = await phone.claim(await claim_code(hub))

                async def cached() -> dict:
                    doc = await phone.read(f"/v1/hubs/{hub_id}/devices")
                    return {d["id"]: d for d in doc["devices"]}

                await eventually(lambda: _has(cached(), "virtual-motion"), what="first sync")
                await client.stop()
                await eventually(lambda: hub_id not in relay.sessions, what="hub offline")
                # While the link is down: a reading changes, a device is removed, one renamed.
                await hub.virtual.sense("virtual-heater", {"temperature": 30.5})
                await hub.rh.hub.registry.remove("virtual-motion")
                await hub.rh.hub.registry.update("virtual-lamp", "Desk lamp", None)
                stale = await cached()
                assert stale["virtual-heater"]["shadow"]["reported"]["temperature"]["value"] == 18.5
                client.start()

                async def converged() -> bool:
                    now = await cached()
                    return (
                        "virtual-motion" not in now
                        and now["virtual-lamp"]["name"] == "Desk lamp"
                        and now["virtual-heater"]["shadow"]["reported"]["temperature"]["value"]
                        == 30.5
                    )

                await eventually(converged, what="cache to converge after the gap")
            finally:
                await phone.close()


async def _has(devices: object, device_id: str) -> bool:
    return device_id in await devices  # type: ignore[misc]


async def test_queued_write_past_its_ttl_is_never_applied(
    tmp_path: Path, relay_backend: str
) -> None:
    async with running_relay(tmp_path / "relay") as relay:
        await relay.create_account("alice@example.org", "correct horse battery")
        async with linked_hub(tmp_path / "hub", relay.url) as hub:
            client = hub.link.client
            assert client is not None
            phone = await Phone.login(relay.url, "alice@example.org")
            try:
                hub_id = await phone.claim(await claim_code(hub))
                await client.stop()
                await eventually(lambda: hub_id not in relay.sessions, what="hub offline")
                r = await phone.client.put(
                    f"/v1/hubs/{hub_id}/devices/virtual-lamp/desired",
                    json={"values": {"power": True}, "ttl_s": 0.2},
                )
                assert r.status_code == 202 and r.json()["queued"] is True
                expires_at = r.json()["expires_at"]
                r = await phone.client.put(
                    f"/v1/hubs/{hub_id}/devices/virtual-lamp/desired",
                    json={"values": {"brightness": 5}, "ttl_s": 600},
                )
                assert r.status_code == 202
                # The first write's time-to-live passes while the hub is offline.
                await eventually(lambda: time.time() > expires_at, what="ttl to pass")
                client.start()
                lamp = hub.virtual.devices["virtual-lamp"]
                await eventually(lambda: lamp.values["brightness"] == 5, what="live write applied")

                async def statuses() -> list[str]:
                    q = (await phone.read(f"/v1/hubs/{hub_id}/queue"))["queue"]
                    return [i["status"] for i in q]

                await eventually(
                    lambda: _eq(statuses(), ["expired", "delivered"]), what="queue settled"
                )
                assert lamp.applied == [{"brightness": 5}]
                assert lamp.values["power"] is False
            finally:
                await phone.close()


async def _eq(value: object, want: object) -> bool:
    return await value == want  # type: ignore[misc]


async def test_claim_code_needs_the_relay_link(tmp_path: Path, relay_backend: str) -> None:
    async with running_relay(tmp_path / "relay") as relay, linked_hub(
        tmp_path / "hub", relay.url
    ) as hub:
        assert hub.link.client is not None
        await hub.link.client.stop()
        r = await hub.rh.client.post("/api/v1/relay/claim-code")
        assert r.status_code == 503
        assert "not connected to the relay" in r.json()["error"]["message"]
        status = (await hub.rh.client.get("/api/v1/relay/status")).json()
        assert status["state"] == "stopped"
        assert status["relay_hub_id"] == hub.relay_hub_id


async def test_a_stopped_relay_leaves_no_queue_task_behind(tmp_path: Path,
                                                           relay_backend: str) -> None:
    def sweepers() -> list[asyncio.Task[object]]:
        return [t for t in asyncio.all_tasks()
                if t.get_name() == "relay-queue-sweep" and not t.done()]

    async with running_relay(tmp_path / "relay"):
        assert len(sweepers()) == 1  # a lost cross-node "queue" notice is made good by it
    assert sweepers() == []  # stop() waits for it to end, not only asks
